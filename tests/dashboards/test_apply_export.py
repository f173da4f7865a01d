"""apply and export against the stand-in Metabase: first run, idempotence, round trip, UI edits."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dashboards.admin_session import EMAIL_KEY, PASSWORD_KEY, AdminCredentialsMissing, open_admin_session
from dashboards.apply import native_query
from dashboards.definitions import DEFAULT_DEFINITIONS, DefinitionFile, dump_definitions, load_definitions
from dashboards.export import ExportError, export_definitions
from dashboards.managed_keys import split_key
from dashboards.metabase_client import MetabaseClient, MetabaseError
from tests.dashboards.metabase_standin import MetabaseStandIn
from tests.dashboards.operator import METABASE_SIDE_READER, Operator
from wikistream.settings import REPO_ROOT


def _export(operator: Operator, anchor: DefinitionFile) -> str:
    client, _ = operator.session()
    with client:
        return dump_definitions(export_definitions(client, anchor))


def test_first_apply_sets_up_metabase_and_builds_the_dashboard(
    operator: Operator, metabase: MetabaseStandIn, definitions: DefinitionFile
) -> None:
    report = operator.apply(definitions)

    assert stat.S_IMODE(operator.credentials_file.stat().st_mode) == 0o600
    assert f"{PASSWORD_KEY}=" in operator.credentials_file.read_text()
    [database] = metabase.databases.values()
    assert database["engine"] == "postgres"
    assert database["details"] | {"password": "-"} == {
        "host": "postgres",
        "port": 5432,
        "dbname": "wikistream",
        "user": "wikistream_reader",
        "password": "-",
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


def test_export_after_apply_reproduces_the_committed_file(
    operator: Operator, definitions: DefinitionFile, tmp_path: Path
) -> None:
    operator.apply(definitions)
    copy = tmp_path / "wikistream.yaml"
    copy.write_text(_export(operator, definitions))
    assert copy.read_bytes() == DEFAULT_DEFINITIONS.read_bytes()


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


def test_a_changed_database_address_is_updated_in_place(
    operator: Operator, metabase: MetabaseStandIn, definitions: DefinitionFile
) -> None:
    operator.apply(definitions)
    moved = METABASE_SIDE_READER.reached_as(host="db.internal", port=6543)

    assert operator.apply(definitions, moved).changes == ["updated the connection of database 'wikistream'"]
    [database] = metabase.databases.values()
    assert (database["details"]["host"], database["details"]["port"]) == ("db.internal", 6543)
    assert operator.apply(definitions, moved).changes == []
    assert operator.apply(definitions, moved, update_database_password=True).changes == [
        "updated the connection of database 'wikistream'"
    ]


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
    stored = dict(line.split("=", 1) for line in operator.credentials_file.read_text().splitlines())
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


def test_the_admin_file_is_private_even_under_a_permissive_umask(
    operator: Operator, definitions: DefinitionFile
) -> None:
    previous = os.umask(0)
    try:
        operator.apply(definitions)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(operator.credentials_file.stat().st_mode) == 0o600


def _cli(*args: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"WIKISTREAM_STATE_DIR": str(state_dir), "POSTGRES_READER_PASSWORD": "reader-secret"}
    return subprocess.run(
        [sys.executable, "-m", "dashboards", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_commands_apply_then_change_nothing_then_export_the_same_file(
    metabase: MetabaseStandIn, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    copy = tmp_path / "wikistream.yaml"
    copy.write_bytes(DEFAULT_DEFINITIONS.read_bytes())

    first = _cli("apply", "--metabase-url", metabase.url, "--definitions", str(copy), state_dir=state)
    second = _cli("apply", "--metabase-url", metabase.url, "--definitions", str(copy), state_dir=state)
    exported = _cli("export", "--metabase-url", metabase.url, "--definitions", str(copy), state_dir=state)

    assert first.returncode == 0, first.stderr
    assert "first-run setup done" in first.stdout
    assert f"{metabase.url}/dashboard/1#refresh=60" in first.stdout
    assert second.stdout.splitlines()[0] == "no changes"
    assert (exported.returncode, exported.stdout.strip()) == (0, f"{copy}: unchanged")
    assert copy.read_bytes() == DEFAULT_DEFINITIONS.read_bytes()
    assert not second.stderr, "the stand-in reports the targeted version, so there is no warning"
