"""A seeded corpus of hostile Kafka messages, interleaved with known valid clicks.

Kinds, in about equal shares after the valid events: arbitrary bytes; arbitrary JSON values; and
valid events with one thing changed: a field's type, a boundary of its range or length, huge and
negative numbers, control characters, NUL, lone surrogates (escaped and as raw bytes), 4-byte
characters, right-to-left marks, very long strings, invalid UTF-8 inside a string, duplicate,
extra and missing keys, and damaged JSON around a valid object.

Every message is (payload, record timestamp ms). The same seed gives the same corpus.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from wikistream.events import EVENT_FIELDS, INT32_MAX, LINK_TYPES, MAX_EVENT_TIME_MS, MIN_EVENT_TIME_MS, ClickEvent

# Titles a real clickstream holds: accents, CJK, RTL scripts, 4-byte characters, combining marks.
TITLES = [
    "Zürich",
    "東京都",
    "Łódź",
    "C++",
    "Rock_'n'_roll",
    "القاهرة",
    "עברית",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "😀_(emoji)",
    "e\u0301clair",
    "Ꭰ",
    "Main_Page",
    "\u200fRTL_mark",
    "\u202eoverride",
    "ＡＢＣ",
    "\ufeffBOM_inside",
]
HOSTILE_CHARS = [
    "\x00",
    "\x01",
    "\x1f",
    "\x7f",
    "\x85",
    "\u2028",
    "\u200f",
    "\u202e",
    "\ufffd",
    "\uffff",
    "😀",
    "\U0010ffff",
    "'",
    '"',
    "\\",
    "%",
    "\n",
    "\t",
]
LIMITS = {spec.name: spec for spec in EVENT_FIELDS}


@dataclass(frozen=True)
class Message:
    payload: bytes
    record_time_ms: int
    kind: str


class Corpus:
    def __init__(self, seed: int, tag: str, now_ms: int) -> None:
        self.random = random.Random(seed)
        self.tag = tag
        # Events are an hour old, so none moves the job's watermark past other tests' windows.
        self.base_ms = now_ms - 3_600_000
        self.count = 0

    def _event(self) -> ClickEvent:
        self.count += 1
        r = self.random
        link_type = r.choice(LINK_TYPES)
        return ClickEvent(
            event_id=f"{self.tag}-{self.count}",
            user_id=f"{self.tag}-user-{r.randrange(50)}",
            session_id=f"{self.tag}-session-{r.randrange(200)}",
            seq=r.randrange(1, 1000),
            prev=r.choice(["other-search", "other-empty", *TITLES]),
            curr=r.choice(TITLES),
            type=link_type,  # type: ignore[arg-type]  # drawn from LINK_TYPES
            event_time_ms=self.base_ms + r.randrange(60_000),
        )

    def _record_time(self) -> int:
        return self.base_ms + 60_000

    def valid(self) -> Message:
        return Message(self._event().to_json(), self._record_time(), "valid")

    def _as_dict(self) -> dict[str, object]:
        return json.loads(self._event().to_json())

    def _dump(self, value: object) -> bytes:
        return json.dumps(value, ensure_ascii=self.random.random() < 0.5).encode("utf-8", "surrogatepass")

    # --- mutations of a valid event ----------------------------------------------------------------
    def _random_json(self, depth: int = 0) -> object:
        r = self.random
        kind = r.randrange(8 if depth < 4 else 5)
        if kind == 0:
            return None
        if kind == 1:
            return r.choice([True, False])
        if kind == 2:
            return r.choice([0, -1, 1, 2**31, -(2**63), 10**30, r.randrange(-(10**12), 10**12)])
        if kind == 3:
            return r.choice([0.5, -1.5, 1e308, 1e-300, 1.0])
        if kind == 4:
            return self._random_text(r.randrange(0, 40))
        if kind == 5:
            return [self._random_json(depth + 1) for _ in range(r.randrange(4))]
        return {self._random_text(r.randrange(1, 8)): self._random_json(depth + 1) for _ in range(r.randrange(4))}

    def _random_text(self, length: int) -> str:
        r = self.random
        alphabet = string.ascii_letters + string.digits + "".join(HOSTILE_CHARS) + "".join(TITLES)
        return "".join(r.choice(alphabet) for _ in range(length))

    def _boundary(self, name: str) -> object:
        r = self.random
        spec = LIMITS[name]
        if spec.kind == "integer":
            if name == "event_time_ms":
                lead = 5 * 60 * 1000
                return r.choice(
                    [
                        MIN_EVENT_TIME_MS - 1,
                        MIN_EVENT_TIME_MS,
                        self._record_time() + lead,
                        self._record_time() + lead + 1,
                        MAX_EVENT_TIME_MS,
                        MAX_EVENT_TIME_MS + 1,
                        -1,
                        0,
                    ]
                )
            return r.choice(
                [
                    spec.minimum - 1,
                    spec.minimum,
                    spec.maximum,
                    spec.maximum + 1,
                    INT32_MAX,
                    -INT32_MAX,
                    -(10**30),
                    10**30,
                    10**400,
                ]
            )
        if spec.allowed:
            return r.choice([*spec.allowed, "", "LINK", "link ", "click", "link\x00"])
        wide = r.choice(["a", "é", "東", "😀"])
        return r.choice([wide * spec.max_chars, wide * (spec.max_chars + 1), "", " ", wide * 10_000])

    def _hostile_string(self, name: str) -> str:
        r = self.random
        base = r.choice(TITLES) if name in ("prev", "curr") else f"{self.tag}-{name}"
        char = r.choice([*HOSTILE_CHARS, "\ud800", "\udfff", "\udbff\udfff"])
        where = r.randrange(len(base) + 1)
        return base[:where] + char + base[where:]

    def mutated(self) -> Message:
        r = self.random
        event = self._as_dict()
        name = r.choice([spec.name for spec in EVENT_FIELDS])
        how = r.randrange(9)
        if how == 0:
            event[name] = self._random_json()
        elif how == 1:
            event[name] = self._boundary(name)
        elif how == 2 and LIMITS[name].kind == "string":
            event[name] = self._hostile_string(name)
        elif how == 3:
            del event[name]
        elif how == 4:
            event[self._random_text(r.randrange(1, 12))] = self._random_json()
        elif how == 5:
            # A key twice: JSON text written by hand, json.dumps cannot.
            text = self._dump(event)[:-1] + b", " + json.dumps(name).encode() + b": " + self._dump(event[name]) + b"}"
            return Message(text, self._record_time(), "duplicate key")
        elif how == 6:
            return Message(self._raw_invalid_utf8(event, name), self._record_time(), "invalid UTF-8 in a string")
        elif how == 7:
            return Message(self._damaged(self._dump(event)), self._record_time(), "damaged JSON")
        else:
            event[name] = r.choice([str(event[name]), [event[name]], {"value": event[name]}, float(r.randrange(9))])
        return Message(self._dump(event), self._record_time(), f"mutated {name}")

    def _raw_invalid_utf8(self, event: dict[str, object], name: str) -> bytes:
        r = self.random
        marker = "\u0001MARK\u0001"
        event[name] = marker if LIMITS[name].kind == "string" else event[name]
        text = self._dump(event).replace(json.dumps(marker, ensure_ascii=False).encode()[1:-1], b"X")
        text = text.replace(json.dumps(marker).encode()[1:-1], b"X")
        bad = r.choice([b"\xff", b"\xc0\x80", b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc3", b"\x80"])
        return text.replace(b"X", bad, 1) if b"X" in text else text + bad

    def _damaged(self, text: bytes) -> bytes:
        r = self.random
        return r.choice(
            [
                text[: r.randrange(len(text))],
                text + b" trailing",
                b"\xef\xbb\xbf" + text,
                text.replace(b":", b"=", 1),
                b"[" + text + b"]",
                text + text,
                b"  \n\t" + text + b"\r\n ",
                text.replace(b'"', b"'"),
            ]
        )

    # --- whole messages that are not events ---------------------------------------------------------
    def arbitrary_bytes(self) -> Message:
        r = self.random
        return Message(bytes(r.randrange(256) for _ in range(r.randrange(0, 300))), self._record_time(), "bytes")

    def arbitrary_json(self) -> Message:
        return Message(self._dump(self._random_json()), self._record_time(), "json value")

    def oversized(self) -> Message:
        event = self._as_dict()
        event["padding"] = "x" * self.random.choice([16_000, 16_400, 40_000])
        return Message(self._dump(event), self._record_time(), "oversized")

    def messages(self, total: int, valid_share: float = 0.3) -> Iterator[Message]:
        """total messages: valid events with probability valid_share, else one hostile kind each."""
        hostile: list[Callable[[], Message]] = [
            self.mutated,
            self.mutated,
            self.mutated,
            self.arbitrary_bytes,
            self.arbitrary_json,
            self.oversized,
        ]
        for _ in range(total):
            yield self.valid() if self.random.random() < valid_share else self.random.choice(hostile)()
