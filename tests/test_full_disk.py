"""A full disk loses nothing: the stack's whole state lies on a small tmpfs of the test's own, which a
ballast file fills to the last byte while the producer runs; Kafka, PostgreSQL, Flink and the
producer hit ENOSPC. Health says so while it lasts, and once the ballast is deleted the pipeline
catches up by itself: the producer's run is judged by the per-key oracle (chaos/outages.py).

Needs root (mount); CI runs as root.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from chaos.outages import DISK_FULL, run_outage
from tests.conftest import isolated_stack, scratch_dir
from wikistream.health import PipelineHealth

pytestmark = [
    pytest.mark.slow,
    pytest.mark.long,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root"),
]

# Room for the stack (PostgreSQL's copied server and data, Kafka's log, Flink's checkpoints) with
# some to spare; the ballast takes the rest.
DISK_MB = 1024
MIN_FREE_MB = 200
FULL_S = float(os.environ.get("WIKISTREAM_DISK_FULL_S", "90"))
DISK_REASON = "of disk free"


@contextmanager
def small_filesystem(size_mb: int) -> Iterator[Path]:
    mount = Path(tempfile.mkdtemp(prefix="wikistream-disk-", dir=scratch_dir()))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=False)
        mount.rmdir()


def test_a_full_disk_loses_nothing_and_the_pipeline_catches_up_once_space_is_freed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra_env = {"HEALTH_MIN_FREE_DISK_MB": str(MIN_FREE_MB), "PRODUCER_RATE": "100"}
    # The same threshold for the stack's keeper and for this process's view of its health.
    monkeypatch.setenv("HEALTH_MIN_FREE_DISK_MB", str(MIN_FREE_MB))
    with small_filesystem(DISK_MB) as disk, isolated_stack("wikistream-disk-", extra_env, under=disk) as running:
        assert not running.wait_health(None, 180).degraded, running.health().lines()
        seen: list[PipelineHealth] = []

        def while_full() -> None:
            seen.append(running.wait_health(DISK_REASON, 60))

        result = run_outage(running.embedded(), running.admin_dsn(), DISK_FULL, FULL_S, during=while_full)
        print(f"{result.fault}: {result.landing}")  # the figures, with -s
        assert any(DISK_REASON in reason for reason in seen[0].reasons), seen[0].lines()
        assert seen[0].free_disk_mb is not None and seen[0].free_disk_mb < MIN_FREE_MB
        assert result.landing.exactly_once, result.landing
        health = running.wait_health(None, 180)
        assert not health.degraded, health.lines()
        assert _logged_enospc(running.state_dir), "no service ran out of space: the ballast did not fill the disk"


def _logged_enospc(state_dir: Path) -> list[str]:
    """The service logs that report running out of space (the fault reached the services)."""
    return [
        log.name
        for log in (state_dir / "logs").glob("*.log")
        if "No space left on device" in log.read_text(errors="replace")
    ]
