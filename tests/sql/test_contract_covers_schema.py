"""Every value the job passes must be storable: the event contract covers what PostgreSQL's catalog demands.

Read from the catalog of a real database with sql/ applied: for every column of every table the job
writes, its type, NOT NULL, each CHECK constraint and each index entry's size limit, and compared
with the bounds of the contract field that feeds it (wikistream/events.py). A new constraint in
sql/ that the contract does not cover fails here, before a message can fail a write.
"""

from __future__ import annotations

import re
from contextlib import closing

import psycopg2

from flink_job.pipeline import sink_ddls
from flink_job.settings import JobSettings
from wikistream.events import EVENT_FIELDS, FieldSpec

CONTRACT = {spec.name: spec for spec in EVENT_FIELDS}
# Which contract field feeds which column. Every other column of a job table is computed by the job
# itself (positions, times, counts, categories) and listed in COMPUTED.
FED_BY = {
    ("clicks", "event_id"): "event_id",
    ("clicks", "user_id"): "user_id",
    ("clicks", "session_id"): "session_id",
    ("clicks", "seq"): "seq",
    ("clicks", "prev"): "prev",
    ("clicks", "curr"): "curr",
    ("clicks", "link_type"): "type",
    ("clicks", "event_time"): "event_time_ms",
    ("late_events", "event_id"): "event_id",
    ("late_events", "event_time"): "event_time_ms",
    ("clicks_per_minute_article", "article"): "curr",
    ("session_stats", "session_id"): "session_id",
    ("session_stats", "user_id"): "user_id",
    # The page numbers seen, an array of seq values.
    ("session_stats", "seqs"): "seq",
    ("session_stats", "first_event"): "event_time_ms",
    ("session_stats", "last_event"): "event_time_ms",
}
COMPUTED = {
    "clicks": {"referrer_class", "kafka_partition", "kafka_offset", "ingested_at"},
    "rejected_events": {"kafka_partition", "kafka_offset", "reason", "raw_payload", "received_at"},
    "refused_rows": {"table_name", "row_key", "row_data", "reason", "refused_at"},
    "late_events": {"watermark", "received_at"},
    "clicks_per_minute_article": {"window_start", "clicks"},
    "clicks_per_minute_referrer": {"window_start", "referrer_class", "clicks"},
    "clicks_per_minute_country": {"window_start", "country", "clicks"},
    "session_stats": {"pages", "duration_s"},
}
INTEGER_RANGES = {"integer": (-(2**31), 2**31 - 1), "bigint": (-(2**63), 2**63 - 1)}
# PostgreSQL's timestamptz range in epoch ms (4713 BC .. 294276 AD), rounded inwards.
TIMESTAMPTZ_MS = (-210_000_000_000_000, 9_224_000_000_000_000)
# The largest btree entry PostgreSQL accepts with the default 8 KiB page (a third of a page).
BTREE_MAX_BYTES = 2704


def job_tables() -> set[str]:
    settings = JobSettings(POSTGRES_WRITER_PASSWORD="unused")
    return {re.search(r"CREATE TEMPORARY TABLE sink_(\w+)", ddl).group(1) for ddl in sink_ddls(settings)} | {
        "refused_rows"
    }


def catalog(dsn: str) -> tuple[dict, list, list]:
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(
            # An array column is judged by its elements' type.
            "SELECT table_name, column_name, CASE WHEN data_type = 'ARRAY' THEN format_type(e.oid, NULL)"
            " ELSE data_type END, is_nullable FROM information_schema.columns c"
            " LEFT JOIN pg_type e ON c.data_type = 'ARRAY' AND e.typarray = (c.udt_name::regtype)::oid"
            " WHERE table_schema = 'public'"
        )
        columns = {(table, column): (kind, nullable == "YES") for table, column, kind, nullable in cur.fetchall()}
        cur.execute(
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE contype = 'c' AND connamespace = 'public'::regnamespace"
        )
        checks = cur.fetchall()
        cur.execute(
            "SELECT t.relname, array_agg(a.attname ORDER BY a.attnum) FROM pg_index i"
            " JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class x ON x.oid = i.indexrelid"
            " JOIN pg_am am ON am.oid = x.relam AND am.amname = 'btree'"
            " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey)"
            " WHERE t.relnamespace = 'public'::regnamespace GROUP BY t.relname, i.indexrelid"
        )
        indexes = cur.fetchall()
    return columns, checks, indexes


def _covers_type(spec: FieldSpec, pg_type: str) -> str | None:
    """Why values of this field may not fit a column of this type (None: they always fit)."""
    if pg_type == "text":
        # Contract strings hold no control character (so no NUL) and no lone surrogate.
        return None if spec.kind == "string" else f"{spec.name} is {spec.kind}, the column text"
    if spec.kind != "integer":
        return f"{spec.name} is a string, the column {pg_type}"
    low, high = TIMESTAMPTZ_MS if pg_type == "timestamp with time zone" else INTEGER_RANGES.get(pg_type, (0, -1))
    if not low <= spec.minimum <= spec.maximum <= high:
        return f"{spec.name} in [{spec.minimum}, {spec.maximum}] does not fit {pg_type} [{low}, {high}]"
    return None


def _covers_check(definition: str, table: str) -> str | None:
    """Why the contract does not guarantee this CHECK constraint (None: it does)."""
    bound = re.fullmatch(r"CHECK \(\((\w+) (>=|>|<=|<) (-?\d+)\)\)", definition)
    if bound:
        column, op, value = bound.group(1), bound.group(2), int(bound.group(3))
        spec = CONTRACT.get(FED_BY.get((table, column), ""))
        if spec is None or spec.kind != "integer":
            return f"{definition}: no integer contract field feeds {table}.{column}"
        holds = {
            ">=": spec.minimum >= value,
            ">": spec.minimum > value,
            "<=": spec.maximum <= value,
            "<": spec.maximum < value,
        }[op]
        return None if holds else f"{definition}: {spec.name} allows [{spec.minimum}, {spec.maximum}]"
    listed = re.fullmatch(r"CHECK \(\((\w+) = ANY \(ARRAY\[(.*)\]\)\)\)", definition)
    if listed:
        column = listed.group(1)
        allowed = set(re.findall(r"'((?:[^']|'')*)'::text", listed.group(2)))
        spec = CONTRACT.get(FED_BY.get((table, column), ""))
        if spec is None or not spec.allowed:
            return f"{definition}: no contract field with allowed values feeds {table}.{column}"
        extra = set(spec.allowed) - allowed
        return f"{definition}: the contract also allows {sorted(extra)}" if extra else None
    return f"{definition}: a kind of constraint this test cannot read; cover it in the contract and here"


def test_the_contract_covers_every_column_constraint_and_index_of_the_job_tables(postgres_dsn: str) -> None:
    tables = job_tables()
    columns, checks, indexes = catalog(postgres_dsn)
    problems = []
    for table in sorted(tables):
        table_columns = {column for t, column in columns if t == table}
        assert table_columns, f"{table} is written by the job but missing from sql/"
        for column in sorted(table_columns):
            pg_type, nullable = columns[(table, column)]
            field = FED_BY.get((table, column))
            if field is None:
                if column not in COMPUTED.get(table, set()):
                    problems.append(f"{table}.{column}: neither fed by a contract field nor computed by the job")
                continue
            reason = _covers_type(CONTRACT[field], pg_type)
            if reason:
                problems.append(f"{table}.{column}: {reason}")
    for table, definition in checks:
        if table in tables:
            reason = _covers_check(definition, table)
            if reason:
                problems.append(f"{table}: {reason}")
    for table, index_columns in indexes:
        if table in tables:
            fed = [CONTRACT[FED_BY[(table, c)]] for c in index_columns if (table, c) in FED_BY]
            # Four bytes per code point at most, plus the other (fixed-size) columns' 8 bytes each.
            worst = sum(4 * spec.max_chars if spec.kind == "string" else 8 for spec in fed)
            worst += 8 * (len(index_columns) - len(fed))
            if worst > BTREE_MAX_BYTES:
                problems.append(f"{table} index on {index_columns}: entries up to {worst} bytes > {BTREE_MAX_BYTES}")
    assert not problems, "\n".join(problems)
