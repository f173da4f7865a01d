"""Finding the collection, cards and dashboard that a definition file manages, in Metabase."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dashboards.managed_keys import split_key
from dashboards.metabase_client import Json, MetabaseClient


@dataclass(frozen=True)
class ManagedItem:
    key: str | None
    # The full object as GET /api/card/:id or GET /api/dashboard/:id returns it.
    body: Json


def find_collection(client: MetabaseClient, name: str) -> Json | None:
    """A top-level, non-personal, non-archived collection with exactly this name."""
    for collection in client.collections():
        if (
            collection.get("name") == name
            and isinstance(collection.get("id"), int)  # the root collection's id is "root"
            and collection.get("personal_owner_id") is None
            and not collection.get("archived")
            and collection.get("location", "/") == "/"
        ):
            return collection
    return None


def managed_items(client: MetabaseClient, collection_id: int, model: Literal["card", "dashboard"]) -> list[ManagedItem]:
    # Each item is fetched in full: the description (which carries the key) and the query are
    # reliably part of the single-item answers, not of the collection listing.
    fetch = client.card if model == "card" else client.dashboard
    bodies = [fetch(item["id"]) for item in client.collection_items(collection_id, model)]
    return [ManagedItem(split_key(body.get("description"))[1], body) for body in bodies]


def find_managed(items: list[ManagedItem], key: str, name: str) -> Json | None:
    """By key; failing that, an unmarked item with the same name (made in the UI, or by hand) is adopted."""
    for item in items:
        if item.key == key:
            return item.body
    for item in items:
        if item.key is None and item.body.get("name") == name:
            return item.body
    return None
