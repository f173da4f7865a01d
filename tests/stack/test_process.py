from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from stack.process import ManagedProcess, cpu_ticks, group_members, process_tree


def _children(pid: int, name: str | None = None, timeout: float = 10.0) -> list[str]:
    """The pids of pid's children (named name), waiting up to timeout for the first one to appear."""
    command = ["pgrep", "-P", str(pid), *(["-x", name] if name else [])]
    deadline = time.monotonic() + timeout
    while True:
        children = subprocess.run(command, capture_output=True, text=True).stdout.split()
        if children or time.monotonic() > deadline:
            return children
        time.sleep(0.05)


def _service(tmp_path: Path) -> ManagedProcess:
    return ManagedProcess("sleeper", tmp_path / "run", tmp_path / "logs")


def test_start_writes_pid_file_and_stop_ends_the_process_group(tmp_path: Path) -> None:
    service = _service(tmp_path)
    # A parent with a child: stopping must end both, since services run in their own session.
    pid = service.start([sys.executable, "-c", "import subprocess; subprocess.run(['sleep', '300'])"])
    assert service.pid() == pid
    assert _children(pid), "the child process did not start"
    assert service.stop(timeout=10) is True
    assert not Path(f"/proc/{pid}").exists()
    assert group_members(pid) == []
    assert not service.pid_file.exists()


def test_start_is_idempotent_while_running(tmp_path: Path) -> None:
    service = _service(tmp_path)
    first = service.start(["sleep", "300"])
    try:
        assert service.start(["sleep", "300"]) == first
    finally:
        service.stop(timeout=10)


def test_stale_pid_file_of_a_reused_pid_is_not_trusted(tmp_path: Path) -> None:
    service = _service(tmp_path)
    service.run_dir.mkdir(parents=True)
    # Our own pid with a wrong start time: the file names a process that is not the service.
    service.pid_file.write_text(f"{os.getpid()} 1\n")
    assert service.pid() is None
    assert service.stop(timeout=1) is False
    assert Path(f"/proc/{os.getpid()}").exists()


def test_crash_is_detected(tmp_path: Path) -> None:
    service = _service(tmp_path)
    pid = service.start([sys.executable, "-c", "raise SystemExit(3)"])
    for _ in range(100):
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            break
    assert service.pid_file.exists()
    assert service.pid() is None


def test_process_tree_follows_children_that_left_the_process_group(tmp_path: Path) -> None:
    # Like PostgreSQL's backends: a child that called setsid() is no longer in its parent's group.
    service = _service(tmp_path)
    pid = service.start(["sh", "-c", "setsid sleep 300 & wait"])
    escaped: list[str] = []
    try:
        escaped = _children(pid, "sleep")
        assert escaped, "the setsid child did not start"
        child = int(escaped[0])
        assert child not in group_members(pid)
        assert process_tree(pid) == [pid, child]
    finally:
        for child_pid in escaped:
            os.kill(int(child_pid), signal.SIGKILL)
        service.stop(timeout=10)
    assert process_tree(pid) == []


def test_cpu_ticks_grow_while_a_process_computes(tmp_path: Path) -> None:
    service = _service(tmp_path)
    pid = service.start([sys.executable, "-c", "while True: pass"])
    try:
        deadline = time.monotonic() + 30
        while cpu_ticks(pid) < 10:  # a tenth of a second at the usual 100 ticks/s
            assert time.monotonic() < deadline, "no CPU time recorded for a busy process"
            time.sleep(0.05)
    finally:
        service.stop(timeout=10)
    assert cpu_ticks(pid) == 0
