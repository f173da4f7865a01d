"""The definition file format: canonical, validated, and the key marker that ties items to it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from dashboards.definitions import DEFAULT_DEFINITIONS, DefinitionFile, dump_definitions, load_definitions
from dashboards.managed_keys import key_from_name, split_key, with_key

REQUIRED_CARDS = {
    "clicks_per_minute",
    "top_articles_5m",
    "top_articles_60m",
    "referrer_categories",
    "clicks_by_country",
    "latest_clicks",
    "pipeline_freshness",
    "rejected_events",
    "pipeline_health",
    "consumer_lag",
    "restarts_10m",
}


def _card(key: str = "k", **layout: int) -> dict[str, Any]:
    return {
        "key": key,
        "name": key.title(),
        "display": "table",
        "sql": "SELECT 1",
        "layout": {"row": 0, "col": 0, "size_x": 4, "size_y": 3} | layout,
    }


def _file(*cards: dict[str, Any]) -> dict[str, Any]:
    return {"dashboard": {"key": "d", "name": "D", "collection": "C"}, "cards": list(cards)}


def test_the_committed_file_is_in_the_canonical_format() -> None:
    text = DEFAULT_DEFINITIONS.read_text()
    assert dump_definitions(load_definitions(DEFAULT_DEFINITIONS)) == text


def test_the_dashboard_has_every_required_card_and_refreshes_every_minute() -> None:
    definitions = load_definitions(DEFAULT_DEFINITIONS)
    assert {card.key for card in definitions.cards} >= REQUIRED_CARDS
    assert definitions.dashboard.refresh_seconds == 60


def test_cards_do_not_overlap_on_the_grid() -> None:
    cells: dict[tuple[int, int], str] = {}
    for card in load_definitions(DEFAULT_DEFINITIONS).cards:
        for row in range(card.layout.row, card.layout.row + card.layout.size_y):
            for col in range(card.layout.col, card.layout.col + card.layout.size_x):
                assert (row, col) not in cells, f"{card.key} overlaps {cells[(row, col)]}"
                cells[(row, col)] = card.key


@pytest.mark.parametrize(
    "cards",
    [
        (_card(col=20, size_x=8),),  # wider than the 24-column grid
        (_card(size_y=0),),
        (_card("same"), _card("same", row=5)),
        (_card("Not A Key"),),
    ],
)
def test_invalid_definitions_are_rejected(cards: tuple[dict[str, Any], ...]) -> None:
    with pytest.raises(ValidationError):
        DefinitionFile.model_validate(_file(*cards))


def test_dumping_normalises_sql_into_a_readable_literal_block() -> None:
    card = _card() | {"sql": "\nSELECT 1   \n\tFROM t\t\n\n"}
    text = dump_definitions(DefinitionFile.model_validate(_file(card)))
    assert "    sql: |\n      SELECT 1\n          FROM t\n" in text
    assert DefinitionFile.model_validate(yaml.safe_load(text)).cards[0].sql == "SELECT 1\n    FROM t\n"


def test_visualization_settings_load_in_one_canonical_form() -> None:
    settings = {
        "column_settings": {
            '[ "name", "lag_seconds" ]': {"suffix": " s", "prefix": None},
            '["ref",["field","clicks",{"base-type":"type/BigInteger"}]]': {"decimals": 0},
            '["ref",["field",7,null]]': {"decimals": 1},
            "not json": {"decimals": 2},
        },
        "graph.show_values": None,
        "graph.metrics": ["clicks"],
    }
    card = _card() | {"visualization_settings": settings}
    [loaded] = DefinitionFile.model_validate(_file(card)).cards
    assert loaded.visualization_settings == {
        "column_settings": {
            '["name","lag_seconds"]': {"suffix": " s"},
            '["name","clicks"]': {"decimals": 0},
            '["ref",["field",7,null]]': {"decimals": 1},
            "not json": {"decimals": 2},
        },
        "graph.metrics": ["clicks"],
    }


printable = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)


@given(printable, st.from_regex(r"[a-z0-9][a-z0-9_]{0,20}", fullmatch=True))
def test_the_key_marker_round_trips(description: str, key: str) -> None:
    assert split_key(with_key(description, key)) == (description, key)


def test_a_description_without_a_marker_has_no_key() -> None:
    assert split_key("Clicks per minute [not a marker]") == ("Clicks per minute [not a marker]", None)
    assert split_key(None) == ("", None)


def test_ui_titles_become_keys() -> None:
    assert key_from_name("Top articles (last 5 minutes)") == "top_articles_last_5_minutes"
    assert key_from_name("¿?") == "card"
