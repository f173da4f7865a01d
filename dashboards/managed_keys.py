"""The stable key that ties a Metabase card or dashboard to its definition.

Metabase ids differ between instances and names change in the UI, so `apply` writes the definition's
key as a last line of the description, e.g. `[wikistream:top_articles_5m]`, and finds items by it.
The marker is visible in the UI on purpose: it tells editors the item is managed from the repository.
"""

from __future__ import annotations

import re

_MARKER = re.compile(r"\n*\[wikistream:(?P<key>[a-z0-9][a-z0-9_]*)\]\s*\Z")


def with_key(description: str, key: str) -> str:
    marker = f"[wikistream:{key}]"
    return f"{description}\n\n{marker}" if description else marker


def split_key(description: str | None) -> tuple[str, str | None]:
    """(description without the marker, key or None)."""
    text = description or ""
    match = _MARKER.search(text)
    if match is None:
        return text, None
    return text[: match.start()], match.group("key")


def key_from_name(name: str) -> str:
    """A key for an item created in the UI (no marker yet), derived from its title."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return slug or "card"
