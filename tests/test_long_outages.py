"""A month on a laptop, compressed: long outages with the producer live, a suspend, a power cut, and
health that notices when nothing new arrives.

One stack of the module's own (the faults would disturb the shared one). Its job drops a session's
state after SESSION_STATE_TTL of 30 s, so the suspend outlasts it: a session the job forgot must
not start over (its row merges). Outages last WIKISTREAM_OUTAGE_S (150 s here; `make chaos` runs
them for 10 minutes): longer than every timeout on the way except the producer's delivery timeout
(a day; tests/producer/test_producer_outage.py goes past a short one). Each is judged by the
per-key oracle on the producer's own run (chaos/outages.py).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from chaos.outages import OUTAGES, run_outage
from tests.conftest import RunningStack, isolated_stack
from wikistream.health import RESTART_QUIET_S, HealthThresholds

pytestmark = [pytest.mark.slow, pytest.mark.long]

OUTAGE_S = float(os.environ.get("WIKISTREAM_OUTAGE_S", "150"))


@pytest.fixture(scope="module")
def outage_stack() -> Iterator[RunningStack]:
    with isolated_stack("wikistream-outage-", {"SESSION_STATE_TTL": "30 s", "PRODUCER_RATE": "100"}) as running:
        yield running


def test_a_hung_producer_degrades_the_pipeline_in_status_and_in_the_health_view(outage_stack: RunningStack) -> None:
    pid = outage_stack.pid("producer")
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        limit = HealthThresholds().max_message_age_s
        health = outage_stack.wait_health("the producer is down or hung", limit + 30)
        assert any("the producer is down or hung" in reason for reason in health.reasons), health.lines()
        # The keeper records the same judgement for the dashboards (every 10 s).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = outage_stack.query("SELECT status, reasons, newest_message_age_s FROM v_pipeline_health")
            if rows and "the producer is down or hung" in rows[0][1]:
                break
            time.sleep(2)
        assert rows and rows[0][0] == "DEGRADED" and rows[0][2] > limit, rows
    finally:
        os.kill(pid, signal.SIGCONT)
    health = outage_stack.wait_health(None, 120)
    assert not health.degraded, health.lines()


@pytest.mark.parametrize("kind", OUTAGES)
def test_a_long_outage_with_the_producer_live_loses_and_repeats_nothing(outage_stack: RunningStack, kind: str) -> None:
    result = run_outage(
        outage_stack.embedded(), outage_stack.admin_dsn(), kind, OUTAGE_S, restart=lambda: _make_run(outage_stack)
    )
    landing = result.landing
    print(f"{result.fault}: {landing}")  # the figures, with -s
    assert landing.exactly_once, landing
    assert landing.all_landed_s is not None and landing.all_landed_s <= 300, landing
    # Healthy again once the job's restarts during the outage are history (RESTART_QUIET_S).
    health = outage_stack.wait_health(None, RESTART_QUIET_S + 60)
    assert not health.degraded, health.lines()


def _make_run(running: RunningStack) -> None:
    result = running.cli("run")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_flood_of_rejected_messages_degrades_the_pipeline(outage_stack: RunningStack) -> None:
    # Last: the share is judged over five minutes, so the stack stays degraded that long.
    outage_stack.send([(None, b"not a click %d" % n, None) for n in range(3000)])
    health = outage_stack.wait_health("were rejected", 60)
    assert health.rejected_share is not None and health.rejected_share > HealthThresholds().max_rejected_share
    assert any("were rejected" in reason for reason in health.reasons), health.lines()
