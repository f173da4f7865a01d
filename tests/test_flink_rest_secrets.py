"""No password in Flink's REST API, its web UI's data, or any log file, with the job running.

Every REST endpoint the UI reads (tests/flink_rest_probe.py) is fetched, and so is every log file
of the stack. Jar upload and run through REST are off. Runs on the shared isolated stack
(tests/conftest.py); tests/terraform/test_stack.py runs the same probe on the container stack.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RunningStack
from tests.flink_rest_probe import assert_jar_upload_refused, probe_rest
from wikistream.credentials import load_or_create
from wikistream.layout import Layout
from wikistream.settings import stack_settings


def _base(running_stack: RunningStack) -> str:
    return f"http://127.0.0.1:{running_stack.env['FLINK_REST_PORT']}"


def test_no_password_in_any_rest_answer_or_log_file(running_stack: RunningStack) -> None:
    credentials = load_or_create(Layout(running_stack.state_dir).secrets_file)
    passwords = {
        "admin": credentials.admin_password,
        "seeder": credentials.seeder_password,
        "writer": credentials.writer_password,
        "reader": credentials.reader_password,
    }
    logs = [path for path in Path(running_stack.state_dir, "logs").rglob("*") if path.is_file()]
    probe = probe_rest(
        _base(running_stack),
        stack_settings().flink_job_name,
        passwords,
        ((log.name, log.read_text(errors="replace")) for log in logs),
    )
    assert probe.leaks == []
    # The probe saw the job: most endpoints answered, and the logs were there to read.
    assert probe.answered >= probe.paths * 0.8, f"only {probe.answered} of {probe.paths} endpoints answered"
    assert len(logs) >= 5


def test_jar_upload_and_run_are_refused(running_stack: RunningStack) -> None:
    assert_jar_upload_refused(_base(running_stack))
