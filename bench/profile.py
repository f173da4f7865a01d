"""Where the time goes during a drain: CPU by service, then jstack samples of the Flink task threads.

First the machine: CPU seconds each service's process tree used while sampled, beside the time
the cores were idle, so a limit outside the TaskManager (PostgreSQL, Kafka) shows. Then the
TaskManager, with nothing but the JDK's jstack: every interval, the stacks of the task threads
(named like 'Source: kafka_clicks -> ... (1/2)#0') are taken, and each RUNNABLE sample is counted
once, for the innermost component on its stack (its top frame is counted too).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.memory import services
from stack.embedded import EmbeddedStack
from stack.process import ManagedProcess, cpu_ticks, process_tree

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# A sample belongs to the component of its innermost frame that matches; frames match by fragment.
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("message parsing (JSON_FIELDS, Jackson)", ("io.wikistream.flink.JsonFields", "jackson")),
    ("Flink JSON functions (SqlJsonUtils)", ("SqlJsonUtils",)),
    ("PostgreSQL JDBC driver (sink writes, lookups)", ("org.postgresql",)),
    ("Kafka consumer (fetch, poll)", ("kafka.clients",)),
    ("lookup join (users)", ("LookupJoin", "LookupFunction", "lookup.")),
    ("session_stats aggregate (state)", ("GroupAggFunction", "MapState", "DistinctView")),
    ("window aggregates", ("window.", "Window")),
    ("keyed state access (heap backend)", ("heap.CopyOnWriteStateMap", "HeapMapState", "HeapValueState")),
    (
        "record serialisation and network",
        (
            "RecordWriter",
            "SpanningRecordSerializer",
            "Serializer.serialize",
            "BinaryRowDataSerializer",
            "StreamElementSerializer",
        ),
    ),
    ("generated SQL code (Calc, projections)", ("StreamExecCalc", "WatermarkGenerator")),
    ("JDBC sink buffer (upsert reduction)", ("jdbc.",)),
)
OTHER = "other (Flink runtime, JVM)"

_ANY_THREAD = re.compile(r'^"(?P<name>[^"]+)".*?cpu=(?P<cpu>[\d.]+)ms.*?nid=(?P<nid>\w+)', re.M)
_THREAD = re.compile(r'^"(?P<name>[^"]+\(\d+/\d+\)#\d+)".*?\n\s+java\.lang\.Thread\.State: (?P<state>\w+)', re.M)
_FRAME = re.compile(r"^\s+at (?P<frame>[\w$.<>/]+)\(", re.M)


def java_pid(process: ManagedProcess) -> int:
    leader = process.pid()
    if leader is None:
        raise RuntimeError(f"{process.name} is not running")
    for pid in process_tree(leader):
        if Path(f"/proc/{pid}/comm").read_text().strip() == "java":
            return pid
    raise RuntimeError(f"no java process among {process.name} and its children")


def _first_flink_frame(frames: list[str]) -> str:
    return next((frame for frame in frames if frame.startswith("org.apache.flink.")), frames[0])


def _component(frames: list[str]) -> str:
    for frame in frames:
        for name, fragments in COMPONENTS:
            if any(fragment in frame for fragment in fragments):
                return name
    return OTHER


def _tree_cpu_ticks(process: ManagedProcess) -> int:
    leader = process.pid()
    return sum(cpu_ticks(pid) for pid in process_tree(leader)) if leader else 0


def _machine_ticks() -> tuple[int, int]:
    """(busy, idle) ticks of all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    user, nice, system, idle, iowait, irq, softirq = values
    return user + nice + system + irq + softirq, idle + iowait


class CpuMeter:
    """CPU used by each service's process tree, and by the machine, between start() and stop()."""

    def __init__(self, stack: EmbeddedStack) -> None:
        self.services = services(stack)
        self.seconds: dict[str, float] = {}
        self.wall_s = 0.0

    def _snapshot(self) -> dict[str, int]:
        busy, idle = _machine_ticks()
        return {name: _tree_cpu_ticks(p) for name, p in self.services.items()} | {"machine": busy, "idle": idle}

    def start(self) -> None:
        self._begin, self._began = self._snapshot(), time.monotonic()

    def stop(self) -> None:
        end = self._snapshot()
        self.wall_s = time.monotonic() - self._began
        self.seconds = {name: (end[name] - self._begin[name]) / CLOCK_TICKS for name in end}

    def render(self) -> list[str]:
        named = sum(v for k, v in self.seconds.items() if k in self.services)
        rows = [
            *((name, self.seconds[name]) for name in self.services),
            ("everything else (producer, jstack, the bench, the OS)", self.seconds["machine"] - named),
            ("idle", self.seconds["idle"]),
        ]
        return [
            f"CPU over {self.wall_s:.1f} s on {os.cpu_count()} cores (cores busy on average):",
            *(f"  {seconds / self.wall_s:5.2f}  {name}" for name, seconds in rows),
        ]


@dataclass
class Profile:
    samples: int = 0
    runnable: int = 0
    by_component: Counter[str] = field(default_factory=Counter)
    top_frames: Counter[str] = field(default_factory=Counter)
    by_thread: Counter[str] = field(default_factory=Counter)
    # Task threads not running: the innermost Flink (or connector) frame they wait in.
    waiting: Counter[str] = field(default_factory=Counter)
    # Per JVM thread (by native id): its name, and its CPU time (ms) in the first and the last dump.
    thread_cpu: dict[str, tuple[str, float, float]] = field(default_factory=dict)
    first_at: float = 0.0
    last_at: float = 0.0

    def add_dump(self, dump: str, at: float) -> None:
        """One jstack output, taken at monotonic time `at`."""
        self.samples += 1
        self.first_at = self.first_at or at
        self.last_at = at
        blocks = re.split(r"\n(?=\")", dump)
        for header in _ANY_THREAD.finditer(dump):
            first = self.thread_cpu.get(header["nid"], (header["name"], float(header["cpu"]), 0.0))[1]
            self.thread_cpu[header["nid"]] = (header["name"], first, float(header["cpu"]))
        for block in blocks:
            match = _THREAD.match(block)
            if match is None:
                continue
            frames = [f["frame"] for f in _FRAME.finditer(block)]
            if not frames:
                continue
            if match["state"] != "RUNNABLE":
                self.waiting[_first_flink_frame(frames)] += 1
                continue
            self.runnable += 1
            self.top_frames[frames[0]] += 1
            # The operator chain, without the subtask suffix: which task thread is busy.
            self.by_thread[re.sub(r" \(\d+/\d+\)#\d+$", "", match["name"])[:120]] += 1
            self.by_component[_component(frames)] += 1

    def cpu_by_thread_group(self) -> Counter[str]:
        """CPU ms (whole) between the first and the last dump, by thread name without its numbers."""
        groups: Counter[str] = Counter()
        for name, first, last in self.thread_cpu.values():
            group = re.sub(r"[\s#-]*(\(\d+/\d+\)#)?\d+$", "", name)[:110]
            groups[group] += round(last - first)
        return groups

    def render(self, title: str, interval_s: float, cpu: list[str]) -> str:
        def share(count: int) -> str:
            return f"{100 * count / self.runnable:6.1f}%" if self.runnable else "     -"

        span_s = max(self.last_at - self.first_at, 1e-9)

        lines = [
            title,
            f"{self.samples} jstack samples, {interval_s} s apart, of the Flink task threads "
            "(python -m bench profile).",
            "",
            *cpu,
            "",
            "TaskManager CPU by thread (cores busy on average; the JVM's own per-thread CPU time):",
            *(f"  {ms / 1000 / span_s:5.2f}  {group}" for group, ms in self.cpu_by_thread_group().most_common(12)),
            "",
            f"RUNNABLE task-thread samples: {self.runnable}",
            "By component (innermost on the stack; RUNNABLE samples):",
            *(f"  {share(count)}  {name}" for name, count in self.by_component.most_common()),
            "",
            "By task thread (operator chain):",
            *(f"  {share(count)}  {name}" for name, count in self.by_thread.most_common(8)),
            "",
            f"Task-thread samples not RUNNABLE: {sum(self.waiting.values())}; where they wait (innermost Flink frame):",
            *(f"  {count:4d}  {frame}" for frame, count in self.waiting.most_common(8)),
            "",
            "Top frames (self) of RUNNABLE task-thread samples:",
            *(f"  {count:4d}  {frame}" for frame, count in self.top_frames.most_common(20)),
        ]
        return "\n".join(lines) + "\n"


class StackSampler:
    """In the `with` block: a jstack of the TaskManager every interval_s seconds (in a thread), and CPU by service."""

    def __init__(self, stack: EmbeddedStack, interval_s: float = 1.0) -> None:
        jstack = shutil.which("jstack")
        if jstack is None:
            raise RuntimeError("jstack (from a JDK) is needed to profile: install openjdk-17-jdk-headless")
        self.jstack = jstack
        self.taskmanager = stack.flink.taskmanager
        self.interval_s = interval_s
        self.profile = Profile()
        self.cpu = CpuMeter(stack)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stack-sampler", daemon=True)

    def _run(self) -> None:
        pid = java_pid(self.taskmanager)
        while not self._stop.wait(self.interval_s):
            result = subprocess.run([self.jstack, str(pid)], capture_output=True, text=True, check=False)
            if result.returncode == 0:
                self.profile.add_dump(result.stdout, time.monotonic())

    def __enter__(self) -> StackSampler:
        self.cpu.start()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu.stop()

    def render(self, title: str) -> str:
        return self.profile.render(title, self.interval_s, self.cpu.render())
