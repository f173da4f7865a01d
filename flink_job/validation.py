"""SQL that classifies each raw Kafka message as a valid click or a rejected one, with a reason.

Everything here is Flink SQL, so validation runs on the JVM: no Python UDF on the hot path.
"""

from __future__ import annotations

from wikistream.events import EVENT_FIELDS, LINK_TYPES, FieldSpec

PAYLOAD = "payload"
# Earliest accepted event time (2001-01-15, Wikipedia's first day) and the accepted lead over the
# Kafka record time: an event from the future would drag the watermark forward for everyone.
MIN_EVENT_TIME_MS = 979_516_800_000
MAX_LEAD = "INTERVAL '5' MINUTE"


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def json_value(field: str, as_type: str = "") -> str:
    """A field of the payload as text, or cast to as_type (NULL when it does not convert)."""
    text = f"JSON_VALUE({PAYLOAD}, '$.{field}')"
    # JSON_VALUE ... RETURNING supports no BIGINT, so convert the text instead.
    return f"TRY_CAST({text} AS {as_type})" if as_type else text


def _wrapped(field: str) -> str:
    # A scalar wrapped in an array keeps its JSON spelling: ["text"] for a string, [12] for a number.
    return f"JSON_QUERY({PAYLOAD}, '$.{field}' WITH CONDITIONAL ARRAY WRAPPER)"


def event_time_ms_sql() -> str:
    return json_value("event_time_ms", "BIGINT")


def _payload_time() -> str:
    return f"TO_TIMESTAMP_LTZ({event_time_ms_sql()}, 3)"


def rowtime_sql(kafka_ts: str) -> str:
    """The event time to window on: the payload's, when it is plausible; else the Kafka record time."""
    plausible = f"{event_time_ms_sql()} >= {MIN_EVENT_TIME_MS} AND {_payload_time()} <= {kafka_ts} + {MAX_LEAD}"
    return f"CASE WHEN {plausible} THEN {_payload_time()} ELSE {kafka_ts} END"


def _field_checks(spec: FieldSpec) -> list[tuple[str, str]]:
    missing = (f"{json_value(spec.name)} IS NULL", f"missing field: {spec.name}")
    if spec.kind == "integer":
        mistyped = f"NOT REGEXP({_wrapped(spec.name)}, '^\\[-?[0-9]{{1,{spec.max_chars}}}\\]$')"
        return [missing, (mistyped, f"mistyped field: {spec.name} (expected integer)")]
    checks = [missing, (f"{_wrapped(spec.name)} NOT LIKE '[\"%'", f"mistyped field: {spec.name} (expected string)")]
    checks.append((f"CHAR_LENGTH({json_value(spec.name)}) = 0", f"empty field: {spec.name}"))
    checks.append((f"CHAR_LENGTH({json_value(spec.name)}) > {spec.max_chars}", f"oversized field: {spec.name}"))
    return checks


def reject_reason_sql(max_event_chars: int, kafka_ts: str) -> str:
    """A CASE expression: NULL for a valid click, else the first reason it is rejected."""
    link_types = ", ".join(_sql_string(t) for t in LINK_TYPES)
    checks: list[tuple[str, str]] = [
        (f"{PAYLOAD} IS NULL", "empty message"),
        (f"CHAR_LENGTH({PAYLOAD}) > {max_event_chars}", f"oversized message (over {max_event_chars} characters)"),
        (f"NOT ({PAYLOAD} IS JSON OBJECT)", "not a JSON object"),
    ]
    for spec in EVENT_FIELDS:
        checks.extend(_field_checks(spec))
    checks += [
        (f"{json_value('type')} NOT IN ({link_types})", "unknown type"),
        (f"{json_value('seq', 'BIGINT')} < 1", "out of range: seq"),
        (f"{event_time_ms_sql()} < {MIN_EVENT_TIME_MS}", "out of range: event_time_ms (too old)"),
        (f"{_payload_time()} > {kafka_ts} + {MAX_LEAD}", "out of range: event_time_ms (in the future)"),
    ]
    whens = "\n        ".join(f"WHEN {condition} THEN {_sql_string(reason)}" for condition, reason in checks)
    return f"CASE\n        {whens}\n        ELSE CAST(NULL AS STRING)\n    END"
