"""A sustained run: what makes it hold, how the report and the table print it, its rates, the heap reading."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import typer

from bench.cli import _rates, render_sustained, render_table
from bench.sustained import LAG_BOUND_S, LagSample, SustainedResult, heap_after_gc_mib


def _run(rate: int, landed: int, lags: list[int], seconds: int = 60) -> SustainedResult:
    run = SustainedResult(rate=rate, seconds=seconds, sent=rate * seconds, landed=landed, producer_eps=float(rate))
    step = seconds / len(lags)
    run.lag = [LagSample(at_s=step * i, lag=lag, landed=0) for i, lag in enumerate(lags)]
    # A sample taken while draining, after the producer stopped, does not count as the lag at the end.
    run.lag.append(LagSample(at_s=seconds + 10, lag=10**9, landed=landed))
    return run


def test_a_run_holds_when_everything_landed_and_the_lag_stayed_small() -> None:
    run = _run(1000, 60_000, [200, 900, 300, int(1000 * LAG_BOUND_S)])
    assert run.lag_at_end == 5000
    assert run.holds


def test_lag_piling_up_or_one_lost_event_fails_the_run() -> None:
    assert not _run(1000, 60_000, [1000, 3000, 5000, 7000]).holds
    assert not _run(1000, 59_999, [10, 10, 10, 10]).holds


def test_the_report_names_each_rate_and_the_highest_that_held() -> None:
    held, failed = _run(1000, 60_000, [10, 20]), _run(2000, 100_000, [10, 90_000])
    for run in (held, failed):
        run.per_minute_latency_ms = [{"minute": 0, "rows": 1, "p50_ms": 5.0, "p95_ms": 42.0, "p99_ms": 70.0}]
    held.checkpoints = [{"id": n, "state_mib": mib} for n, mib in enumerate([100.0, 180.4, 150.0])]
    failed.producer_in_flight, failed.producer_fell_behind_s = [10, 42_000, 300], 6.4
    failed.peak_memory_mib, failed.end_memory_mib = {"kafka": 900.0, "total": 3_400.2}, {"total": 3_100.0}
    text = render_sustained(
        {"sustained_seconds": 60, "sustained_eps": 1000, "sustained_runs": [held.as_json(), failed.as_json()]}
    )
    assert "1,000/s  holds" in text and "2,000/s  fails" in text
    assert "worst minute p95 42 ms" in text
    assert "state 100 -> 180 (max) -> 150 MiB" in text
    assert "producer in flight at most 42,000, 6 s behind its pace" in text
    assert "all services 3,400 MiB at most and 3,100 MiB at the end" in text
    assert text.endswith("highest rate that held: 1,000/s")


@pytest.mark.parametrize("text", ["", "abc", "1000,-5", "0"])
def test_rates_must_be_positive_whole_numbers(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        _rates(text)


def test_rates_are_read_from_a_comma_list() -> None:
    assert _rates("5000, 10000,") == [5000, 10000]


def test_the_heap_after_a_full_gc_is_read_from_a_live_jvm(tmp_path: Path) -> None:
    source = tmp_path / "Idle.java"
    source.write_text(
        "public class Idle { public static void main(String[] a) throws Exception {"
        " byte[][] keep = new byte[64][]; for (int i = 0; i < 64; i++) keep[i] = new byte[1 << 20];"
        ' System.out.println("ready"); Thread.sleep(60000); } }'
    )
    jvm = subprocess.Popen(["java", "-Xmx512m", str(source)], stdout=subprocess.PIPE, text=True)
    try:
        assert jvm.stdout is not None and jvm.stdout.readline().strip() == "ready"
        mib = heap_after_gc_mib(jvm.pid)
    finally:
        jvm.kill()
        jvm.wait()
    # 64 MiB the program keeps reachable, plus the JVM's own: a full GC cannot free them.
    assert 64 <= mib < 256, mib


def _table_results(sustained_eps: int | None) -> dict[str, object]:
    latency = {"p50_ms": 50.0, "p95_ms": 80.0, "p99_ms": 99.0, "missing": 0}
    rates = (
        "producer_dry_run_eps",
        "producer_kafka_eps",
        "producer_kafka_confluent_eps",
        "kafka_python_client_eps",
        "confluent_kafka_client_eps",
        "baseline_producer_kafka_eps",
    )
    return {key: 10_000.0 for key in rates} | {
        "tuned_e2e_eps": 15_149.0,
        "baseline_e2e_eps": 11_012.0,
        "tuned_latency": latency,
        "baseline_latency": latency,
        "cold_start_s": 56.5,
        "peak_memory_mib": {"total": 3_352.0},
        "sustained_seconds": 600,
        "sustained_eps": sustained_eps,
    }


def test_the_table_prints_the_sustained_figure_beside_the_drain_and_its_baseline() -> None:
    lines = render_table(_table_results(5000)).splitlines()
    drain = next(i for i, line in enumerate(lines) if line.startswith("end-to-end drain"))
    assert [cell.strip() for cell in lines[drain].split("|")[1:]] == ["15,149", "11,012", "1.4x"]
    assert lines[drain + 1].startswith("sustained 600 s, zero loss, lag held")
    assert lines[drain + 1].split("|")[1].strip() == "5,000"


def test_the_table_says_when_no_rate_held() -> None:
    assert "none held" in render_table(_table_results(None))
