"""The job's tables and statements: where a Kafka message becomes a row.

  kafka_clicks (raw payload + headers + partition/offset/timestamp)
    -> parsed_clicks      the payload parsed once (JSON_FIELDS, flink_job/functions)
    -> checked            every message with its reject reason (NULL when valid); valid ticks
                          (the producer's heartbeats, flink_job/validation.py) only move event time
    -> rejected_events    messages with a reason, with their payload and Kafka position
    -> valid_clicks       typed clicks, event time + watermark
         -> clicks                      upsert on (event_id, event_time) (replays overwrite)
Every sink is wikistream-jdbc (flink_job/functions): a row PostgreSQL refuses goes to
rejected_events (with its Kafka position and raw bytes) or refused_rows, and the rest lands.
         -> late_events                 clicks behind the watermark (counted, not lost silently)
         -> on_time_clicks: the others, so every click is in exactly one of late_events and:
         -> clicks_per_minute_article   1-minute event-time windows
         -> clicks_per_minute_referrer
         -> clicks_per_minute_country   lookup join on users (cached)
         -> session_stats               per-session aggregate, merged into its row at most every
                                        SESSION_STATS_FLUSH_INTERVAL (SESSION_MERGE)
"""

from __future__ import annotations

from flink_job.settings import JobSettings
from flink_job.validation import field_sql, is_tick_sql, parse_sql, reject_reason_sql, rowtime_sql, sql_string
from wikistream.events import INTERNAL_LINK_CLASS, REFERRER_CLASSES

EVENTS_QUARANTINE = "rejected_events"
ROWS_QUARANTINE = "refused_rows"

# What a session_stats write does with the row it meets: it merges, never overwrites. The pages are
# the distinct page numbers (seq) of both, the first and last clicks the earliest and latest of both.
# Merging is idempotent and order-free, so a replay changes nothing, and a session whose state the job
# dropped (SESSION_STATE_TTL: a stop or a suspend longer than that) or lost goes on where its row is
# instead of starting over at its next click.
_MERGED_SEQS = "unnest(session_stats.seqs || EXCLUDED.seqs) AS s"
_FIRST = "LEAST(session_stats.first_event, EXCLUDED.first_event)"
_LAST = "GREATEST(session_stats.last_event, EXCLUDED.last_event)"
SESSION_MERGE = (
    "DO UPDATE SET user_id = EXCLUDED.user_id,"
    f" seqs = ARRAY(SELECT DISTINCT s FROM {_MERGED_SEQS} ORDER BY s),"
    f" pages = (SELECT count(DISTINCT s) FROM {_MERGED_SEQS}),"
    f" first_event = {_FIRST}, last_event = {_LAST},"
    # Whole seconds, as the job's TIMESTAMPDIFF counts them.
    f" duration_s = floor(EXTRACT(EPOCH FROM {_LAST} - {_FIRST}))"
)


def _options(options: dict[str, str]) -> str:
    return ",\n    ".join(f"{sql_string(key)} = {sql_string(value)}" for key, value in options.items())


def _sink_options(settings: JobSettings, table: str) -> dict[str, str]:
    return {
        "connector": "wikistream-jdbc",
        "url": settings.sink_url,
        "table-name": table,
        "username": settings.postgres_user,
        "password": settings.postgres_password,
        "sink.buffer-flush.max-rows": str(settings.sink_batch_rows),
        "sink.buffer-flush.interval": settings.sink_flush_interval,
        "sink.max-retries": str(settings.sink_max_retries),
        "sink.retry-backoff": settings.sink_retry_backoff,
        "sink.row-retries": str(settings.sink_row_retries),
        "quarantine.events-table": EVENTS_QUARANTINE,
        "quarantine.rows-table": ROWS_QUARANTINE,
    }


def source_ddl(settings: JobSettings) -> str:
    kafka = {
        "connector": "kafka",
        "topic": settings.kafka_topic,
        "properties.bootstrap.servers": settings.kafka_bootstrap_servers,
        "properties.group.id": settings.kafka_group_id,
        "scan.startup.mode": "group-offsets",
        "properties.auto.offset.reset": "earliest",
        # Raw bytes in, so a message that is not valid JSON is still seen (and quarantined).
        "format": "raw",
    }
    return f"""
CREATE TEMPORARY TABLE kafka_clicks (
    payload BYTES,
    kafka_partition INT METADATA FROM 'partition' VIRTUAL,
    kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL,
    kafka_ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
    headers MAP<STRING, BYTES> METADATA FROM 'headers' VIRTUAL,
    event_time AS {rowtime_sql(f"({parse_sql(settings.max_event_bytes)})", "kafka_ts", "payload", "headers")},
    proc_time AS PROCTIME(),
    WATERMARK FOR event_time AS event_time - INTERVAL '{settings.watermark_delay_s}' SECOND
) WITH (
    {_options(kafka)}
)"""


def _sink_ddl(settings: JobSettings, table: str, columns: str, key: str, extra: dict[str, str] | None = None) -> str:
    return f"""
CREATE TEMPORARY TABLE sink_{table} (
    {columns},
    PRIMARY KEY ({key}) NOT ENFORCED
) WITH (
    {_options(_sink_options(settings, table) | (extra or {}))}
)"""


def sink_ddls(settings: JobSettings) -> list[str]:
    minute = "window_start TIMESTAMP(3), {dim} STRING, clicks BIGINT"
    return [
        _sink_ddl(
            settings,
            "clicks",
            "event_id STRING, user_id STRING, session_id STRING, seq INT, `prev` STRING, curr STRING, "
            "link_type STRING, referrer_class STRING, event_time TIMESTAMP(3), kafka_partition INT, "
            "kafka_offset BIGINT, ingested_at TIMESTAMP(3), raw_payload BYTES, received_at TIMESTAMP(3)",
            # The partition column is part of every key (sql/002_tables.sql).
            "event_id, event_time",
            # Carried for the quarantine only: a click PostgreSQL refuses keeps its original bytes and
            # the time Kafka received it (rejected_events' key and day).
            {
                "sink.carried-columns": "raw_payload;received_at",
                "quarantine.payload-column": "raw_payload",
                "quarantine.received-column": "received_at",
            },
        ),
        _sink_ddl(
            settings,
            "rejected_events",
            "kafka_partition INT, kafka_offset BIGINT, reason STRING, raw_payload BYTES, received_at TIMESTAMP(3)",
            "kafka_partition, kafka_offset, received_at",
            {"quarantine.payload-column": "raw_payload", "quarantine.received-column": "received_at"},
        ),
        _sink_ddl(
            settings,
            "late_events",
            "event_id STRING, event_time TIMESTAMP(3), `watermark` TIMESTAMP(3), received_at TIMESTAMP(3)",
            "event_id, event_time",
        ),
        _sink_ddl(settings, "clicks_per_minute_article", minute.format(dim="article"), "window_start, article"),
        _sink_ddl(
            settings, "clicks_per_minute_referrer", minute.format(dim="referrer_class"), "window_start, referrer_class"
        ),
        _sink_ddl(settings, "clicks_per_minute_country", minute.format(dim="country"), "window_start, country"),
        _sink_ddl(
            settings,
            "session_stats",
            "session_id STRING, user_id STRING, pages BIGINT, first_event TIMESTAMP(3), last_event TIMESTAMP(3), "
            "duration_s DOUBLE, seqs ARRAY<INT>",
            "session_id",
            {
                "sink.buffer-flush.interval": settings.session_flush_interval,
                "sink.buffer-flush.max-rows": str(settings.session_buffer_rows),
                "sink.on-conflict": SESSION_MERGE,
            },
        ),
    ]


def users_ddl(settings: JobSettings) -> str:
    options = {
        "connector": "jdbc",
        "url": settings.jdbc_url,
        "table-name": "users",
        "username": settings.postgres_user,
        "password": settings.postgres_password,
        # Enrichment must not query PostgreSQL per event: users are cached after the first lookup.
        "lookup.cache": "PARTIAL",
        "lookup.partial-cache.max-rows": str(settings.user_cache_rows),
        "lookup.partial-cache.expire-after-write": settings.user_cache_ttl,
        "lookup.partial-cache.cache-missing-key": "true",
        "lookup.max-retries": "3",
    }
    return f"""
CREATE TEMPORARY TABLE users_dim (
    user_id STRING,
    country STRING,
    PRIMARY KEY (user_id) NOT ENFORCED
) WITH (
    {_options(options)}
)"""


def _referrer_class_sql() -> str:
    whens = " ".join(
        f"WHEN `prev` = {sql_string(prev)} THEN {sql_string(label)}" for prev, label in REFERRER_CLASSES.items()
    )
    return f"CASE {whens} WHEN link_type = 'link' THEN {sql_string(INTERNAL_LINK_CLASS)} ELSE 'other' END"


def view_ddls(settings: JobSettings) -> list[str]:
    parsed = f"""
CREATE TEMPORARY VIEW parsed_clicks AS
SELECT payload, headers, kafka_partition, kafka_offset, kafka_ts, event_time, proc_time,
    {is_tick_sql("headers")} AS is_tick, {parse_sql(settings.max_event_bytes)} AS parsed
FROM kafka_clicks"""
    checked = f"""
CREATE TEMPORARY VIEW checked AS
SELECT *, {reject_reason_sql("parsed", "kafka_ts", "payload", "headers")} AS reject_reason
FROM parsed_clicks"""
    typed = f"""
CREATE TEMPORARY VIEW typed_clicks AS
SELECT
    {field_sql("parsed", "event_id")} AS event_id,
    {field_sql("parsed", "user_id")} AS user_id,
    {field_sql("parsed", "session_id")} AS session_id,
    {field_sql("parsed", "seq", "INT")} AS seq,
    {field_sql("parsed", "prev")} AS `prev`,
    {field_sql("parsed", "curr")} AS curr,
    {field_sql("parsed", "type")} AS link_type,
    event_time, proc_time, kafka_partition, kafka_offset, kafka_ts, payload
FROM checked
WHERE reject_reason IS NULL AND NOT is_tick"""
    valid = f"""
CREATE TEMPORARY VIEW valid_clicks AS
SELECT *, {_referrer_class_sql()} AS referrer_class
FROM typed_clicks"""
    # The complement of late_events' condition: a click is counted in the windows or listed as late,
    # judged on the same watermark at the same place, so never both and never neither.
    on_time = """
CREATE TEMPORARY VIEW on_time_clicks AS
SELECT *
FROM valid_clicks
WHERE CURRENT_WATERMARK(event_time) IS NULL OR event_time >= CURRENT_WATERMARK(event_time)"""
    enriched = """
CREATE TEMPORARY VIEW enriched_clicks AS
SELECT c.event_id, c.event_time, COALESCE(u.country, 'unknown') AS country
FROM on_time_clicks AS c
LEFT JOIN users_dim FOR SYSTEM_TIME AS OF c.proc_time AS u
ON c.user_id = u.user_id"""
    return [parsed, checked, typed, valid, on_time, enriched]


def _per_minute(table: str, source: str, dim_expr: str) -> str:
    return f"""
INSERT INTO sink_{table}
SELECT window_start, {dim_expr}, COUNT(*)
FROM TABLE(TUMBLE(TABLE {source}, DESCRIPTOR(event_time), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, {dim_expr}"""


def insert_statements() -> list[str]:
    now = "CAST(CURRENT_TIMESTAMP AS TIMESTAMP(3))"
    # When Kafka received the message: the broker stamps it (LogAppendTime), so a replay repeats it.
    received = "CAST(kafka_ts AS TIMESTAMP(3))"
    return [
        f"""
INSERT INTO sink_clicks
SELECT event_id, user_id, session_id, seq, `prev`, curr, link_type, referrer_class,
    CAST(event_time AS TIMESTAMP(3)), kafka_partition, kafka_offset, {now}, payload, {received}
FROM valid_clicks""",
        f"""
INSERT INTO sink_rejected_events
SELECT kafka_partition, kafka_offset, reject_reason, payload, {received}
FROM checked
WHERE reject_reason IS NOT NULL""",
        f"""
INSERT INTO sink_late_events
SELECT event_id, CAST(event_time AS TIMESTAMP(3)), CAST(CURRENT_WATERMARK(event_time) AS TIMESTAMP(3)), {now}
FROM valid_clicks
WHERE event_time < CURRENT_WATERMARK(event_time)""",
        _per_minute("clicks_per_minute_article", "on_time_clicks", "curr"),
        _per_minute("clicks_per_minute_referrer", "on_time_clicks", "referrer_class"),
        _per_minute("clicks_per_minute_country", "enriched_clicks", "country"),
        # ARRAY_AGG keeps arrival order, which a replay after a failover reorders, and a session's first
        # write is an INSERT that stores the array as sent: sorted here, as the merge sorts.
        """
INSERT INTO sink_session_stats
SELECT session_id, MAX(user_id), COUNT(DISTINCT seq),
    CAST(MIN(event_time) AS TIMESTAMP(3)), CAST(MAX(event_time) AS TIMESTAMP(3)),
    TIMESTAMPDIFF(SECOND, MIN(event_time), MAX(event_time)) * 1.0, ARRAY_SORT(ARRAY_AGG(DISTINCT seq))
FROM valid_clicks
GROUP BY session_id""",
    ]
