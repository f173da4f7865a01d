"""SQL that classifies each raw Kafka message as a valid click or a rejected one, with a reason.

The payload is parsed once, by the JVM function JSON_FIELDS (flink_job/functions), which checks the
structure against EVENT_FIELDS: a JSON object, every field present with its kind and size. The
domain rules (known link type, positive seq, plausible event time) are SQL on the parsed values.
Nothing here runs Python per event.
"""

from __future__ import annotations

from wikistream.events import EVENT_FIELDS, LINK_TYPES

PAYLOAD = "payload"
FUNCTION_NAME = "JSON_FIELDS"
FUNCTION_CLASS = "io.wikistream.flink.JsonFields"
# Earliest accepted event time (2001-01-15, Wikipedia's first day) and the accepted lead over the
# Kafka record time: an event from the future would drag the watermark forward for everyone.
MIN_EVENT_TIME_MS = 979_516_800_000
MAX_LEAD = "INTERVAL '5' MINUTE"


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def function_ddl() -> str:
    """Registers JSON_FIELDS; its jar (wikistream-flink-functions) must be in pipeline.jars."""
    return f"CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS {FUNCTION_NAME} AS '{FUNCTION_CLASS}' LANGUAGE JAVA"


def field_spec() -> str:
    """EVENT_FIELDS in the function's notation: name:kind:max_chars,..."""
    return ",".join(f"{spec.name}:{spec.kind}:{spec.max_chars}" for spec in EVENT_FIELDS)


def parse_sql(max_event_chars: int) -> str:
    """The parsed payload: ROW<reject_reason STRING, fields ARRAY<STRING>> (fields in EVENT_FIELDS order)."""
    return f"{FUNCTION_NAME}({PAYLOAD}, {_sql_string(field_spec())}, {max_event_chars})"


def field_sql(parsed: str, name: str, as_type: str = "") -> str:
    """A field of a parsed payload as text, or cast to as_type (NULL when the message was rejected)."""
    position = next(i for i, spec in enumerate(EVENT_FIELDS, start=1) if spec.name == name)
    text = f"{parsed}.fields[{position}]"
    return f"CAST({text} AS {as_type})" if as_type else text


def _event_time_ms(parsed: str) -> str:
    return field_sql(parsed, "event_time_ms", "BIGINT")


def _payload_time(parsed: str) -> str:
    return f"TO_TIMESTAMP_LTZ({_event_time_ms(parsed)}, 3)"


def rowtime_sql(parsed: str, kafka_ts: str) -> str:
    """The event time to window on: the payload's, when it is plausible; else the Kafka record time."""
    plausible = f"{_event_time_ms(parsed)} >= {MIN_EVENT_TIME_MS} AND {_payload_time(parsed)} <= {kafka_ts} + {MAX_LEAD}"
    return f"CASE WHEN {plausible} THEN {_payload_time(parsed)} ELSE {kafka_ts} END"


def reject_reason_sql(parsed: str, kafka_ts: str) -> str:
    """A CASE expression: NULL for a valid click, else the first reason it is rejected."""
    link_types = ", ".join(_sql_string(t) for t in LINK_TYPES)
    checks: list[tuple[str, str]] = [
        (f"{field_sql(parsed, 'type')} NOT IN ({link_types})", "'unknown type'"),
        (f"{field_sql(parsed, 'seq', 'BIGINT')} < 1", "'out of range: seq'"),
        (f"{_event_time_ms(parsed)} < {MIN_EVENT_TIME_MS}", "'out of range: event_time_ms (too old)'"),
        (f"{_payload_time(parsed)} > {kafka_ts} + {MAX_LEAD}", "'out of range: event_time_ms (in the future)'"),
    ]
    whens = "\n        ".join(f"WHEN {condition} THEN {reason}" for condition, reason in checks)
    return f"CASE\n        WHEN {parsed}.reject_reason IS NOT NULL THEN {parsed}.reject_reason\n        {whens}\n        ELSE CAST(NULL AS STRING)\n    END"
