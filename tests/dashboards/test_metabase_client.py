"""The API client against the stand-in: start-up, sessions, one-time setup, server-assigned ids,
rejected bodies, the connection test of a registered database, tabs and saved settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from dashboards.apply import native_query
from dashboards.metabase_client import Json, MetabaseClient, MetabaseError, MetabaseUnreachable
from dashboards.reader_connection import ReaderConnection
from stack.preflight import free_port
from tests.dashboards.metabase_standin import (
    CANNOT_CONNECT,
    REDACTED_PASSWORD,
    SETUP_TAKEN,
    STILL_INITIALISING,
    TABS_NEED_EVERY_CARD,
    MetabaseStandIn,
)

PASSWORD = "s3cret-Passw0rd"


def _set_up(metabase: MetabaseStandIn) -> MetabaseClient:
    client = MetabaseClient(metabase.url)
    token = client.session_properties()["setup-token"]
    client.setup(token, "admin@wikistream.local", PASSWORD, "Wiki", "Admin", "wikistream")
    return client


def _details(reader: ReaderConnection) -> Json:
    return {
        "host": reader.host,
        "port": reader.port,
        "dbname": reader.dbname,
        "user": reader.user,
        "password": reader.password,
        "ssl": False,
    }


def _health_statuses(metabase: MetabaseStandIn) -> list[int]:
    return [r.status for r in metabase.requests if r.path == "/api/health"]


def test_health_and_properties_need_no_session(metabase: MetabaseStandIn) -> None:
    with MetabaseClient(metabase.url) as client:
        client.wait_until_healthy(timeout=5)
        properties = client.session_properties()
    assert properties["has-user-setup"] is False
    assert properties["setup-token"]


def test_the_stand_in_listens_where_it_is_told() -> None:
    # As Metabase does on MB_JETTY_HOST/MB_JETTY_PORT (the embedded stack runs the stand-in that way).
    port = free_port()
    with MetabaseStandIn(host="127.0.0.1", port=port) as metabase, MetabaseClient(metabase.url) as client:
        client.wait_until_healthy(timeout=5)
    assert metabase.url == f"http://127.0.0.1:{port}"


def test_an_unreachable_metabase_is_reported_after_the_timeout() -> None:
    with MetabaseClient(f"http://127.0.0.1:{free_port()}", timeout=2) as client, pytest.raises(MetabaseUnreachable):
        client.wait_until_healthy(timeout=0)


def test_the_wait_for_health_lasts_through_the_initialising_answers() -> None:
    with MetabaseStandIn(initialising_requests=3) as metabase, MetabaseClient(metabase.url) as client:
        client.wait_until_healthy(timeout=30, poll_interval=0.01)
    assert _health_statuses(metabase) == [503, 503, 503, 200]


def test_the_wait_reports_each_new_state() -> None:
    states: list[str] = []
    with MetabaseStandIn(initialising_requests=3) as metabase, MetabaseClient(metabase.url) as client:
        client.wait_until_healthy(timeout=30, poll_interval=0.01, on_state=states.append)
    assert _health_statuses(metabase) == [503, 503, 503, 200]
    assert states == [f"HTTP 503: still initializing, {done}% done" for done in (0, 33, 67)]


def test_the_wait_ends_at_once_when_the_process_is_gone() -> None:
    checks: list[bool] = []

    def alive() -> bool:
        checks.append(len(checks) < 2)
        return checks[-1]

    with (
        MetabaseStandIn(initialising_seconds=3600) as metabase,
        MetabaseClient(metabase.url) as client,
        pytest.raises(MetabaseUnreachable, match="Metabase exited while starting"),
    ):
        client.wait_until_healthy(timeout=60, poll_interval=0.01, alive=alive)
    assert _health_statuses(metabase) == [503, 503]


def test_while_initialising_other_routes_answer_503_until_the_time_is_up() -> None:
    started = time.monotonic()
    with MetabaseStandIn(initialising_seconds=0.5) as metabase, MetabaseClient(metabase.url) as client:
        with pytest.raises(MetabaseError) as raised:
            client.session_properties()
        client.wait_until_healthy(timeout=30, poll_interval=0.02)
        waited = time.monotonic() - started
        assert client.session_properties()["setup-token"]
    assert (raised.value.status, raised.value.detail) == (503, STILL_INITIALISING)
    assert waited >= 0.5
    assert _health_statuses(metabase)[-1] == 200 and _health_statuses(metabase).count(503) >= 2


def test_a_metabase_that_never_finishes_initialising_is_reported_at_the_deadline() -> None:
    with MetabaseStandIn(initialising_seconds=3600) as metabase, MetabaseClient(metabase.url) as client:
        started = time.monotonic()
        with pytest.raises(MetabaseUnreachable, match=r"after 1 s \(HTTP 503: still initializing, 0% done\)"):
            # A poll interval longer than the wait: the last pause is cut short at the deadline.
            client.wait_until_healthy(timeout=1, poll_interval=10)
        waited = time.monotonic() - started
    assert 1 <= waited < 4
    assert _health_statuses(metabase) == [503, 503]


def test_api_calls_without_a_session_are_unauthorised(metabase: MetabaseStandIn) -> None:
    with MetabaseClient(metabase.url) as client, pytest.raises(MetabaseError) as raised:
        client.databases()
    assert raised.value.status == 401


def test_a_wrong_session_is_unauthorised(metabase: MetabaseStandIn) -> None:
    _set_up(metabase).close()
    with MetabaseClient(metabase.url) as client:
        client._use_session("not-a-session")
        with pytest.raises(MetabaseError) as raised:
            client.collections()
    assert raised.value.status == 401


def test_setup_works_once_then_login_is_the_way_in(metabase: MetabaseStandIn) -> None:
    with _set_up(metabase) as client:
        assert client.databases() == []
        with pytest.raises(MetabaseError) as raised:
            client.setup(client.session_properties()["setup-token"], "other@wikistream.local", PASSWORD, "O", "T", "x")
    assert raised.value.status == 403
    assert raised.value.detail == SETUP_TAKEN
    with MetabaseClient(metabase.url) as client:
        client.login("admin@wikistream.local", PASSWORD)
        assert client.collections()[0]["id"] == "root"


def test_setup_with_a_wrong_token_is_rejected(metabase: MetabaseStandIn) -> None:
    with MetabaseClient(metabase.url) as client, pytest.raises(MetabaseError) as raised:
        client.setup("wrong-token", "admin@wikistream.local", PASSWORD, "Wiki", "Admin", "wikistream")
    assert raised.value.status == 400
    assert "token" in raised.value.detail


def test_a_wrong_password_is_unauthorised(metabase: MetabaseStandIn) -> None:
    _set_up(metabase).close()
    with MetabaseClient(metabase.url) as client, pytest.raises(MetabaseError) as raised:
        client.login("admin@wikistream.local", "not-the-password1")
    assert raised.value.status == 401


@pytest.mark.slow
def test_ids_are_assigned_by_the_server(metabase: MetabaseStandIn, metabase_side_reader: ReaderConnection) -> None:
    with _set_up(metabase) as client:
        database = client.create_database("wikistream", "postgres", _details(metabase_side_reader))
        collection = client.create_collection("Wikistream", "")
        card_body = {
            "name": "Numbers",
            "display": "table",
            "visualization_settings": {},
            "dataset_query": native_query(database["id"], "SELECT 1"),
            "collection_id": collection["id"],
        }
        first, second = client.create_card(card_body), client.create_card(card_body | {"name": "More"})
        dashboard = client.create_dashboard("Board", "", collection["id"])
        placed = client.update_dashboard(
            dashboard["id"],
            {
                "dashcards": [{"id": -1, "card_id": first["id"], "row": 0, "col": 0, "size_x": 4, "size_y": 3}],
                "tabs": [],
            },
        )
    assert first["id"] != second["id"]
    assert placed["dashcards"][0]["id"] > 0


@pytest.mark.slow
def test_the_database_password_is_never_shown_back(
    metabase: MetabaseStandIn, metabase_side_reader: ReaderConnection
) -> None:
    with _set_up(metabase) as client:
        client.create_database("wikistream", "postgres", _details(metabase_side_reader))
        shown = client.databases()[0]["details"]
    assert shown["password"] == REDACTED_PASSWORD


@pytest.mark.slow
@pytest.mark.parametrize(
    ("wrong", "detail"),
    [
        (
            lambda: {"port": free_port()},
            f"{CANNOT_CONNECT['message']} (host: check your host settings; port: check your port settings)",
        ),
        (lambda: {"password": "not-it"}, "Looks like your Password is incorrect. (password: check your password)"),
        (lambda: {"user": "nobody"}, "Looks like your Password is incorrect. (password: check your password)"),
        (
            lambda: {"dbname": "no_such_db"},
            "Looks like the Database name is incorrect. (dbname: check your database name settings)",
        ),
        # Any other refusal by the server: its words, capitalised, no field named.
        (lambda: {"dbname": "template0"}, 'Database "template0" is not currently accepting connections.'),
        # Not the server's: the driver's own words.
        (lambda: {"ssl": True}, "server does not support SSL, but SSL was required"),
    ],
    ids=["nothing-listens", "wrong-password", "unknown-user", "no-such-database", "refused-database", "no-ssl"],
)
def test_a_database_metabase_cannot_log_in_to_is_not_registered(
    metabase: MetabaseStandIn, metabase_side_reader: ReaderConnection, wrong: Callable[[], Json], detail: str
) -> None:
    with _set_up(metabase) as client, pytest.raises(MetabaseError) as raised:
        client.create_database("wikistream", "postgres", _details(metabase_side_reader) | wrong())
    assert raised.value.status == 400
    # Metabase's message says what went wrong, its errors which fields to check: the client shows both.
    assert raised.value.detail == detail
    assert metabase.databases == {}


@pytest.mark.slow
def test_changed_database_details_are_tested_before_they_are_stored(
    metabase: MetabaseStandIn, metabase_side_reader: ReaderConnection
) -> None:
    with _set_up(metabase) as client:
        database = client.create_database("wikistream", "postgres", _details(metabase_side_reader))
        with pytest.raises(MetabaseError) as raised:
            client.update_database(database["id"], {"port": free_port()})
        moved = replace(metabase_side_reader, host="localhost")
        client.update_database(database["id"], {"host": moved.host})
        stored = dict(metabase.databases[database["id"]]["details"])
        # Unchanged details are not tested again: even with the server gone (no call can register an
        # unreachable address, so it is set in the store), what the UI sends for an untouched password
        # is accepted.
        gone = free_port()
        metabase.databases[database["id"]]["details"]["port"] = gone
        client.update_database(database["id"], stored | {"port": gone, "password": REDACTED_PASSWORD})
    assert raised.value.status == 400 and raised.value.detail.startswith(CANNOT_CONNECT["message"])
    assert stored == _details(metabase_side_reader) | {"host": "localhost"}
    assert metabase.databases[database["id"]]["details"] == stored | {"port": gone}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("field", "value"),
    [("name", ""), ("display", None), ("visualization_settings", "none"), ("description", "")],
)
def test_invalid_card_bodies_are_rejected(
    metabase: MetabaseStandIn, metabase_side_reader: ReaderConnection, field: str, value: object
) -> None:
    with _set_up(metabase) as client:
        database = client.create_database("wikistream", "postgres", _details(metabase_side_reader))
        body = {
            "name": "Numbers",
            "display": "table",
            "visualization_settings": {},
            "dataset_query": native_query(database["id"], "SELECT 1"),
        }
        with pytest.raises(MetabaseError) as raised:
            client.create_card(body | {field: value})
    assert raised.value.status == 400
    assert field in raised.value.detail


@pytest.mark.slow
def test_visualization_settings_come_back_normalised(
    metabase: MetabaseStandIn, metabase_side_reader: ReaderConnection
) -> None:
    settings: dict[str, Any] = {
        "column_settings": {
            '[ "name", "lag_seconds" ]': {"suffix": " s", "prefix": None},
            '["ref",["field","clicks",{"base-type":"type/BigInteger"}]]': {"decimals": 0},
            '["ref",["field",7,null]]': {"decimals": 1},
        },
        "graph.show_values": None,
        "scalar.field": "lag_seconds",
    }
    with _set_up(metabase) as client:
        database = client.create_database("wikistream", "postgres", _details(metabase_side_reader))
        card = client.create_card(
            {
                "name": "Numbers",
                "display": "scalar",
                "visualization_settings": settings,
                "dataset_query": native_query(database["id"], "SELECT 1 AS lag_seconds"),
            }
        )
        shown = client.card(card["id"])["visualization_settings"]
    assert shown == {
        "column_settings": {
            '["name","lag_seconds"]': {"suffix": " s"},
            '["name","clicks"]': {"decimals": 0},
            '["ref",["field",7,null]]': {"decimals": 1},
        },
        "scalar.field": "lag_seconds",
    }


def test_invalid_dashcards_are_rejected(metabase: MetabaseStandIn) -> None:
    with _set_up(metabase) as client:
        collection = client.create_collection("Wikistream", "")
        dashboard = client.create_dashboard("Board", "", collection["id"])
        for dashcard in (
            {"id": -1, "row": 0, "col": 0, "size_y": 3},
            {"id": -1, "row": -1, "col": 0, "size_x": 1, "size_y": 1},
        ):
            with pytest.raises(MetabaseError) as raised:
                client.update_dashboard(dashboard["id"], {"dashcards": [dashcard], "tabs": []})
            assert raised.value.status == 400


def _text_card(dashcard_id: int, tab_id: int | None, row: int = 0) -> Json:
    return {
        "id": dashcard_id,
        "card_id": None,
        "dashboard_tab_id": tab_id,
        "row": row,
        "col": 0,
        "size_x": 4,
        "size_y": 2,
        "visualization_settings": {"text": "notes", "dashcard.background": None},
    }


def _dashboard_with_tabs(client: MetabaseClient) -> Json:
    """A dashboard with two tabs and a text card on each, as the UI makes it."""
    collection = client.create_collection("Wikistream", "")
    dashboard = client.create_dashboard("Board", "", collection["id"])
    return client.update_dashboard(
        dashboard["id"],
        {
            "dashcards": [_text_card(-1, -1), _text_card(-2, -2)],
            "tabs": [{"id": -1, "name": "A"}, {"id": -2, "name": "B"}],
        },
    )


def test_on_a_dashboard_with_tabs_every_dashcard_needs_a_tab(metabase: MetabaseStandIn) -> None:
    with _set_up(metabase) as client:
        board = _dashboard_with_tabs(client)
        tabs = [{"id": tab["id"], "name": tab["name"]} for tab in board["tabs"]]
        first, second = board["dashcards"]
        for attempt in (
            {"dashcards": [_text_card(first["id"], tabs[0]["id"]), _text_card(second["id"], None)], "tabs": tabs},
            # The check is on the tabs the dashboard has, so dropping the tabs in the same call does not help.
            {"dashcards": [_text_card(first["id"], None)], "tabs": []},
        ):
            with pytest.raises(MetabaseError) as raised:
                client.update_dashboard(board["id"], attempt)
            assert (raised.value.status, raised.value.detail) == (400, TABS_NEED_EVERY_CARD)
        kept = client.update_dashboard(
            board["id"],
            {"dashcards": [_text_card(first["id"], tabs[0]["id"]), _text_card(-1, tabs[1]["id"])], "tabs": tabs},
        )
    assert [tab["name"] for tab in kept["tabs"]] == ["A", "B"]
    # Saved like a card's settings: the null-valued one is gone.
    assert [dc["visualization_settings"] for dc in kept["dashcards"]] == [{"text": "notes"}] * 2
    assert [(dc["id"] == first["id"], dc["dashboard_tab_id"]) for dc in kept["dashcards"]] == [
        (True, tabs[0]["id"]),
        (False, tabs[1]["id"]),
    ]


def test_a_new_tab_gets_its_own_id_and_a_dashcard_on_a_deleted_tab_fails(metabase: MetabaseStandIn) -> None:
    with _set_up(metabase) as client:
        board = _dashboard_with_tabs(client)
        first_tab, second_tab = board["tabs"]
        with pytest.raises(MetabaseError) as raised:
            # The second tab is left out, so deleted, while a dashcard still names it.
            client.update_dashboard(
                board["id"],
                {
                    "name": "Renamed",
                    "dashcards": [_text_card(-1, second_tab["id"])],
                    "tabs": [{"id": first_tab["id"], "name": "A"}],
                },
            )
        untouched = client.dashboard(board["id"])
        # A tab id the dashboard does not have, even a positive one, makes a new tab, as -1 would.
        replaced = client.update_dashboard(
            board["id"], {"dashcards": [_text_card(-1, 999)], "tabs": [{"id": 999, "name": "C"}]}
        )
    assert raised.value.status == 500
    # One transaction in Metabase: nothing of the refused update is kept.
    assert untouched["name"] == "Board"
    assert [tab["id"] for tab in untouched["tabs"]] == [first_tab["id"], second_tab["id"]]
    assert [dc["id"] for dc in untouched["dashcards"]] == [dc["id"] for dc in board["dashcards"]]
    [new_tab] = replaced["tabs"]
    assert new_tab["id"] not in (999, first_tab["id"], second_tab["id"])
    assert [dc["dashboard_tab_id"] for dc in replaced["dashcards"]] == [new_tab["id"]]


def test_a_dashcard_id_the_dashboard_does_not_have_is_refused_not_created(metabase: MetabaseStandIn) -> None:
    with _set_up(metabase) as client:
        collection = client.create_collection("Wikistream", "")
        dashboard = client.create_dashboard("Board", "", collection["id"])
        placed = client.update_dashboard(dashboard["id"], {"dashcards": [_text_card(-1, None)], "tabs": []})
        with pytest.raises(MetabaseError) as raised:
            kept = _text_card(placed["dashcards"][0]["id"], None)
            client.update_dashboard(dashboard["id"], {"dashcards": [kept, _text_card(999, None, row=2)], "tabs": []})
    assert raised.value.status == 400 and "999" in raised.value.detail
    assert [dc["id"] for dc in metabase.dashboards[dashboard["id"]]["dashcards"]] == [placed["dashcards"][0]["id"]]
