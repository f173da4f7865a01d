"""Read the dashboard as it now is in Metabase back into a definition file, so a change made in the
UI becomes a reviewable diff.

The current file is the anchor: it names the collection and the dashboard's key, and supplies what
Metabase does not store (the auto-refresh interval).
"""

from __future__ import annotations

from dashboards.definitions import CardDefinition, DefinitionFile, Layout
from dashboards.managed_items import find_collection, find_managed, managed_items
from dashboards.managed_keys import key_from_name, split_key
from dashboards.metabase_client import Json, MetabaseClient


class ExportError(RuntimeError):
    """The dashboard cannot be written back as a definition file."""


def export_definitions(client: MetabaseClient, anchor: DefinitionFile) -> DefinitionFile:
    wanted = anchor.dashboard
    collection = find_collection(client, wanted.collection)
    if collection is None:
        raise ExportError(f"Metabase has no collection '{wanted.collection}': run 'make dashboards' first.")
    dashboard = find_managed(managed_items(client, collection["id"], "dashboard"), wanted.key, wanted.name)
    if dashboard is None:
        raise ExportError(
            f"collection '{wanted.collection}' has no dashboard '{wanted.key}': run 'make dashboards' first."
        )
    placed = sorted(
        (dc for dc in dashboard.get("dashcards", []) if dc.get("card_id") is not None),
        key=lambda dc: (dc["row"], dc["col"], dc["id"]),
    )
    used_keys: set[str] = set()
    cards = tuple(_card_definition(client.card(dc["card_id"]), dc, used_keys) for dc in placed)
    description, _ = split_key(dashboard.get("description"))
    return DefinitionFile(
        dashboard=wanted.model_copy(update={"name": dashboard["name"], "description": description}),
        cards=cards,
    )


def _card_definition(card: Json, dashcard: Json, used_keys: set[str]) -> CardDefinition:
    query = card.get("dataset_query") or {}
    if query.get("type") != "native":
        raise ExportError(
            f"card '{card['name']}' (id {card['id']}) is not a native SQL question: convert it to SQL in "
            "Metabase (or take it off the dashboard) before exporting."
        )
    description, key = split_key(card.get("description"))
    key = key or key_from_name(card["name"])
    if key in used_keys:
        # The same card placed twice, or two UI cards with the same title.
        key = f"{key}_{dashcard['id']}"
    used_keys.add(key)
    return CardDefinition(
        key=key,
        name=card["name"],
        description=description,
        display=card["display"],
        sql=query["native"]["query"],
        visualization_settings=card.get("visualization_settings") or {},
        layout=Layout(row=dashcard["row"], col=dashcard["col"], size_x=dashcard["size_x"], size_y=dashcard["size_y"]),
    )
