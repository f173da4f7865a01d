"""SQL that classifies each raw Kafka message as a valid click or a rejected one, with a reason.

The payload (raw bytes) is parsed once, by the JVM function JSON_FIELDS (flink_job/functions),
which checks it against the whole contract of wikistream/events.py: strict UTF-8, a JSON object,
every field present with its kind, and every bound that makes the value storable (lengths,
characters, allowed values, integer ranges). The one rule left to SQL is relative to the message's
arrival: an event may not lie too far in the future. Nothing here runs Python per event.

A message with the TICK_HEADER header (wikistream/events.py) is a tick, not a click: the producer's
heartbeat to every partition. A valid tick only moves event time (the watermark), so the minute
windows close on schedule even when a partition gets no click; an invalid one is rejected like any
message. Time comes only from
valid clicks and valid ticks: anything rejected is stamped at the epoch, which moves no watermark.
"""

from __future__ import annotations

from wikistream.events import EVENT_FIELDS, MAX_EVENT_TIME_MS, MIN_EVENT_TIME_MS, TICK_HEADER

PAYLOAD = "payload"
FUNCTION_NAME = "JSON_FIELDS"
FUNCTION_CLASS = "io.wikistream.flink.JsonFields"
# How far ahead of the Kafka record time an event may be: one from the future would drag the
# watermark forward for everyone.
MAX_LEAD = "INTERVAL '5' MINUTE"
FUTURE_REASON = "out of range: event_time_ms (in the future)"
TICK_REASONS = {
    "payload": "tick: carries a payload",
    "time": "tick: header is not a time in epoch ms",
    "range": "tick: out of range",
    "future": "tick: in the future",
}
# The rowtime of a message that carries no time of its own: earlier than every watermark.
NO_TIME = "TO_TIMESTAMP_LTZ(0, 3)"


def sql_string(text: str) -> str:
    """A Flink SQL string literal: the one way any value enters the job's SQL (tests/flink_job/test_ddl_quoting.py).

    Flink SQL strings know one escape, a doubled quote; backslashes, newlines and any Unicode stand as written.
    """
    return "'" + text.replace("'", "''") + "'"


def function_ddl() -> str:
    """Registers JSON_FIELDS; its jar (wikistream-flink-functions) must be in pipeline.jars."""
    return (
        f"CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS {FUNCTION_NAME} AS {sql_string(FUNCTION_CLASS)} LANGUAGE JAVA"
    )


def field_spec() -> str:
    """EVENT_FIELDS in the function's notation (see FieldSpec.spec)."""
    return ",".join(spec.spec() for spec in EVENT_FIELDS)


def parse_sql(max_event_bytes: int) -> str:
    """The parsed payload: ROW<reject_reason STRING, fields ARRAY<STRING>> (fields in EVENT_FIELDS order)."""
    return f"{FUNCTION_NAME}({PAYLOAD}, {sql_string(field_spec())}, {max_event_bytes})"


def field_sql(parsed: str, name: str, as_type: str = "") -> str:
    """A field of a parsed payload as text, or cast to as_type (NULL when the message was rejected)."""
    position = next(i for i, spec in enumerate(EVENT_FIELDS, start=1) if spec.name == name)
    text = f"{parsed}.fields[{position}]"
    return f"CAST({text} AS {as_type})" if as_type else text


def _payload_time(parsed: str) -> str:
    return f"TO_TIMESTAMP_LTZ({field_sql(parsed, 'event_time_ms', 'BIGINT')}, 3)"


def _in_the_future(parsed: str, kafka_ts: str) -> str:
    return f"{_payload_time(parsed)} > {kafka_ts} + {MAX_LEAD}"


def is_tick_sql(headers: str) -> str:
    return f"{headers}[{sql_string(TICK_HEADER)}] IS NOT NULL"


def _tick_ms(headers: str) -> str:
    return f"TRY_CAST(CAST({headers}[{sql_string(TICK_HEADER)}] AS STRING) AS BIGINT)"


def _tick_reason(payload: str, headers: str, kafka_ts: str) -> str:
    """NULL for a valid tick, else why it is rejected (only meaningful when the message is a tick)."""
    tick = _tick_ms(headers)
    return (
        f"CASE WHEN {payload} IS NOT NULL AND {payload} <> X'' THEN {sql_string(TICK_REASONS['payload'])}"
        f" WHEN {tick} IS NULL THEN {sql_string(TICK_REASONS['time'])}"
        f" WHEN {tick} NOT BETWEEN {MIN_EVENT_TIME_MS} AND {MAX_EVENT_TIME_MS} THEN {sql_string(TICK_REASONS['range'])}"
        f" WHEN TO_TIMESTAMP_LTZ({tick}, 3) > {kafka_ts} + {MAX_LEAD} THEN {sql_string(TICK_REASONS['future'])}"
        " ELSE CAST(NULL AS STRING) END"
    )


def rowtime_sql(parsed: str, kafka_ts: str, payload: str, headers: str) -> str:
    """The event time to window on: a valid tick's, a valid click's; NO_TIME for anything rejected."""
    return (
        f"CASE WHEN {is_tick_sql(headers)} THEN"
        f" CASE WHEN {_tick_reason(payload, headers, kafka_ts)} IS NULL"
        f" THEN TO_TIMESTAMP_LTZ({_tick_ms(headers)}, 3) ELSE {NO_TIME} END"
        f" WHEN {parsed}.reject_reason IS NULL AND NOT ({_in_the_future(parsed, kafka_ts)})"
        f" THEN {_payload_time(parsed)} ELSE {NO_TIME} END"
    )


def reject_reason_sql(parsed: str, kafka_ts: str, payload: str, headers: str) -> str:
    """A CASE expression: NULL for a valid click or a valid tick, else the reason it is rejected."""
    return (
        f"CASE WHEN {is_tick_sql(headers)} THEN {_tick_reason(payload, headers, kafka_ts)}"
        f" WHEN {parsed}.reject_reason IS NOT NULL THEN {parsed}.reject_reason"
        f" WHEN {_in_the_future(parsed, kafka_ts)} THEN {sql_string(FUTURE_REASON)}"
        " ELSE CAST(NULL AS STRING) END"
    )
