"""supervisord outlives a full disk: every log it writes goes to /dev/full (each write fails with
ENOSPC, as on a full filesystem) while a program it supervises prints and exits again and again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path

from supervisor.xmlrpc import SupervisorTransport

from stack.supervision import Program, render_config
from wikistream.layout import Layout


def _chatty_python(path: Path) -> Path:
    """Stands for the Python a program runs with: prints a lot, then exits (to be restarted)."""
    path.write_text("#!/bin/sh\nfor i in $(seq 200); do echo 'a line that the full disk will refuse'; done\nexit 1\n")
    path.chmod(0o755)
    return path


def test_supervisord_keeps_restarting_its_programs_when_no_log_line_can_be_written(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "state")
    layout.log_dir.mkdir(parents=True)
    layout.run_dir.mkdir(parents=True)
    for log in ("supervisord.log", "chatty.log"):
        (layout.log_dir / log).symlink_to("/dev/full")
    config = layout.run_dir / "supervisord.conf"
    program = Program("chatty", startsecs=0, stopwaitsecs=5)
    config.write_text(render_config(layout, (program,), str(_chatty_python(tmp_path / "python"))))
    with open("/dev/full", "w") as full:
        supervisord = subprocess.Popen(
            [sys.executable, "-m", "stack.supervisord", "-c", str(config)], stdout=full, stderr=full
        )
    try:
        socket = f"unix://{layout.run_dir / 'supervisor.sock'}"

        def rpc() -> xmlrpc.client.ServerProxy:
            return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(None, None, socket))

        deadline = time.monotonic() + 30
        while True:
            try:
                rpc().supervisor.startProcess("chatty", False)
                break
            except OSError:
                assert supervisord.poll() is None and time.monotonic() < deadline, "supervisord did not come up"
                time.sleep(0.2)
        pids = set()
        deadline = time.monotonic() + 15
        while len(pids) < 5 and time.monotonic() < deadline:
            assert supervisord.poll() is None, f"supervisord exited ({supervisord.returncode}) on a full disk"
            pids.add(rpc().supervisor.getProcessInfo("chatty")["pid"])
            time.sleep(0.1)
        assert len(pids - {0}) >= 4, f"chatty restarted only {len(pids - {0})} times"
        assert supervisord.poll() is None
    finally:
        supervisord.send_signal(signal.SIGTERM)
        try:
            supervisord.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(supervisord.pid, signal.SIGKILL)
            supervisord.wait()
