"""The command line end to end, without Kafka or PostgreSQL: dry runs, signals, unreachable services."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO

import pytest

from producer.settings import KafkaClient
from wikistream.events import EVENT_FIELDS, ClickEvent
from wikistream.postgres import SEEDER_USER

REPO_ROOT = Path(__file__).resolve().parents[2]
CLOSED_PORT = "9"  # discard: nothing listens on it on loopback, connections are refused at once


def _events(stdout: bytes) -> list[ClickEvent]:
    return [ClickEvent(**json.loads(line)) for line in stdout.splitlines()]


def test_a_dry_run_writes_exactly_total_json_lines_reproducibly(run_producer) -> None:
    args = ("run", "--dry-run", "--total", "3000", "--seed", "17", "--start-ms", "1700000000000")
    first, second = run_producer(*args), run_producer(*args)
    assert first.returncode == 0, first.stderr
    events = _events(first.stdout)
    assert len(events) == 3000
    assert first.stdout == second.stdout
    assert all(set(json.loads(line)) == {spec.name for spec in EVENT_FIELDS} for line in first.stdout.splitlines())
    # Unpaced, event time still follows the simulated clock at the nominal 50 clicks/s.
    span_s = (events[-1].event_time_ms - events[0].event_time_ms) / 1000
    assert 55 < span_s < 60
    assert Counter(event.type for event in events).keys() == {"link", "external", "other"}


def test_a_dry_run_says_its_clickstream_is_synthetic(run_producer) -> None:
    result = run_producer("run", "--dry-run", "--total", "10", "--seed", "1")
    log = result.stderr.decode()
    assert "SYNTHETIC clickstream (generated, not real Wikipedia data)" in log
    assert "seed 1 (pass --seed 1 to reproduce)" in log


def test_without_a_seed_the_seed_is_random_and_logged(run_producer) -> None:
    first = run_producer("run", "--dry-run", "--total", "5")
    second = run_producer("run", "--dry-run", "--total", "5")
    assert first.stdout != second.stdout
    assert "to reproduce" in first.stderr.decode()


def test_sigterm_flushes_and_exits_cleanly(data_dir: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "producer", "run", "--dry-run", "--pace", "--rate", "200", "--seed", "3"],
        cwd=REPO_ROOT,
        env=os.environ | {"PRODUCER_DATA_DIR": str(data_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first_line = process.stdout.readline()  # blocks until the producer is streaming
    process.send_signal(signal.SIGTERM)
    rest, log = process.communicate(timeout=60)
    assert process.returncode == 0, log
    assert "SIGTERM received: flushing and stopping" in log.decode()
    assert "done:" in log.decode()
    assert len(_events(first_line + rest)) >= 1  # every line written is a complete event


def test_the_dry_run_stops_quietly_when_its_reader_goes_away(data_dir: Path) -> None:
    producer = subprocess.Popen(
        [sys.executable, "-m", "producer", "run", "--dry-run", "--seed", "3"],
        cwd=REPO_ROOT,
        env=os.environ | {"PRODUCER_DATA_DIR": str(data_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    producer.stdout.readline()
    producer.stdout.close()  # like `| head -1` exiting
    log = producer.stderr.read()
    assert producer.wait(timeout=60) == 0, log
    assert b"Traceback" not in log and b"BrokenPipe" not in log


def test_seed_users_reports_an_unreachable_database_in_one_line(run_producer) -> None:
    result = run_producer("seed-users", "--count", "3", env={"POSTGRES_PORT": CLOSED_PORT})
    assert result.returncode == 1
    stderr = result.stderr.decode().strip().splitlines()
    assert stderr[-1].startswith(f"error: cannot connect to PostgreSQL {SEEDER_USER}@127.0.0.1:{CLOSED_PORT}/")
    assert "Traceback" not in result.stderr.decode()


@pytest.mark.parametrize("client", list(KafkaClient))
def test_run_reports_an_unreachable_kafka_after_retrying(run_producer, client: KafkaClient) -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{CLOSED_PORT}", "KAFKA_CONNECT_ATTEMPTS": "2"}
    result = run_producer("run", "--total", "10", "--client", client, env=env)
    assert result.returncode == 1
    log = result.stderr.decode()
    assert f"Kafka at 127.0.0.1:{CLOSED_PORT} not reachable (attempt 1 of 2)" in log
    assert (
        log.strip().splitlines()[-1].startswith(f"error: Kafka at 127.0.0.1:{CLOSED_PORT} unreachable after 2 attempts")
    )


def test_run_accepts_a_clickstream_file_or_a_model(write_tsv, tmp_path: Path, run_producer) -> None:
    rows = [("other-search", "Alpha", "external", 50), ("Alpha", "Beta", "link", 40)]
    source = write_tsv(rows, "clickstream-xxwiki-2024-01.tsv")
    args = ("run", "--dry-run", "--total", "200", "--seed", "2", "--start-ms", "1700000000000")
    from_file = run_producer(*args, "--clickstream", str(source))
    assert from_file.returncode == 0, from_file.stderr
    assert {e.curr for e in _events(from_file.stdout)} == {"Alpha", "Beta"}
    assert "SYNTHETIC" not in from_file.stderr.decode()
    model = tmp_path / "alpha.npz"
    assert run_producer("build-model", "--clickstream", str(source), "--out", str(model)).returncode == 0
    from_model = run_producer(*args, "--clickstream", str(model))
    assert from_model.stdout == from_file.stdout


def _producer(data_dir: Path, *args: str, stdout: int | IO[bytes] = subprocess.PIPE) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "producer", "run", "--dry-run", "--pace", "--seed", "3", *args],
        cwd=REPO_ROOT,
        env=os.environ | {"PRODUCER_DATA_DIR": str(data_dir)},
        stdout=stdout,
        stderr=subprocess.PIPE,
    )


def test_a_paced_run_emits_each_event_near_its_own_time(data_dir: Path) -> None:
    """Paced, events leave when their event time comes: unpaced, the last would leave seconds early."""
    rate, total = 400, 1200
    producer = _producer(data_dir, "--rate", str(rate), "--total", str(total))
    assert producer.stdout is not None
    early_or_late = []
    times = []
    for line in producer.stdout:
        read_ms = time.time() * 1000
        event_ms = json.loads(line)["event_time_ms"]
        times.append(event_ms)
        early_or_late.append(read_ms - event_ms)
    assert producer.wait(timeout=60) == 0, producer.stderr.read() if producer.stderr else ""
    assert len(times) == total
    # The event times span the run at the rate asked for (a step of the simulator is at most 100 ms).
    assert abs((max(times) - min(times)) / 1000 - total / rate) < 0.5
    worst = max(early_or_late, key=abs)
    assert abs(worst) < 1500, f"an event left {worst:.0f} ms after its event time (negative: before)"


def test_a_rate_the_machine_cannot_sustain_is_reported_and_event_times_stay_near_now(
    data_dir: Path, tmp_path: Path
) -> None:
    """At 100,000/s the producer falls behind the clock all run long. Each time it gives the lag up and
    moves event times forward; without that, after four warnings (>= 8 s) they would be seconds behind."""
    out = tmp_path / "events.jsonl"
    warnings: list[float] = []
    with out.open("wb") as sink:
        producer = _producer(data_dir, "--rate", "100000", stdout=sink)
        assert producer.stderr is not None
        deadline = time.monotonic() + 120
        try:
            while len(warnings) < 4 and time.monotonic() < deadline:
                line = producer.stderr.readline().decode()
                if "behind the wall clock: the rate is not sustainable here" in line:
                    warnings.append(time.time() * 1000)
        finally:
            producer.send_signal(signal.SIGTERM)
            producer.communicate(timeout=60)
    assert len(warnings) == 4, f"{len(warnings)} 'fell behind' warnings within 120 s at 100,000 events/s"
    last = json.loads(out.read_bytes().splitlines()[-1])["event_time_ms"]
    # Written after the last warning, within the 2 s it may lag plus a step's work of the clock then.
    assert warnings[-1] - 5_000 < last < time.time() * 1000 + 1_000
