"""Long outages with the stack's own producer live: a service down for minutes, the whole stack
frozen (a laptop's suspend), a power cut, and a full disk. Nothing is done but the fault and, after a power cut,
what a user does when the power is back (`make run`) or the disk is freed.

Each is judged on the producer's own run, as its kill is in the matrix: every number of the run up
to the highest seen after the fault in clicks once, every key of the minute aggregates of the
windows from a minute before the fault to a minute after it right, every settled session of the run
right (chaos.verify), and the producer's journal further on than before the fault.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from chaos.matrix import ChaosError, FaultResult, Kill, newest_producer_run_id, wait_for_producer_run
from stack.embedded import EmbeddedStack
from stack.process import process_tree

OUTAGES = ("kafka-down", "postgres-down", "suspend", "power-cut")
# Fills the filesystem of the state directory: only for a stack on a small filesystem of its own
# (tests/test_full_disk.py mounts one), never on a user's disk.
DISK_FULL = "disk-full"
DISK_BALLAST = "disk-full.ballast"


def _every_pid(stack: EmbeddedStack) -> list[int]:
    """The supervisor and every process under it (services, their children, PostgreSQL's backends)."""
    leader = stack.supervisor.process.pid()
    if leader is None:
        raise ChaosError("the stack's supervisor is not running")
    return process_tree(leader)


def _signal_all(pids: list[int], signum: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


@dataclass(frozen=True)
class Fault:
    begin: Callable[[], None]
    # After a power cut: the user's `make run`.
    end: Callable[[], None]


def _fill(path: Path) -> None:
    """Writes path until its filesystem has no byte left (ENOSPC), as a runaway log would."""
    chunk = b"\0" * 2**20
    # Unbuffered: a buffered file would raise ENOSPC again when closed.
    with path.open("wb", buffering=0) as ballast:
        try:
            while True:
                ballast.write(chunk)
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise


def _fault(stack: EmbeddedStack, kind: str, restart: Callable[[], None]) -> Fault:
    def service(name: str) -> Fault:
        def stop() -> None:
            stack.stop_service(name)

        return Fault(stop, lambda: stack.start_service(name))

    pids: list[int] = []

    def freeze() -> None:
        pids[:] = _every_pid(stack)
        _signal_all(pids, signal.SIGSTOP)

    ballast = stack.layout.root / DISK_BALLAST
    faults = {
        "kafka-down": service("kafka"),
        "postgres-down": service("postgres"),
        "suspend": Fault(freeze, lambda: _signal_all(pids, signal.SIGCONT)),
        "power-cut": Fault(lambda: _signal_all(_every_pid(stack), signal.SIGKILL), restart),
        DISK_FULL: Fault(lambda: _fill(ballast), lambda: ballast.unlink(missing_ok=True)),
    }
    if kind not in faults:
        raise ChaosError(f"unknown outage {kind!r}: one of {', '.join(faults)}")
    return faults[kind]


def _journal_emitted(stack: EmbeddedStack) -> int:
    return int(json.loads(stack.producer_journal.read_text())["state"]["emitted"])


def _minute(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds // 60 * 60, tz=UTC)


def run_outage(
    stack: EmbeddedStack,
    dsn: str,
    kind: str,
    seconds: float,
    restart: Callable[[], None] | None = None,
    deadline_s: float = 300.0,
    during: Callable[[], None] | None = None,
) -> FaultResult:
    """The outage `kind` for `seconds`, then wait up to deadline_s for the producer's run to be right.

    restart is `make run` after a power cut (default: this stack's run(), with this process's
    environment); during() is called once the fault has begun, its time counted in `seconds`.
    """
    run_id = newest_producer_run_id(dsn)
    journal_before = _journal_emitted(stack)
    began = time.time()
    pid = stack.producer.pid() or 0
    fault = _fault(stack, kind, restart or (lambda: stack.run(echo=lambda _line: None)))
    fault.begin()
    try:
        begun = time.monotonic()
        if during is not None:
            during()
        time.sleep(max(0.0, seconds - (time.monotonic() - begun)))
    finally:
        fault.end()
    over = time.monotonic()
    kill = Kill(kind, pid, over, back_s=0.0)
    # Traffic after the fault, so the windows around it close and the journal can move on.
    time.sleep(30)
    windows = (_minute(began - 60), _minute(time.time() + 60))
    landing = wait_for_producer_run(dsn, run_id, windows, over, deadline_s)
    if _journal_emitted(stack) <= journal_before:
        landing.mismatches.append(f"the producer's journal did not move past event {journal_before}")
    return FaultResult(f"{kind} {seconds:.0f} s (run {run_id})", landing, [kill])
