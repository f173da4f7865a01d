"""Start and stop long-running services by process id, never by name.

Each service gets a pid file holding its pid and the kernel's start time for that pid, so a
stale pid file whose number was reused by an unrelated process is recognised and left alone.
Services run in their own session, so stopping one stops the whole process group it created.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from wikistream.atomic_file import write_atomically


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 (state) on; the command name before it may contain spaces."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def _live_processes() -> dict[int, list[str]]:
    """Every live (non-zombie) process: pid -> its stat fields (from field 3 on)."""
    live = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and fields[0] != "Z":
                live[int(entry.name)] = fields
    return live


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    return [pid for pid, fields in _live_processes().items() if int(fields[2]) == pgid]


def process_tree(pid: int) -> list[int]:
    """A live process and all its live descendants (empty when it is gone).

    Wider than its process group: PostgreSQL's backends each call setsid(), so they leave the group.
    """
    live = _live_processes()
    if pid not in live:
        return []
    children: dict[int, list[int]] = {}
    for child, fields in live.items():
        children.setdefault(int(fields[1]), []).append(child)
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def cpu_ticks(pid: int) -> int:
    """User plus system CPU a live process has used, in clock ticks (0 when it is gone)."""
    fields = _stat_fields(pid)
    # Fields 14 and 15 of stat: utime and stime.
    return int(fields[11]) + int(fields[12]) if fields is not None else 0


def _start_ticks(pid: int) -> str | None:
    fields = _stat_fields(pid)
    # Field 22 of stat is the start time, in clock ticks after boot.
    return fields[19] if fields is not None else None


class PopenIdentity(TypedDict, total=False):
    """The subprocess arguments that start a child as another account."""

    user: int
    group: int
    extra_groups: list[int]


def popen_identity(run_as: RunAs | None) -> PopenIdentity:
    return run_as.popen_kwargs() if run_as else {}


@dataclass(frozen=True)
class RunAs:
    """An unprivileged account to run a service as (PostgreSQL refuses to run as root)."""

    uid: int
    gid: int

    def popen_kwargs(self) -> PopenIdentity:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def become(self) -> None:
        """Drop to this account in the current process (a launcher, before it execs the service)."""
        os.setgroups([])
        os.setgid(self.gid)
        os.setuid(self.uid)


def unprivileged_identity(account: str = "nobody") -> RunAs | None:
    """The account to drop to when running as root; None when already unprivileged."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(account)
    return RunAs(uid=entry.pw_uid, gid=entry.pw_gid)


@dataclass(frozen=True)
class ManagedProcess:
    """A service started by the stack, known by its pid file and its log file."""

    name: str
    run_dir: Path
    log_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of the running service, or None when it is not running."""
        try:
            pid_text, ticks = self.pid_file.read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            return None
        return pid if _start_ticks(pid) == ticks else None

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(
        self,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        run_as: RunAs | None = None,
    ) -> int:
        """Start the command detached, logging to the service's log file; returns its pid."""
        running = self.pid()
        if running is not None:
            return running
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
                **popen_identity(run_as),
            )
        self.claim(proc.pid)
        return proc.pid

    def claim(self, pid: int) -> None:
        """Record pid as this service: a launcher calls it for itself before it execs the service."""
        write_atomically(self.pid_file, f"{pid} {_start_ticks(pid)}\n")

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the service's process group: SIGTERM, then SIGKILL after the timeout.

        Returns True when something was running.
        """
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._group_alive(pid):
            _reap(pid)
            time.sleep(0.2)
        if self._group_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            while self._group_alive(pid):
                _reap(pid)
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True

    def _group_alive(self, pid: int) -> bool:
        # The leader may exit before the children it started (a JVM under a shell script).
        return self.pid() is not None or bool(group_members(pid))


def _reap(pid: int) -> None:
    """Collect the exit status when the service is our own child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
