"""Make Metabase match the definition file: database, collection, cards, dashboard layout.

Every step reads first and writes only what differs, so a second run with no change makes no write
call at all (the login aside), and nothing is ever duplicated: items are found by their key
(dashboards/managed_keys.py).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from dashboards.definitions import CardDefinition, DefinitionFile, Layout, canonical_visualization_settings
from dashboards.managed_items import ManagedItem, find_collection, find_managed, managed_items
from dashboards.managed_keys import with_key
from dashboards.metabase_client import Json, MetabaseClient
from dashboards.reader_connection import ReaderConnection

ENGINE = "postgres"
# Connection details Metabase shows back (the password it never returns, so it cannot be compared).
_COMPARABLE_DETAILS = ("host", "port", "dbname", "user")
# What a dashcard keeps when the dashboard is rewritten; everything else Metabase derives itself.
_DASHCARD_FIELDS = (
    "id",
    "card_id",
    "dashboard_tab_id",
    "row",
    "col",
    "size_x",
    "size_y",
    "parameter_mappings",
    "series",
    "visualization_settings",
)


@dataclass
class ApplyReport:
    dashboard_id: int = 0
    changes: list[str] = field(default_factory=list)


def apply_definitions(
    client: MetabaseClient,
    definitions: DefinitionFile,
    database: ReaderConnection,
    database_name: str,
    update_database_password: bool = False,
) -> ApplyReport:
    report = ApplyReport()
    database_id = _ensure_database(client, database_name, database, update_database_password, report)
    collection_id = _ensure_collection(client, definitions, report)
    existing_cards = managed_items(client, collection_id, "card")
    card_ids = {
        card.key: _ensure_card(client, card, existing_cards, database_id, collection_id, report)
        for card in definitions.cards
    }
    report.dashboard_id = _ensure_dashboard(client, definitions, card_ids, collection_id, report)
    return report


def native_query(database_id: int, sql: str) -> Json:
    return {"database": database_id, "type": "native", "native": {"query": sql, "template-tags": {}}}


# --- database and collection -------------------------------------------------------------------------
def _ensure_database(
    client: MetabaseClient, name: str, database: ReaderConnection, update_password: bool, report: ApplyReport
) -> int:
    details = {
        "host": database.host,
        "port": database.port,
        "dbname": database.dbname,
        "user": database.user,
        "password": database.password,
        "ssl": False,
    }
    existing = next((db for db in client.databases() if db.get("name") == name), None)
    if existing is None:
        report.changes.append(
            f"registered database '{name}' ({database.user}@{database.host}:{database.port}/{database.dbname})"
        )
        return client.create_database(name, ENGINE, details)["id"]
    shown = existing.get("details") or {}
    if update_password or any(str(shown.get(key)) != str(details[key]) for key in _COMPARABLE_DETAILS):
        client.update_database(existing["id"], details)
        report.changes.append(f"updated the connection of database '{name}'")
    return existing["id"]


def _ensure_collection(client: MetabaseClient, definitions: DefinitionFile, report: ApplyReport) -> int:
    name = definitions.dashboard.collection
    existing = find_collection(client, name)
    if existing is not None:
        return existing["id"]
    report.changes.append(f"created collection '{name}'")
    return client.create_collection(name, "Managed from the wikistream repository (dashboards/).")["id"]


# --- cards ---------------------------------------------------------------------------------------------
def _ensure_card(
    client: MetabaseClient,
    card: CardDefinition,
    existing: list[ManagedItem],
    database_id: int,
    collection_id: int,
    report: ApplyReport,
) -> int:
    desired: Json = {
        "name": card.name,
        "description": with_key(card.description, card.key),
        "display": card.display,
        "dataset_query": native_query(database_id, card.sql),
        "visualization_settings": card.visualization_settings,
        "collection_id": collection_id,
    }
    current = find_managed(existing, card.key, card.name)
    if current is None:
        report.changes.append(f"created card {card.key}")
        return client.create_card(desired)["id"]
    changed = {name: value for name, value in desired.items() if not _card_field_equal(name, current.get(name), value)}
    if changed:
        client.update_card(current["id"], changed)
        report.changes.append(f"updated card {card.key}: {', '.join(sorted(changed))}")
    return current["id"]


def _card_field_equal(name: str, current: Any, desired: Any) -> bool:
    if name == "dataset_query":
        return _query_identity(current or {}) == _query_identity(desired)
    if name == "visualization_settings":
        # Metabase normalises settings when it saves them; the definition holds them normalised already.
        return canonical_visualization_settings(current or {}) == desired
    return current == desired


def _query_identity(query: Json) -> tuple[Any, Any, Any]:
    # Metabase adds normalised extras (template-tags, ...) to a saved query; these three decide what runs.
    return query.get("database"), query.get("type"), (query.get("native") or {}).get("query")


# --- dashboard -----------------------------------------------------------------------------------------
def _ensure_dashboard(
    client: MetabaseClient,
    definitions: DefinitionFile,
    card_ids: dict[str, int],
    collection_id: int,
    report: ApplyReport,
) -> int:
    wanted = definitions.dashboard
    description = with_key(wanted.description, wanted.key)
    current = find_managed(managed_items(client, collection_id, "dashboard"), wanted.key, wanted.name)
    if current is None:
        created = client.create_dashboard(wanted.name, description, collection_id)
        report.changes.append(f"created dashboard '{wanted.name}'")
        current = client.dashboard(created["id"])
    updates: Json = {}
    if current.get("name") != wanted.name:
        updates["name"] = wanted.name
    if current.get("description") != description:
        updates["description"] = description
    desired_layout = {card_ids[card.key]: card.layout for card in definitions.cards}
    if _placed_cards(current) != sorted(_placement(card_id, layout) for card_id, layout in desired_layout.items()):
        updates |= _dashcards_update(current, desired_layout)
    if updates:
        client.update_dashboard(current["id"], updates)
        report.changes.append(f"updated dashboard '{wanted.name}': {', '.join(sorted(updates))}")
    return current["id"]


def _placement(card_id: int, layout: Layout) -> tuple[int, int, int, int, int]:
    return card_id, layout.row, layout.col, layout.size_x, layout.size_y


def _placed_cards(dashboard: Json) -> list[tuple[int, int, int, int, int]]:
    return sorted(
        (dc["card_id"], dc["row"], dc["col"], dc["size_x"], dc["size_y"])
        for dc in dashboard.get("dashcards", [])
        if dc.get("card_id") is not None
    )


def _dashcards_update(current: Json, desired_layout: dict[int, Layout]) -> Json:
    """The full dashcards list for PUT /api/dashboard/:id: existing dashcards keep their ids (and
    whatever was set on them in the UI), new ones get negative ids, the rest are dropped.

    Tabs are not managed here but kept as they are (someone may have added them in the UI), and a
    dashboard with tabs takes no dashcard without a tab: new dashcards go on the first tab, and so
    does an existing one without a tab (placed before the tabs were added)."""
    existing_by_card: dict[int, Json] = {}
    for dashcard in current.get("dashcards", []):
        if dashcard.get("card_id") is not None:
            existing_by_card.setdefault(dashcard["card_id"], dashcard)
    tabs = [{"id": tab["id"], "name": tab["name"]} for tab in current.get("tabs") or []]
    new_ids = itertools.count(-1, -1)

    def on_a_tab(dashcard: Json) -> Json:
        if not tabs or dashcard.get("dashboard_tab_id") is not None:
            return dashcard
        return dashcard | {"dashboard_tab_id": tabs[0]["id"]}

    dashcards = []
    for card_id, layout in desired_layout.items():
        base = existing_by_card.get(card_id) or {
            "id": next(new_ids),
            "card_id": card_id,
            "dashboard_tab_id": None,
            "parameter_mappings": [],
            "series": [],
            "visualization_settings": {},
        }
        dashcards.append(on_a_tab(_kept_fields(base) | layout.model_dump()))
    # Text and heading cards (no card_id) are not managed from the repository: leave them as they are.
    dashcards += [on_a_tab(_kept_fields(dc)) for dc in current.get("dashcards", []) if dc.get("card_id") is None]
    return {"dashcards": dashcards, "tabs": tabs}


def _kept_fields(dashcard: Json) -> Json:
    return {name: dashcard[name] for name in _DASHCARD_FIELDS if name in dashcard}
