"""The job's durations are checked where they are read, so a typo names its variable before Flink starts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from flink_job.settings import JobSettings, SessionSinkSettings, duration_seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("100 ms", 0.1), ("5 s", 5.0), ("5s", 5.0), ("30 min", 1800.0), ("2 h", 7200.0), ("1 d", 86400.0), ("250", 0.25)],
)
def test_flink_durations_are_read_as_flink_reads_them(text: str, seconds: float) -> None:
    assert duration_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5 sec", "-5 s", "1.5 s", "5 s 3 ms", "five s"])
def test_a_bad_duration_is_refused_with_its_variable(text: str) -> None:
    with pytest.raises(ValidationError, match="CHECKPOINT_INTERVAL"):
        JobSettings(POSTGRES_WRITER_PASSWORD="unused", CHECKPOINT_INTERVAL=text)


def test_the_session_flush_is_read_from_the_environment_without_the_jobs_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SESSION_STATS_FLUSH_INTERVAL", "7 s")
    monkeypatch.delenv("POSTGRES_WRITER_PASSWORD", raising=False)
    assert duration_seconds(SessionSinkSettings().session_flush_interval) == 7.0
