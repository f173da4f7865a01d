"""Sinks without a broker: JSON lines on stdout, and the memoised key partitioner."""

from __future__ import annotations

import io
import json

from kafka.partitioner.default import DefaultPartitioner

from producer.sinks import MemoisedKeyPartitioner, StdoutSink
from wikistream.events import ClickEvent

EVENT = ClickEvent("e1", "u1", "s1", 1, "other-search", "Zürich", "external", 1_700_000_000_000)


class ThreePartitions:
    """The two questions a partitioner asks kafka-python's cluster metadata."""

    def topics(self) -> set[str]:
        return {"clicks"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return {0, 1, 2}


def test_stdout_gets_one_contract_json_line_per_event() -> None:
    stream = io.BytesIO()
    StdoutSink(stream).send([EVENT, EVENT])
    lines = stream.getvalue().splitlines()
    assert lines == [EVENT.to_json(), EVENT.to_json()]
    assert json.loads(lines[0])["curr"] == "Zürich"


def test_the_memoised_partitioner_agrees_with_the_default_one() -> None:
    memoised, default, cluster = MemoisedKeyPartitioner(), DefaultPartitioner(), ThreePartitions()
    keys = [f"user-{i}".encode() for i in range(500)] * 2
    chosen = [memoised.partition("clicks", None, key, None, None, cluster) for key in keys]
    assert chosen == [default.partition("clicks", None, key, None, None, cluster) for key in keys]
    assert set(chosen) == {0, 1, 2}
