"""The fault matrix on the embedded stack: kill -9 each service mid-stream, do nothing, lose nothing.

A stack of its own (the kills would disturb the other tests' shared one). For each service, known
events are sent at a steady rate and the service is killed halfway through; the supervisor and the
job keeper must bring everything back with every event exactly once in clicks, in the minute
aggregates and in the session pages within 120 s of the kill.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chaos.matrix import run_fault
from chaos.target import FAULTS, embedded_target
from stack.embedded import EmbeddedStack
from tests.conftest import isolated_stack

pytestmark = pytest.mark.slow

EVENTS = 1_000
RATE = 100.0
RECOVERY_S = 120.0


@pytest.fixture(scope="module")
def chaos_stack() -> Iterator[EmbeddedStack]:
    with isolated_stack("wikistream-chaos-") as running:
        yield running.embedded()


@pytest.mark.parametrize("fault", FAULTS)
def test_a_killed_service_comes_back_and_every_event_lands_exactly_once(chaos_stack: EmbeddedStack, fault: str) -> None:
    result = run_fault(embedded_target(chaos_stack), fault, EVENTS, RATE, deadline_s=RECOVERY_S + 60)
    landing = result.landing
    print(f"{fault}: {landing}; back after {[kill.back_s for kill in result.kills]} s")  # the figures, with -s
    assert result.failed_deliveries == 0
    assert result.kills and result.kills[0].back_s is not None, f"{fault} did not come back"
    # The producer's fault counts the producer's own run (chaos/README.md): its size is what it sent.
    assert fault == "producer" or landing.sent == EVENTS
    assert landing.exactly_once, landing
    assert landing.all_landed_s is not None and landing.all_landed_s <= RECOVERY_S, landing
