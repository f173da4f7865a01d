"""apply and export against the stand-in Metabase: first run, idempotence, round trip, UI edits."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dashboards.admin_session import EMAIL_KEY, PASSWORD_KEY, AdminCredentialsMissing, open_admin_session
from dashboards.apply import native_query
from dashboards.definitions import DEFAULT_DEFINITIONS, DefinitionFile, dump_definitions, load_definitions
from dashboards.export import ExportError, export_definitions
from dashboards.managed_keys import split_key
from dashboards.metabase_client import Json, MetabaseClient, MetabaseError
from dashboards.reader_connection import ReaderConnection
from stack.preflight import free_port
from tests.dashboards.metabase_standin import CANNOT_CONNECT, MetabaseStandIn
from tests.dashboards.operator import Operator
from wikistream.env_file import read_env_file
from wikistream.settings import REPO_ROOT


def _export(operator: Operator, anchor: DefinitionFile) -> str:
    client, _ = operator.session()
    with client:
        return dump_definitions(export_definitions(client, anchor))


def _edited(definitions: DefinitionFile, *extra_cards: dict[str, Any], **layouts: dict[str, int]) -> DefinitionFile:
    """The definitions with cards added and some cards moved, validated as a file would be."""
    document = definitions.model_dump()
    for card in document["cards"]:
        card["layout"] |= layouts.get(card["key"], {})
    document["cards"] = [*document["cards"], *extra_cards]
    return DefinitionFile.model_validate(document)


EXTRA_CARD = {
    "key": "total_clicks",
    "name": "Total clicks",
    "display": "scalar",
    "sql": "SELECT sum(clicks)::bigint AS clicks\nFROM v_clicks_per_minute\n",
    "visualization_settings": {"scalar.field": "clicks"},
    "layout": {"row": 42, "col": 0, "size_x": 12, "size_y": 3},
}


def _as_sent(dashcard: Json, **changes: Any) -> Json:
    """A dashcard of a GET answer as the UI sends it back (without the card it embeds)."""
    return {name: value for name, value in dashcard.items() if name != "card"} | changes


@pytest.mark.slow
def test_first_apply_sets_up_metabase_and_builds_the_dashboard(
    operator: Operator, metabase: MetabaseStandIn, definitions: DefinitionFile
) -> None:
    report = operator.apply(definitions)

    assert stat.S_IMODE(operator.credentials_file.stat().st_mode) == 0o600
    assert f"{PASSWORD_KEY}=" in operator.credentials_file.read_text()
    [database] = metabase.databases.values()
    assert database["engine"] == "postgres"
    reader = operator.reader
    assert database["details"] == {
        "host": reader.host,
        "port": reader.port,
        "dbname": reader.dbname,
        "user": "wikistream_reader",
        "password": reader.password,
        "ssl": False,
    }
    assert [c["name"] for c in metabase.collections.values() if c["personal_owner_id"] is None] == ["Wikistream"]
    assert sorted(split_key(card["description"])[1] for card in metabase.cards.values()) == sorted(
        c.key for c in definitions.cards
    )
    for card in metabase.cards.values():
        wanted = definitions.card(split_key(card["description"])[1])
        assert card["dataset_query"]["native"]["query"] == wanted.sql
        assert card["dataset_query"]["database"] == database["id"]
        assert (card["name"], card["display"]) == (wanted.name, wanted.display)
    dashboard = metabase.dashboards[report.dashboard_id]
    placed = {
        metabase.cards[dc["card_id"]]["name"]: (dc["row"], dc["col"], dc["size_x"], dc["size_y"])
        for dc in dashboard["dashcards"]
    }
    assert placed == {c.name: (c.layout.row, c.layout.col, c.layout.size_x, c.layout.size_y) for c in definitions.cards}
    # The database, the collection, each card, then the dashboard: created, and its cards placed.
    assert len(report.changes) == 2 + len(definitions.cards) + 2
    assert report.changes[-1] == "updated dashboard 'Wikistream live clicks': dashcards, tabs"


@pytest.mark.slow
def test_a_second_apply_writes_nothing_and_duplicates_nothing(
    operator: Operator, metabase: MetabaseStandIn, definitions: DefinitionFile
) -> None:
    operator.apply(definitions)
    writes_after_first = len(metabase.writes())
    cards_after_first = dict(metabase.cards)

    report = operator.apply(definitions)

    assert report.changes == []
    assert len(metabase.writes()) == writes_after_first
    assert metabase.cards == cards_after_first
    assert [r.path for r in metabase.requests].count("/api/setup") == 1
    assert metabase.requests[-1].method == "GET"


@pytest.mark.slow
def test_export_after_apply_reproduces_the_committed_file(
    operator: Operator, definitions: DefinitionFile, tmp_path: Path
) -> None:
    operator.apply(definitions)
    copy = tmp_path / "wikistream.yaml"
    copy.write_text(_export(operator, definitions))
    assert copy.read_bytes() == DEFAULT_DEFINITIONS.read_bytes()


@pytest.mark.slow
def test_a_change_made_in_the_ui_is_exported_and_applies_without_writes(
    operator: Operator, metabase: MetabaseStandIn, definitions: DefinitionFile, tmp_path: Path
) -> None:
    report = operator.apply(definitions)
    client, _ = operator.session()
    with client:  # an editor in the UI: renames a card, edits its SQL, makes another card wider
        dashboard = client.dashboard(report.dashboard_id)
        by_key = {split_key(dc["card"]["description"])[1]: dc for dc in dashboard["dashcards"]}
        renamed = by_key["latest_clicks"]["card_id"]
        client.update_card(
            renamed,
            {
                "name": "Newest clicks",
                "dataset_query": native_query(
                    dashboard["dashcards"][0]["card"]["dataset_query"]["database"],
                    "SELECT event_time, user_id\nFROM v_latest_clicks\nORDER BY event_time DESC   \nLIMIT 10\n",
                ),
            },
        )
        moved = [dict(dc) for dc in dashboard["dashcards"]]
        for dashcard in moved:
            dashcard.pop("card")
            if dashcard["id"] == by_key["clicks_by_country"]["id"]:
                dashcard.update(row=90, col=0, size_x=24)
        client.update_dashboard(report.dashboard_id, {"dashcards": moved, "tabs": []})

    exported_path = tmp_path / "exported.yaml"
    exported_path.write_text(_export(operator, definitions))
    exported = load_definitions(exported_path)

    latest = exported.card("latest_clicks")
    assert latest.name == "Newest clicks"
    assert latest.sql == "SELECT event_time, user_id\nFROM v_latest_clicks\nORDER BY event_time DESC\nLIMIT 10\n"
    assert exported.card("clicks_by_country").layout.model_dump() == {"row": 90, "col": 0, "size_x": 24, "size_y": 7}
    # Cards come in layout order: the card moved to the bottom is last now.
    keys = [card.key for card in exported.cards]
    assert keys == [card.key for card in sorted(exported.cards, key=lambda c: (c.layout.row, c.layout.col))]
    assert keys[-1] == "clicks_by_country"

    writes_before = len(metabase.writes())
    operator.apply(exported)
    # Only the SQL's trailing spaces differ between the UI's text and the exported file.
    assert [w.path for w in metabase.writes()[writes_before:]] == [f"/api/card/{renamed}"]
    assert operator.apply(exported).changes == []
    # Applying the committed file again undoes the UI edit; exporting then gives the committed file back.
    operator.apply(definitions)
    assert _export(operator, definitions) == DEFAULT_DEFINITIONS.read_text()


@pytest.mark.slow
def test_an_unmarked_card_with_the_same_name_is_adopted_not_duplicated(
    operator: Operator, metabase: MetabaseStandIn, definitions: DefinitionFile
) -> None:
    operator.apply(definitions)
    latest = next(card for card in metabase.cards.values() if card["name"] == "Latest clicks")
    client, _ = operator.session()
    with client:  # someone dropped the marker from the description in the UI
        client.update_card(latest["id"], {"description": "Just the newest clicks."})

    report = operator.apply(definitions)

    assert len(metabase.cards) == len(definitions.cards)
    assert report.changes == ["updated card latest_clicks: description"]
    assert split_key(metabase.cards[latest["id"]]["description"]) == (
        definitions.card("latest_clicks").description,
        "latest_clicks",
    )


@pytest.mark.slow
def test_a_changed_database_address_is_updated_in_place(
    operator: Operator, metabase: MetabaseStandIn, definitions: DefinitionFile
) -> None:
    operator.apply(definitions)
    # Another name of the same server: Metabase logs in again before it stores the new address.
    moved = operator.reader.reached_as(host="localhost")

    assert operator.apply(definitions, moved).changes == ["updated the connection of database 'wikistream'"]
    [database] = metabase.databases.values()
    assert (database["details"]["host"], database["details"]["port"]) == ("localhost", moved.port)
    assert operator.apply(definitions, moved).changes == []
    assert operator.apply(definitions, moved, update_database_password=True).changes == [
        "updated the connection of database 'wikistream'"
    ]


@pytest.mark.slow
def test_an_unreachable_database_stops_apply_with_metabases_message(
    operator: Operator, metabase: MetabaseStandIn, definitions: DefinitionFile
) -> None:
    nowhere = operator.reader.reached_as(port=free_port())

    with pytest.raises(MetabaseError) as raised:
        operator.apply(definitions, nowhere)

    assert raised.value.status == 400
    assert str(raised.value) == (
        f"POST /api/database answered HTTP 400: {CANNOT_CONNECT['message']} "
        "(host: check your host settings; port: check your port settings)"
    )
    assert metabase.databases == {} and metabase.cards == {}


@pytest.mark.slow
def test_moving_the_database_to_an_unreachable_address_keeps_the_old_one(
    operator: Operator, metabase: MetabaseStandIn, definitions: DefinitionFile
) -> None:
    operator.apply(definitions)

    with pytest.raises(MetabaseError, match="PUT /api/database/1 answered HTTP 400: Hmm, we couldn't connect"):
        operator.apply(definitions, operator.reader.reached_as(port=free_port()))

    assert metabase.databases[1]["details"]["port"] == operator.reader.port
    assert operator.apply(definitions).changes == []


@pytest.mark.slow
def test_settings_written_another_way_apply_once_and_then_write_nothing(
    operator: Operator, metabase: MetabaseStandIn, definitions: DefinitionFile, tmp_path: Path
) -> None:
    # The freshness card's settings as an older Metabase, or a hand edit, writes them.
    text = DEFAULT_DEFINITIONS.read_text().replace(
        """        '["name","lag_seconds"]':
          suffix: ' s'
      scalar.field: lag_seconds
""",
        """        '["ref", ["field", "lag_seconds", {"base-type": "type/BigInteger"}]]':
          suffix: ' s'
          prefix: null
      scalar.field: lag_seconds
      graph.show_values: null
""",
    )
    assert text != DEFAULT_DEFINITIONS.read_text()
    hand_written = tmp_path / "hand-written.yaml"
    hand_written.write_text(text)
    edited = load_definitions(hand_written)

    operator.apply(edited)
    writes_after_first = len(metabase.writes())

    assert operator.apply(edited).changes == []
    assert len(metabase.writes()) == writes_after_first
    # The file Metabase's copy exports to is the committed, canonical one.
    assert _export(operator, edited) == DEFAULT_DEFINITIONS.read_text()


@pytest.mark.slow
def test_an_older_key_form_that_metabase_kept_counts_as_the_same_setting(
    operator: Operator, metabase: MetabaseStandIn, definitions: DefinitionFile
) -> None:
    operator.apply(definitions)
    [freshness] = [card for card in metabase.cards.values() if card["name"] == "Pipeline freshness"]
    # A Metabase that keeps the key form an older UI saved (no call to the stand-in stores it, so it is set here).
    freshness["visualization_settings"]["column_settings"] = {
        '["ref",["field","lag_seconds",{"base-type":"type/BigInteger"}]]': {"suffix": " s"}
    }
    writes_before = len(metabase.writes())

    assert operator.apply(definitions).changes == []
    assert len(metabase.writes()) == writes_before
    assert _export(operator, definitions) == DEFAULT_DEFINITIONS.read_text()


@pytest.mark.slow
def test_tabs_added_in_the_ui_are_kept_and_new_cards_land_on_the_first(
    operator: Operator, metabase: MetabaseStandIn, definitions: DefinitionFile
) -> None:
    report = operator.apply(definitions)
    client, _ = operator.session()
    with client:  # an editor splits the dashboard into two tabs and writes a note on the second
        dashboard = client.dashboard(report.dashboard_id)
        note = {"id": -1, "card_id": None, "dashboard_tab_id": -2, "row": 0, "col": 0, "size_x": 8, "size_y": 2}
        client.update_dashboard(
            report.dashboard_id,
            {
                "dashcards": [_as_sent(dc, dashboard_tab_id=-1) for dc in dashboard["dashcards"]] + [note],
                "tabs": [{"id": -1, "name": "Live"}, {"id": -2, "name": "Notes"}],
            },
        )
    live, notes = (tab["id"] for tab in metabase.dashboards[report.dashboard_id]["tabs"])
    edited = _edited(definitions, EXTRA_CARD, clicks_by_country={"row": 90})

    assert operator.apply(edited).changes == [
        "created card total_clicks",
        "updated dashboard 'Wikistream live clicks': dashcards, tabs",
    ]

    board = metabase.dashboards[report.dashboard_id]
    assert [(tab["id"], tab["name"]) for tab in board["tabs"]] == [(live, "Live"), (notes, "Notes")]
    tab_by_card = {
        metabase.cards[dc["card_id"]]["name"] if dc["card_id"] else None: dc["dashboard_tab_id"]
        for dc in board["dashcards"]
    }
    assert tab_by_card == {card.name: live for card in edited.cards} | {None: notes}
    assert operator.apply(edited).changes == []
    assert _export(operator, edited) == dump_definitions(edited)


@pytest.mark.slow
def test_dashcards_placed_before_tabs_were_added_get_the_first_tab(
    operator: Operator, metabase: MetabaseStandIn, definitions: DefinitionFile
) -> None:
    report = operator.apply(definitions)
    client, _ = operator.session()
    with client:  # tabs added through the API, leaving the dashcards without one (v0.56 allows that)
        dashboard = client.dashboard(report.dashboard_id)
        client.update_dashboard(
            report.dashboard_id,
            {"dashcards": [_as_sent(dc) for dc in dashboard["dashcards"]], "tabs": [{"id": -1, "name": "Tab 1"}]},
        )
    [tab] = metabase.dashboards[report.dashboard_id]["tabs"]
    assert {dc["dashboard_tab_id"] for dc in metabase.dashboards[report.dashboard_id]["dashcards"]} == {None}

    operator.apply(_edited(definitions, clicks_by_country={"row": 90}))

    assert {dc["dashboard_tab_id"] for dc in metabase.dashboards[report.dashboard_id]["dashcards"]} == {tab["id"]}


def test_an_already_set_up_metabase_needs_known_admin_credentials(
    operator: Operator, metabase: MetabaseStandIn, tmp_path: Path
) -> None:
    client, session = operator.session()
    client.close()
    assert session.first_run

    with MetabaseClient(metabase.url) as stranger, pytest.raises(AdminCredentialsMissing):
        open_admin_session(stranger, tmp_path / "elsewhere" / "metabase-admin.env", site_name="wikistream")


def test_environment_credentials_win_over_the_file(
    operator: Operator, metabase: MetabaseStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator.session()[0].close()
    stored = read_env_file(operator.credentials_file)
    monkeypatch.setenv(EMAIL_KEY, stored[EMAIL_KEY])
    monkeypatch.setenv(PASSWORD_KEY, "a-wrong-password-1")
    with pytest.raises(MetabaseError) as raised:
        operator.session()
    assert raised.value.status == 401
    monkeypatch.setenv(PASSWORD_KEY, stored[PASSWORD_KEY])
    client, session = operator.session()
    client.close()
    assert not session.first_run and session.version_matches


def test_export_before_any_apply_says_what_to_do(operator: Operator, definitions: DefinitionFile) -> None:
    with pytest.raises(ExportError, match="make dashboards"):
        _export(operator, definitions)


@pytest.mark.slow
def test_the_admin_file_is_private_even_under_a_permissive_umask(
    operator: Operator, definitions: DefinitionFile
) -> None:
    previous = os.umask(0)
    try:
        operator.apply(definitions)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(operator.credentials_file.stat().st_mode) == 0o600


def _cli(*args: str, state_dir: Path, reader: ReaderConnection) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "WIKISTREAM_STATE_DIR": str(state_dir),
        "POSTGRES_PORT": str(reader.port),
        "POSTGRES_DB": reader.dbname,
        "POSTGRES_READER_PASSWORD": reader.password,
        "METABASE_DB_HOST": reader.host,
        "METABASE_DB_PORT": str(reader.port),
    }
    return subprocess.run(
        [sys.executable, "-m", "dashboards", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_the_commands_apply_then_change_nothing_then_export_the_same_file(
    metabase: MetabaseStandIn, metabase_side_reader: ReaderConnection, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    copy = tmp_path / "wikistream.yaml"
    copy.write_bytes(DEFAULT_DEFINITIONS.read_bytes())
    options = ("--metabase-url", metabase.url, "--definitions", str(copy))

    first = _cli("apply", *options, state_dir=state, reader=metabase_side_reader)
    second = _cli("apply", *options, state_dir=state, reader=metabase_side_reader)
    exported = _cli("export", *options, state_dir=state, reader=metabase_side_reader)

    assert first.returncode == 0, first.stderr
    assert "first-run setup done" in first.stdout
    assert f"{metabase.url}/dashboard/1#refresh=60" in first.stdout
    assert second.stdout.splitlines()[0] == "no changes"
    assert (exported.returncode, exported.stdout.strip()) == (0, f"{copy}: unchanged")
    assert copy.read_bytes() == DEFAULT_DEFINITIONS.read_bytes()
    assert not second.stderr, "the stand-in reports the targeted version, so there is no warning"


@pytest.mark.slow
def test_the_apply_command_names_what_metabase_says_about_an_unreachable_database(
    metabase: MetabaseStandIn, metabase_side_reader: ReaderConnection, tmp_path: Path
) -> None:
    nowhere = metabase_side_reader.reached_as(port=free_port())

    result = _cli("apply", "--metabase-url", metabase.url, state_dir=tmp_path / "state", reader=nowhere)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: POST /api/database answered HTTP 400: {CANNOT_CONNECT['message']} "
        "(host: check your host settings; port: check your port settings)"
    )
