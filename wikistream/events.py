"""The click event contract between the producer and the Flink job.

The producer serialises ClickEvent; the job validates each message against EVENT_FIELDS and
quarantines anything else. Changing a field here changes both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import orjson

LinkType = Literal["link", "external", "other"]
LINK_TYPES: tuple[str, ...] = ("link", "external", "other")

# prev values that are not articles: where a reader came from outside the article graph.
REFERRER_CLASSES: dict[str, str] = {
    "other-search": "search",
    "other-external": "external site",
    "other-internal": "other Wikimedia project",
    "other-empty": "no referrer",
    "other-other": "other",
}
INTERNAL_LINK_CLASS = "internal link"


# Earliest accepted event time (2001-01-15, Wikipedia's first day) and the latest one Flink's
# TIMESTAMP(3) can hold (9999-12-31T23:59:59.999Z). How far ahead of its arrival an event may be is a
# rule of the job (flink_job/validation.py), not of the message.
MIN_EVENT_TIME_MS = 979_516_800_000
MAX_EVENT_TIME_MS = 253_402_300_799_999
# PostgreSQL's integer.
INT32_MAX = 2**31 - 1
# A Kafka header that makes a message a tick, not a click: the producer's heartbeat to every
# partition, its value the event time (epoch ms, ASCII digits) before which the producer sends
# that partition no more clicks. The job lets valid ticks move event time and keeps nothing else
# of them (flink_job/validation.py); the payload of a tick is empty.
TICK_HEADER = "wikistream-tick"


@dataclass(frozen=True)
class FieldSpec:
    """One field of the contract, with every bound a value must meet to be storable where it goes.

    A string is non-empty, at most max_chars code points, holds no control character and no lone
    surrogate, and is one of `allowed` when that is given. An integer lies within [minimum, maximum].
    tests/sql/test_contract_covers_schema.py checks these bounds against PostgreSQL's catalog.
    """

    name: str
    kind: Literal["string", "integer"]
    max_chars: int = 0
    minimum: int = 0
    maximum: int = 0
    allowed: tuple[str, ...] = ()

    def spec(self) -> str:
        """This field in the notation of the job's JSON_FIELDS function (flink_job/functions)."""
        for text in (self.name, *self.allowed):
            if not text or any(separator in text for separator in ",:|"):
                raise ValueError(f"field spec text {text!r} is empty or holds one of , : |")
        if self.kind == "integer":
            return f"{self.name}:integer:{self.minimum}:{self.maximum}"
        allowed = f":{'|'.join(self.allowed)}" if self.allowed else ""
        return f"{self.name}:string:{self.max_chars}{allowed}"


EVENT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("event_id", "string", max_chars=64),
    FieldSpec("user_id", "string", max_chars=64),
    FieldSpec("session_id", "string", max_chars=64),
    FieldSpec("seq", "integer", minimum=1, maximum=INT32_MAX),
    # Wikipedia titles are at most 255 bytes; a little slack for the other-* referrers.
    FieldSpec("prev", "string", max_chars=512),
    FieldSpec("curr", "string", max_chars=512),
    FieldSpec("type", "string", max_chars=16, allowed=LINK_TYPES),
    FieldSpec("event_time_ms", "integer", minimum=MIN_EVENT_TIME_MS, maximum=MAX_EVENT_TIME_MS),
)


@dataclass(frozen=True, slots=True)
class ClickEvent:
    event_id: str
    user_id: str
    session_id: str
    seq: int
    prev: str
    curr: str
    type: LinkType
    event_time_ms: int

    def to_json(self) -> bytes:
        # A dict built by hand: dataclasses.asdict deep-copies and cost the producer 60% of its CPU.
        return orjson.dumps(
            {
                "event_id": self.event_id,
                "user_id": self.user_id,
                "session_id": self.session_id,
                "seq": self.seq,
                "prev": self.prev,
                "curr": self.curr,
                "type": self.type,
                "event_time_ms": self.event_time_ms,
            }
        )


def referrer_class(prev: str, link_type: str) -> str:
    """The referrer category of a click, as the job computes it (kept here for tests and docs)."""
    if prev in REFERRER_CLASSES:
        return REFERRER_CLASSES[prev]
    return INTERNAL_LINK_CLASS if link_type == "link" else "other"
