"""Where `make dashboards` tells Metabase to find PostgreSQL when nothing says otherwise."""

from __future__ import annotations

import pytest

from dashboards.cli import metabase_side
from wikistream.settings import StackSettings


def test_metabase_reaches_postgres_on_the_container_port_not_the_published_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_READER_PASSWORD", "not-used-here")
    # A published port moved off 5432 must not move the port inside the container network.
    settings = StackSettings(postgres_port=15432, postgres_container_port=5432)  # type: ignore[call-arg]  # rest from stack.env
    reader = metabase_side(settings, "postgres", None)
    assert (reader.host, reader.port) == ("postgres", 5432)
    assert metabase_side(settings, "127.0.0.1", 15432).port == 15432
