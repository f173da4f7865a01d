"""Every card's SQL on a real PostgreSQL, as the read-only role, over rows the test wrote itself."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import psycopg2
import pytest

from dashboards.definitions import DEFAULT_DEFINITIONS, CardDefinition, load_definitions
from dashboards.reader_connection import ReaderConnection

CARDS = load_definitions(DEFAULT_DEFINITIONS).cards


def _run(reader: ReaderConnection, card: CardDefinition) -> tuple[list[str], list[tuple[Any, ...]]]:
    with closing(reader.connect()) as conn, conn.cursor() as cur:
        cur.execute(card.sql)
        return [column.name for column in cur.description], cur.fetchall()


def _columns_named_by(card: CardDefinition) -> set[str]:
    settings = card.visualization_settings
    named = set(settings.get("graph.dimensions", [])) | set(settings.get("graph.metrics", []))
    named |= {settings["scalar.field"]} if "scalar.field" in settings else set()
    # column_settings keys are JSON references such as '["name","lag_seconds"]'.
    named |= {key.split('"')[3] for key in settings.get("column_settings", {})}
    return named


@pytest.mark.parametrize("card", CARDS, ids=[card.key for card in CARDS])
def test_every_column_the_visualization_names_is_in_the_result(
    seeded_reader: ReaderConnection, card: CardDefinition
) -> None:
    columns, rows = _run(seeded_reader, card)
    assert rows, "the seeded rows should show on every card"
    assert _columns_named_by(card) <= set(columns)


EXPECTED: dict[str, tuple[list[str], Any]] = {
    "top_articles_5m": (["article", "clicks"], [("Alan_Turing", 5), ("Ada_Lovelace", 3)]),
    "top_articles_60m": (["article", "clicks"], [("Grace_Hopper", 7), ("Alan_Turing", 5), ("Ada_Lovelace", 3)]),
    "referrer_categories": (["referrer", "clicks"], [("search", 6), ("internal link", 2)]),
    "clicks_by_country": (["country", "clicks"], [("Germany", 5), ("Brazil", 3)]),
    "rejected_events": (["rejected_events"], [(3,)]),
    "sessions_last_hour": (["sessions"], [(2,)]),
    # The seeded health observation: lag 12 (7 + 5 over two partitions), one restart, recorded as degraded.
    "consumer_lag": (["consumer_lag", "status"], [(12, "DEGRADED")]),
    "restarts_10m": (["restarts_10m", "job_state"], [(1, "RUNNING")]),
}


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_cards_return_what_the_seeded_rows_imply(seeded_reader: ReaderConnection, key: str) -> None:
    columns, rows = _run(seeded_reader, next(card for card in CARDS if card.key == key))
    assert (columns, rows) == EXPECTED[key]


def test_clicks_per_minute_covers_the_last_hour_in_order(seeded_reader: ReaderConnection) -> None:
    columns, rows = _run(seeded_reader, next(card for card in CARDS if card.key == "clicks_per_minute"))
    assert columns == ["minute", "clicks"]
    # Grace_Hopper's minute (30 minutes ago), then the minute of Alan_Turing and Ada_Lovelace; not two hours ago.
    assert [clicks for _, clicks in rows] == [7, 8]
    assert (rows[1][0] - rows[0][0]).total_seconds() == 28 * 60


def test_the_live_feed_lists_the_newest_clicks_first(seeded_reader: ReaderConnection) -> None:
    columns, rows = _run(seeded_reader, next(card for card in CARDS if card.key == "latest_clicks"))
    assert columns == ["event_time", "user_id", "seq", "from_page", "to_article", "link_type"]
    assert [row[4] for row in rows] == ["Grace_Hopper", "Ada_Lovelace", "Alan_Turing"]
    assert rows[0][1:] == ("u2", 1, "other-empty", "Grace_Hopper", "other")


def test_freshness_is_the_age_of_the_newest_click(seeded_reader: ReaderConnection, postgres_dsn: str) -> None:
    columns, [(lag_seconds, newest_event)] = _run(
        seeded_reader, next(card for card in CARDS if card.key == "pipeline_freshness")
    )
    assert columns == ["lag_seconds", "newest_event"]
    # The newest seeded click is 30 s older than the database's clock at insert time.
    assert lag_seconds >= 30
    # As the admin: the reader may read the views only.
    with closing(psycopg2.connect(postgres_dsn)) as conn, conn.cursor() as cur:
        cur.execute("SELECT max(event_time) FROM clicks")
        assert newest_event == cur.fetchone()[0]


def test_the_health_table_shows_the_newest_observation(seeded_reader: ReaderConnection) -> None:
    columns, [row] = _run(seeded_reader, next(card for card in CARDS if card.key == "pipeline_health"))
    shown = dict(zip(columns, row, strict=True))
    assert shown | {"observed_seconds_ago": 0} == {
        "status": "DEGRADED",
        "reasons": "1 sink(s) retrying PostgreSQL",
        "job_state": "RUNNING",
        "tasks_running": 10,
        "tasks_total": 10,
        "restarts_10m": 1,
        "checkpoint_age_s": 4,
        "consumer_lag": 12,
        "newest_click_age_s": 0,  # 0.4 s, rounded
        "sink_retrying": 1,
        "quarantined_rows": 0,
        "last_exception": "IOException: <b>x</b>",
        "observed_seconds_ago": 0,
    }
    assert 0 <= shown["observed_seconds_ago"] < 60
