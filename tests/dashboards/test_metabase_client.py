"""The API client against the stand-in: sessions, one-time setup, server-assigned ids, rejected bodies."""

from __future__ import annotations

import pytest

from dashboards.apply import native_query
from dashboards.metabase_client import MetabaseClient, MetabaseError, MetabaseUnreachable
from stack.preflight import free_port
from tests.dashboards.metabase_standin import SETUP_TAKEN, MetabaseStandIn

PASSWORD = "s3cret-Passw0rd"


def _set_up(metabase: MetabaseStandIn) -> MetabaseClient:
    client = MetabaseClient(metabase.url)
    token = client.session_properties()["setup-token"]
    client.setup(token, "admin@wikistream.local", PASSWORD, "Wiki", "Admin", "wikistream")
    return client


def test_health_and_properties_need_no_session(metabase: MetabaseStandIn) -> None:
    with MetabaseClient(metabase.url) as client:
        client.wait_until_healthy(timeout=5)
        properties = client.session_properties()
    assert properties["has-user-setup"] is False
    assert properties["setup-token"]


def test_an_unreachable_metabase_is_reported_after_the_timeout() -> None:
    with MetabaseClient(f"http://127.0.0.1:{free_port()}", timeout=2) as client, pytest.raises(MetabaseUnreachable):
        client.wait_until_healthy(timeout=0)


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


def test_ids_are_assigned_by_the_server(metabase: MetabaseStandIn) -> None:
    with _set_up(metabase) as client:
        database = client.create_database(
            "wikistream", "postgres", {"host": "h", "port": 5432, "dbname": "d", "user": "u", "password": "p"}
        )
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


def test_the_database_password_is_never_shown_back(metabase: MetabaseStandIn) -> None:
    with _set_up(metabase) as client:
        client.create_database(
            "wikistream", "postgres", {"host": "h", "port": 5432, "dbname": "d", "user": "u", "password": "p"}
        )
        shown = client.databases()[0]["details"]
    assert shown["password"] != "p"


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", ""), ("display", None), ("visualization_settings", "none"), ("description", "")],
)
def test_invalid_card_bodies_are_rejected(metabase: MetabaseStandIn, field: str, value: object) -> None:
    with _set_up(metabase) as client:
        database = client.create_database("wikistream", "postgres", {"host": "h"})
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
