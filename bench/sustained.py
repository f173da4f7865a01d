"""A sustained run: the producer live at a fixed rate for a set time, and whether the job keeps up.

Unlike the drain (a backlog moved as fast as it goes), this is how the stack is used: events made
now, at a rate, for minutes. A rate holds when every event landed exactly once, and the lag (events
in Kafka not yet in PostgreSQL) when the producer stopped was at most LAG_BOUND_S seconds of events
(a job falling behind piles up lag all run long; one keeping up carries only its flush delay).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, closing, nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any

from bench import measure
from bench.memory import MemorySampler
from bench.memory import services as memory_services
from bench.profile import CpuMeter, java_pid
from producer.runner import FELL_BEHIND
from stack.embedded import EmbeddedStack
from wikistream.health import messages_written

LAG_BOUND_S = 5.0
SAMPLE_EVERY_S = 10.0
MEMORY_EVERY_S = 5.0
DRAIN_AFTER_S = 120.0
_HEAP_INFO = re.compile(r"heap\s+total (\d+)K, used (\d+)K")
# The producer's stats line (producer/runner.py StatsLine) and its warning when it cannot keep pace.
_IN_FLIGHT = re.compile(r"errors \d+, in flight (\d+)")
_FELL_BEHIND = re.compile(re.escape(FELL_BEHIND).replace(re.escape("%.1f"), r"([\d.]+)"))


@dataclass
class LagSample:
    at_s: float
    lag: int
    landed: int


@dataclass
class SustainedResult:
    rate: int
    seconds: int
    sent: int
    landed: int
    producer_eps: float
    lag: list[LagSample] = field(default_factory=list)
    per_minute_latency_ms: list[dict[str, float]] = field(default_factory=list)
    heap_after_gc_mib: dict[str, float] = field(default_factory=dict)
    checkpoints: list[dict[str, float]] = field(default_factory=list)
    rows_written_per_event: dict[str, float] = field(default_factory=dict)
    cpu_us_per_event: dict[str, float] = field(default_factory=dict)
    # Sent but not yet acknowledged by Kafka, every 5 s: a delay before Kafka shows here, not in lag.
    producer_in_flight: list[int] = field(default_factory=list)
    producer_fell_behind_s: float = 0.0
    # Pss of each service (bench/memory.py): the highest while the run went, and at its end.
    peak_memory_mib: dict[str, float] = field(default_factory=dict)
    end_memory_mib: dict[str, float] = field(default_factory=dict)

    @property
    def lag_at_end(self) -> int:
        """The lag at the last sample taken while the producer was still sending."""
        live = [sample for sample in self.lag if sample.at_s <= self.seconds]
        return live[-1].lag if live else 0

    @property
    def holds(self) -> bool:
        return self.landed == self.sent and self.lag_at_end <= self.rate * LAG_BOUND_S

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"lag_at_end": self.lag_at_end, "holds": self.holds}


def heap_after_gc_mib(pid: int) -> float:
    """The TaskManager's used heap right after a full collection (jcmd, from the JDK)."""
    subprocess.run(["jcmd", str(pid), "GC.run"], capture_output=True, check=True, timeout=60)
    info = subprocess.run(["jcmd", str(pid), "GC.heap_info"], capture_output=True, text=True, check=True, timeout=60)
    match = _HEAP_INFO.search(info.stdout)
    if match is None:
        raise RuntimeError(f"no heap figure in jcmd GC.heap_info: {info.stdout[:300]}")
    return int(match.group(2)) / 1024


def read_producer_log(log: str) -> tuple[list[int], float]:
    """From a producer's stderr: events in flight at each stats line, and the seconds of pace it gave up."""
    return [int(n) for n in _IN_FLIGHT.findall(log)], sum(float(s) for s in _FELL_BEHIND.findall(log))


def _rows_written(stack: EmbeddedStack) -> dict[str, int]:
    """Inserted plus updated rows of each stream table since the statistics were reset."""
    with closing(measure.connect(stack)) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute(
            "SELECT relname, n_tup_ins + n_tup_upd FROM pg_stat_user_tables WHERE relname = ANY(%s)",
            (list(measure.STREAM_TABLES),),
        )
        return {name: int(count) for name, count in cur.fetchall()}


def _per_minute_latency(stack: EmbeddedStack) -> list[dict[str, float]]:
    with closing(measure.connect(stack)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT minute, count(*), percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY lat),"
            "  percentile_cont(0.95) WITHIN GROUP (ORDER BY to_flink) FROM ("
            "  SELECT floor(extract(epoch FROM event_time - min(event_time) OVER ()) / 60)::int AS minute,"
            "   extract(epoch FROM pg_xact_commit_timestamp(xmin) - event_time) * 1000 AS lat,"
            "   extract(epoch FROM ingested_at - event_time) * 1000 AS to_flink FROM clicks) t"
            " GROUP BY minute ORDER BY minute"
        )
        # to_flink: from the event's time until Flink made its row (producer, Kafka, the job's queues);
        # the rest of the latency is the sink's batching and PostgreSQL's commit.
        return [
            {"minute": minute, "rows": rows, "p50_ms": p[0], "p95_ms": p[1], "p99_ms": p[2], "p95_to_flink_ms": f}
            for minute, rows, p, f in cur.fetchall()
        ]


def _checkpoints(stack: EmbeddedStack, job_id: str) -> list[dict[str, float]]:
    history = stack.flink.rest.checkpoints(job_id).get("history", [])
    return [
        {
            "id": entry["id"],
            "state_mib": entry.get("state_size", 0) / 2**20,
            "checkpointed_mib": entry.get("checkpointed_size", 0) / 2**20,
            "duration_ms": entry.get("end_to_end_duration", 0),
        }
        for entry in sorted(history, key=lambda e: e["id"])
        if entry.get("status") == "COMPLETED"
    ]


def sustained_run(
    stack: EmbeddedStack,
    config: measure.JobConfig,
    topic: str,
    rate: int,
    seconds: int,
    group: str,
    timed: AbstractContextManager[object] | None = None,
) -> SustainedResult:
    """The producer at `rate` events/s for `seconds`, the job reading live; every figure of one run.

    `timed` is entered while the producer sends (the profiler samples exactly the live part).
    """
    measure.truncate_stream_tables(stack)
    stack.kafka.ensure_topic(topic, stack.settings.kafka_topic_partitions)
    env = stack.job_env() | config.env | {"KAFKA_TOPIC": topic, "KAFKA_GROUP_ID": group}
    job_id = stack.flink.submit(env, restore_from=None)
    total = rate * seconds
    taskmanager = java_pid(stack.flink.taskmanager)
    try:
        measure.wait_running(stack, job_id)
        result = SustainedResult(rate, seconds, total, 0, 0.0)
        result.heap_after_gc_mib["start"] = heap_after_gc_mib(taskmanager)
        written_before = _rows_written(stack)
        cpu = CpuMeter(stack)
        cpu.start()
        with MemorySampler(memory_services(stack), interval_s=MEMORY_EVERY_S) as memory:
            with tempfile.TemporaryFile("w+") as stderr, timed or nullcontext():
                producer = subprocess.Popen(
                    measure.producer_command(total, *measure.paced(rate)),
                    env=stack.producer_env() | {"KAFKA_TOPIC": topic},
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    text=True,
                )
                started = time.monotonic()
                _sample_until(stack, result, job_id, topic, started, lambda: producer.poll() is not None)
                stderr.seek(0)
                log = stderr.read()
                result.producer_eps = measure.producer_outcome(producer.wait(), log, total)
                result.producer_in_flight, result.producer_fell_behind_s = read_producer_log(log)
            deadline = time.monotonic() + DRAIN_AFTER_S
            _sample_until(
                stack, result, job_id, topic, started, lambda: result.landed >= total or time.monotonic() > deadline
            )
        cpu.stop()
        result.peak_memory_mib, result.end_memory_mib = memory.peaks_mib, memory.last_mib
        written_after = _rows_written(stack)
        result.heap_after_gc_mib["end"] = heap_after_gc_mib(taskmanager)
    finally:
        stack.flink.rest.cancel(job_id)
    result.per_minute_latency_ms = _per_minute_latency(stack)
    result.rows_written_per_event = {
        name: (written_after.get(name, 0) - written_before.get(name, 0)) / total for name in measure.STREAM_TABLES
    }
    result.cpu_us_per_event = {name: seconds_used * 1e6 / total for name, seconds_used in cpu.seconds.items()}
    return result


def _sample_until(
    stack: EmbeddedStack, result: SustainedResult, job_id: str, topic: str, started: float, done: Callable[[], bool]
) -> None:
    """Lag, landed rows and new checkpoints every SAMPLE_EVERY_S until done() says so.

    Checkpoints are read as the run goes: Flink's history keeps only the newest ten.

    The lag is what Kafka holds and PostgreSQL does not yet (every message of the run is a valid
    click), not the consumer group's: Flink commits offsets only when a checkpoint completes, so
    the group's lag saws by a checkpoint interval of events even while the job keeps up, and
    samples a little more than 10 s apart read the saw at a drifting phase, as a slow climb.
    """
    while not done():
        result.landed = int(measure.scalar(stack, "SELECT count(*) FROM clicks"))
        # Read after the count: a message written in between counts as lag, never the other way.
        lag = max(0, messages_written(stack.kafka.bootstrap, topic) - result.landed)
        result.lag.append(LagSample(round(time.monotonic() - started, 1), lag, result.landed))
        newest = result.checkpoints[-1]["id"] if result.checkpoints else -1
        result.checkpoints.extend(entry for entry in _checkpoints(stack, job_id) if entry["id"] > newest)
        time.sleep(SAMPLE_EVERY_S)
    result.landed = int(measure.scalar(stack, "SELECT count(*) FROM clicks"))


def step_rates(
    stack: EmbeddedStack, config: measure.JobConfig, rates: list[int], seconds: int, say: Callable[[str], None]
) -> tuple[int | None, list[SustainedResult]]:
    """Each rate in ascending order until one does not hold: (the highest that held, every run)."""
    runs: list[SustainedResult] = []
    best: int | None = None
    for rate in sorted(rates):
        say(f"sustained {seconds} s at {rate:,} events/s ...")
        run = sustained_run(stack, config, f"bench-sustain-{rate}", rate, seconds, f"bench-sustain-{rate}")
        runs.append(run)
        heap = run.heap_after_gc_mib
        say(
            f"  landed {run.landed:,} of {run.sent:,}, lag at end {run.lag_at_end:,},"
            f" heap after GC {heap.get('start', 0):.0f} -> {heap.get('end', 0):.0f} MiB:"
            f" {'holds' if run.holds else 'does not hold'}"
        )
        if not run.holds:
            break
        best = rate
    return best, runs
