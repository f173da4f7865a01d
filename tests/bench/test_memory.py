"""The Pss sampler of the benchmark, on real processes: a service's children count, a peak stays a peak."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.memory import MemorySampler
from stack.process import ManagedProcess

# A parent holding 32 MiB and a child holding 64 MiB (written, so resident), until told to free them.
HOLDER = """
import subprocess, sys
child = subprocess.Popen(
    [sys.executable, "-c", "import sys; b = b'x' * (64 << 20); print(flush=True); sys.stdin.readline()"],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
child.stdout.readline()
held = b"y" * (32 << 20)
print("ready", flush=True)
sys.stdin.readline()
child.communicate(b"\\n")
del held
print("freed", flush=True)
sys.stdin.readline()
"""


def test_a_service_is_counted_with_its_children_and_the_peak_outlives_the_last_sample(tmp_path: Path) -> None:
    service = ManagedProcess("holder", tmp_path / "run", tmp_path / "logs")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdin is not None and holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        service.claim(holder.pid)
        sampler = MemorySampler({"holder": service})
        sampler.sample()
        held = sampler.last_mib["holder"]
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "freed"
        sampler.sample()
    finally:
        holder.kill()
        holder.wait()
    # 96 MiB written by the two processes, plus two interpreters.
    assert 96 <= held < 200, held
    assert sampler.peaks_mib["holder"] == held == sampler.peaks_mib["total"]
    assert sampler.last_mib["holder"] < held - 60, sampler.last_mib
