"""The profiler's reading of real jstack output: two dumps of a TaskManager 2 s apart during a drain."""

from __future__ import annotations

import gzip
from pathlib import Path

from bench.profile import COMPONENTS, OTHER, Profile

DATA = Path(__file__).parent / "data"


def _dump(n: int) -> str:
    return gzip.decompress((DATA / f"taskmanager-jstack-{n}.txt.gz").read_bytes()).decode()


def _profile() -> Profile:
    profile = Profile()
    profile.add_dump(_dump(1), at=100.0)
    profile.add_dump(_dump(2), at=102.0)
    return profile


def test_cpu_by_thread_group_is_the_growth_between_dumps() -> None:
    groups = _profile().cpu_by_thread_group()
    # Both subtasks of the source chain are one group, and they computed between the dumps.
    source = [name for name in groups if name.startswith("Source: kafka_clicks")]
    assert len(source) == 1
    chain = source[0]
    assert not chain.endswith("#0")
    assert any(name.startswith("Source Data Fetcher for Source: kafka_clicks") for name in groups)
    assert 0 < groups[chain] <= 2 * 2000  # two threads, 2 s: at most 4,000 ms
    assert all(ms >= 0 for ms in groups.values())
    assert "C2 CompilerThread" in groups


def test_every_runnable_task_sample_gets_exactly_one_component() -> None:
    profile = _profile()
    assert profile.runnable > 0
    assert sum(profile.by_component.values()) == profile.runnable
    assert set(profile.by_component) <= {name for name, _ in COMPONENTS} | {OTHER}
    assert sum(profile.top_frames.values()) == profile.runnable
    assert sum(profile.waiting.values()) > 0


def test_render_reports_the_span_between_the_dumps() -> None:
    text = _profile().render("title", 1.0, ["CPU over 2.0 s on 2 cores (cores busy on average):"])
    assert text.startswith("title\n2 jstack samples")
    chain_line = next(line for line in text.splitlines() if "Source: kafka_clicks" in line and "  " in line)
    cores = float(chain_line.split()[0])
    assert 0 < cores <= 2.0
