"""The event contract of wikistream/events.py, interpreted independently of the job: the test oracle.

The job checks messages in Java (JSON_FIELDS, flink_job/functions) and SQL (flink_job/validation.py);
this is the same contract read by Python's own strict UTF-8 decoder and JSON parser, so the two can
be compared message by message on a fuzzed corpus. It is not used outside the tests.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass

from flink_job.validation import FUTURE_REASON
from wikistream.events import EVENT_FIELDS, FieldSpec

MAX_LEAD_MS = 5 * 60 * 1000
DEFAULT_MAX_BYTES = 16384


class _Duplicate(ValueError):
    pass


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _Duplicate
    return dict(pairs)


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


@dataclass(frozen=True)
class Verdict:
    reason: str | None
    fields: dict[str, object] | None


def _string_problem(spec: FieldSpec, value: str) -> str | None:
    if value == "":
        return f"empty field: {spec.name}"
    for char in value:
        if 0xD800 <= ord(char) <= 0xDFFF:
            return f"invalid Unicode (lone surrogate) in field: {spec.name}"
        if unicodedata.category(char) == "Cc":
            return f"control character in field: {spec.name}"
    if len(value) > spec.max_chars:
        return f"oversized field: {spec.name}"
    if spec.allowed and value not in spec.allowed:
        return f"unknown value in field: {spec.name}"
    return None


def _field_problem(spec: FieldSpec, value: object) -> str | None:
    if value is None:
        return f"missing field: {spec.name}"
    if spec.kind == "integer":
        # bool is an int in Python, not in JSON.
        if type(value) is not int:
            return f"mistyped field: {spec.name} (expected integer)"
        return None if spec.minimum <= value <= spec.maximum else f"out of range: {spec.name}"
    if not isinstance(value, str):
        return f"mistyped field: {spec.name} (expected string)"
    return _string_problem(spec, value)


def judge(payload: bytes, record_time_ms: int, max_bytes: int = DEFAULT_MAX_BYTES) -> Verdict:
    """The reason the job must give for this message (None: a valid click) and, if valid, its fields."""

    def rejected(reason: str) -> Verdict:
        return Verdict(reason, None)

    if not payload:
        return rejected("empty message")
    if len(payload) > max_bytes:
        return rejected(f"oversized message (over {max_bytes} bytes)")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return rejected("invalid UTF-8")
    try:
        root = json.loads(text, object_pairs_hook=_object, parse_constant=_no_constants)
    except _Duplicate:
        return rejected("duplicate field")
    except (ValueError, RecursionError):
        return rejected("not a JSON object")
    if not isinstance(root, dict):
        return rejected("not a JSON object")
    fields = {}
    for spec in EVENT_FIELDS:
        value = root.get(spec.name)
        problem = _field_problem(spec, value)
        if problem is not None:
            return rejected(problem)
        fields[spec.name] = value
    event_time_ms = fields["event_time_ms"]
    if isinstance(event_time_ms, int) and event_time_ms > record_time_ms + MAX_LEAD_MS:
        return rejected(FUTURE_REASON)
    return Verdict(None, fields)
