"""A producer killed with kill -9 and started again with its journal sends every event of its run exactly once."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient, NewTopic

from producer.journal import Journal, JournalWriter
from producer.model import ClickstreamModel
from producer.sessions import ClickSimulator, SimulationConfig, SimulatorState
from producer.settings import KafkaClient
from wikistream.settings import REPO_ROOT

TOTAL = 4000
USERS = [(f"user-{i}", 1.0 + i % 3) for i in range(30)]


def test_a_restored_simulator_continues_the_same_stream(small_model: ClickstreamModel) -> None:
    config = SimulationConfig(rate=400, speedup=20)
    first = ClickSimulator(small_model, USERS, config, 5, 1_700_000_000_000)
    for _ in range(150):
        first.step()
    state = json.loads(json.dumps(dataclasses.asdict(first.snapshot())))
    expected = [event for _ in range(300) for event in first.step()]
    other = ClickSimulator(small_model, USERS, config, 999, 0)
    other.restore(SimulatorState(**state))
    assert [event for _ in range(300) for event in other.step()] == expected
    # Numbered on from the snapshot (within a step, events are in time order, not number order).
    assert min(int(event.event_id.rsplit("-", 1)[1]) for event in expected) == state["emitted"]
    assert {event.event_id.rsplit("-", 1)[0] for event in expected} == {first.run_id}


@pytest.mark.slow
@pytest.mark.parametrize("client", list(KafkaClient))
def test_kill_9_then_restart_with_the_journal_loses_and_repeats_nothing(
    kafka_bootstrap: str,
    postgres_env: dict[str, str],
    run_producer,
    data_dir: Path,
    tmp_path: Path,
    client: KafkaClient,
) -> None:
    topic = f"journal-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(name=topic, num_partitions=2, replication_factor=1)])
    admin.close()
    env = (
        os.environ
        | postgres_env
        | {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "KAFKA_TOPIC": topic,
            "PRODUCER_DATA_DIR": str(data_dir),
            "PRODUCER_KAFKA_CLIENT": client.value,
        }
    )
    assert run_producer("seed-users", "--count", "50", "--source", "offline", env=env).returncode == 0
    command = [
        sys.executable,
        "-m",
        "producer",
        "run",
        "--total",
        str(TOTAL),
        "--rate",
        "500",
        "--journal",
        str(tmp_path / "journal.json"),
    ]
    first = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE)
    # Past a few checkpoints (every 5 s), with events in flight: then the hardest stop there is.
    time.sleep(7)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    second = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, timeout=120, check=False)
    assert second.returncode == 0, second.stderr.decode()[-2000:]
    assert b"RESUMING run" in second.stderr

    consumer = KafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=10_000
    )
    # Ticks (records with headers, no payload) are not events.
    ids = [json.loads(record.value)["event_id"] for record in consumer if not record.headers]
    consumer.close()
    runs = {event_id.rsplit("-", 1)[0] for event_id in ids}
    assert len(runs) == 1, runs
    numbers = Counter(int(event_id.rsplit("-", 1)[1]) for event_id in ids)
    assert sorted(numbers) == list(range(TOTAL)), "events missing"
    assert max(numbers.values()) == 1, f"sent twice: {[n for n, c in numbers.items() if c > 1][:10]}"


def test_a_checkpoint_that_cannot_be_written_keeps_the_last_one_and_the_stream_going(
    small_model: ClickstreamModel, tmp_path: Path
) -> None:
    simulator = ClickSimulator(small_model, USERS, SimulationConfig(rate=400, speedup=20), 5, 1_700_000_000_000)
    journal = Journal(tmp_path / "journal.json")
    writer = JournalWriter(journal, {"rate": 400}, {}, interval_s=0)

    def step() -> None:
        writer.before_step(simulator)
        events = simulator.step()
        delivered = writer.step(len(events))
        for offset, _ in enumerate(events):
            delivered(0, offset)

    step()
    step()
    saved = journal.path.read_bytes()
    # A directory where the temporary file goes: every write fails with a real OSError, as on ENOSPC.
    journal.path.with_suffix(".tmp").mkdir()
    step()
    assert journal.path.read_bytes() == saved
    journal.path.with_suffix(".tmp").rmdir()
    step()
    assert json.loads(journal.path.read_bytes())["state"]["emitted"] > json.loads(saved)["state"]["emitted"]
