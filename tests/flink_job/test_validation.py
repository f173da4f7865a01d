"""The job's validation SQL, run by a real (local) Flink on payloads of every malformed kind."""

from __future__ import annotations

import json

import pytest

from flink_job.settings import JobSettings
from flink_job.validation import function_ddl, parse_sql, reject_reason_sql, rowtime_sql

pytestmark = pytest.mark.slow

KAFKA_TS_MS = 1_764_000_000_000
GOOD = {
    "event_id": "e-1",
    "user_id": "u-1",
    "session_id": "s-1",
    "seq": 1,
    "prev": "other-search",
    "curr": "Zürich",
    "type": "external",
    "event_time_ms": KAFKA_TS_MS - 1000,
}


def _with(**changes: object) -> str:
    payload = dict(GOOD)
    for key, value in changes.items():
        if value is ...:
            del payload[key]
        else:
            payload[key] = value
    return json.dumps(payload, ensure_ascii=False)


CASES: list[tuple[str, str | None]] = [
    (_with(), None),
    (_with(prev="Ada_Lovelace", type="link", curr="東京都"), None),
    ("not json at all", "not a JSON object"),
    ("[1, 2, 3]", "not a JSON object"),
    ('{"event_id": "e-1", ', "not a JSON object"),
    (_with() + " trailing", "not a JSON object"),
    ("", "empty message"),
    (_with()[:-1] + ', "seq": 2}', "duplicate field"),
    ("x" * 20000, "oversized message (over 16384 characters)"),
    (_with(event_id=...), "missing field: event_id"),
    (_with(user_id=None), "missing field: user_id"),
    (_with(event_id=42), "mistyped field: event_id (expected string)"),
    (_with(seq="1"), "mistyped field: seq (expected integer)"),
    (_with(seq=1.5), "mistyped field: seq (expected integer)"),
    (_with(seq=12345678901), "mistyped field: seq (expected integer)"),
    (_with(event_time_ms="yesterday"), "mistyped field: event_time_ms (expected integer)"),
    (_with(curr=""), "empty field: curr"),
    (_with(curr="A" * 600), "oversized field: curr"),
    (_with(type="click"), "unknown type"),
    (_with(seq=0), "out of range: seq"),
    (_with(event_time_ms=1000), "out of range: event_time_ms (too old)"),
    (_with(event_time_ms=KAFKA_TS_MS + 3_600_000), "out of range: event_time_ms (in the future)"),
]


@pytest.fixture(scope="module")
def t_env():
    from pyflink.table import EnvironmentSettings, TableEnvironment

    env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    env.get_config().set("table.local-time-zone", "UTC")
    env.get_config().set("parallelism.default", "1")
    env.get_config().set("pipeline.jars", ";".join(JobSettings(POSTGRES_WRITER_PASSWORD="unused").jar_uris()))
    env.execute_sql(function_ddl())
    return env


def test_every_malformed_kind_gets_its_reason_and_valid_events_pass(t_env) -> None:
    from pyflink.table import DataTypes

    rows = [(i, payload) for i, (payload, _) in enumerate(CASES)]
    source = t_env.from_elements(
        rows, DataTypes.ROW([DataTypes.FIELD("id", DataTypes.INT()), DataTypes.FIELD("payload", DataTypes.STRING())])
    )
    t_env.create_temporary_view("payloads", source)
    query = f"""
        SELECT id, {reject_reason_sql("parsed", "kafka_ts")} AS reason,
               CAST({rowtime_sql("parsed", "kafka_ts")} AS TIMESTAMP(3)) AS rowtime
        FROM (
            SELECT id, kafka_ts, {parse_sql(16384)} AS parsed
            FROM (SELECT id, payload, TO_TIMESTAMP_LTZ({KAFKA_TS_MS}, 3) AS kafka_ts FROM payloads)
        )
    """
    with t_env.execute_sql(query).collect() as results:
        got = {row[0]: (row[1], row[2]) for row in results}
    assert {i: got[i][0] for i in got} == {i: reason for i, (_, reason) in enumerate(CASES)}
    # A plausible payload time is the event time; a future one falls back to the Kafka time.
    valid_time = got[0][1]
    future_time = got[len(CASES) - 1][1]
    assert int(valid_time.timestamp() * 1000) == GOOD["event_time_ms"]
    assert int(future_time.timestamp() * 1000) == KAFKA_TS_MS
