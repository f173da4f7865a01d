"""The figures of a latency run, as bench/measure.py reports them from PostgreSQL's answer."""

from __future__ import annotations

import pytest

from bench.measure import latency_result


def test_a_run_where_nothing_landed_is_an_error_not_zero_milliseconds() -> None:
    # percentile_cont over no rows answers NULL.
    with pytest.raises(RuntimeError, match="no measured row landed"):
        latency_result(None, 0, 1000)


def test_percentiles_and_the_missing_rows_are_reported() -> None:
    assert latency_result([12.0, 40.0, 90.0], 990, 1000) == {
        "p50_ms": 12.0,
        "p95_ms": 40.0,
        "p99_ms": 90.0,
        "missing": 10,
    }
