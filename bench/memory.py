"""Peak memory of each service while the benchmark runs.

Sampled every second as the proportional set size (Pss) summed over the service's process group:
Pss shares a page among the processes that map it, so PostgreSQL's shared buffers are counted
once, not once per backend as a sum of RSS would.
"""

from __future__ import annotations

import threading
from pathlib import Path

from stack.embedded import EmbeddedStack
from stack.process import ManagedProcess, process_tree


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def services(stack: EmbeddedStack) -> dict[str, ManagedProcess]:
    """Each long-running service of the stack, by the name the benchmark reports it under."""
    return {
        "kafka": stack.kafka.process,
        "flink-jobmanager": stack.flink.jobmanager,
        "flink-taskmanager": stack.flink.taskmanager,
        "postgres": stack.processes()["postgres"],
    }


class MemorySampler:
    def __init__(self, services: dict[str, ManagedProcess], interval_s: float = 1.0) -> None:
        self.services = services
        self.interval_s = interval_s
        self.peaks_mib = dict.fromkeys([*self.services, "total"], 0.0)
        self.last_mib = dict.fromkeys(self.peaks_mib, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def sample(self) -> None:
        total = 0.0
        for name, process in self.services.items():
            pid = process.pid()
            mib = sum(_pss_kib(member) for member in process_tree(pid)) / 1024 if pid else 0.0
            self.last_mib[name] = mib
            total += mib
        self.last_mib["total"] = total
        for name, mib in self.last_mib.items():
            self.peaks_mib[name] = max(self.peaks_mib[name], mib)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
