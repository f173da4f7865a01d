"""The dashboard as committed in the repository: cards (native SQL over the v_* views), their
visualization settings and grid layout, in one YAML file per dashboard.

`dump_definitions` is the only writer of these files, and it is canonical (fixed key order, cards
in layout order, settings keys sorted, SQL as literal blocks), so exporting an unchanged dashboard
reproduces the committed file byte for byte. Visualization settings are held in one canonical form
(`canonical_visualization_settings`), so a file and Metabase's copy, which Metabase normalises when
it saves, compare equal whichever way a setting was written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"
DEFAULT_DEFINITIONS = DEFINITIONS_DIR / "wikistream.yaml"

# Metabase lays dashboards out on a grid 24 columns wide.
GRID_COLUMNS = 24

KEY_PATTERN = r"^[a-z0-9][a-z0-9_]*$"

FILE_HEADER = (
    "# Metabase dashboard definition: `make dashboards` applies it, `make dashboards-export` rewrites it\n"
    "# from Metabase (see dashboards/README.md). Keep the format as the export writes it.\n"
)


class Layout(BaseModel):
    """A card's place on the dashboard grid, in Metabase's units."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    row: int = Field(ge=0)
    col: int = Field(ge=0, lt=GRID_COLUMNS)
    size_x: int = Field(ge=1, le=GRID_COLUMNS)
    size_y: int = Field(ge=1)

    @model_validator(mode="after")
    def _fits_the_grid(self) -> Layout:
        if self.col + self.size_x > GRID_COLUMNS:
            raise ValueError(f"col + size_x must be at most {GRID_COLUMNS}, got {self.col} + {self.size_x}")
        return self


class CardDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Stable identity in Metabase (see dashboards/managed_keys.py); never shown as the title.
    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1)
    description: str = ""
    # Metabase's display type: line, bar, row, table, scalar, ... (the snapshot draws the common ones).
    display: str = Field(min_length=1)
    sql: str = Field(min_length=1)
    visualization_settings: dict[str, Any] = Field(default_factory=dict)
    layout: Layout

    @field_validator("sql")
    @classmethod
    def _canonical_sql(cls, sql: str) -> str:
        return canonical_text(sql)

    @field_validator("visualization_settings")
    @classmethod
    def _canonical_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        return canonical_visualization_settings(settings)

    @field_validator("description")
    @classmethod
    def _canonical_description(cls, description: str) -> str:
        return canonical_text(description).rstrip("\n")


class DashboardDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1)
    description: str = ""
    # The Metabase collection (top level) holding the dashboard and its cards.
    collection: str = Field(min_length=1)
    # Metabase keeps auto-refresh in the dashboard URL (#refresh=N), not in the dashboard, so it lives here.
    refresh_seconds: int = Field(default=60, ge=10)


class DefinitionFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dashboard: DashboardDefinition
    cards: tuple[CardDefinition, ...]

    @field_validator("cards")
    @classmethod
    def _unique_keys(cls, cards: tuple[CardDefinition, ...]) -> tuple[CardDefinition, ...]:
        keys = [card.key for card in cards]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"card keys must be unique, repeated: {', '.join(duplicates)}")
        return cards

    def card(self, key: str) -> CardDefinition:
        return next(card for card in self.cards if card.key == key)


def canonical_text(text: str) -> str:
    """Text as the YAML file can hold it as a literal block: no tabs, no trailing spaces, one final newline."""
    lines = [line.rstrip() for line in text.expandtabs(4).strip("\n").splitlines()]
    return "\n".join(lines) + "\n" if lines else ""


def canonical_visualization_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings in one form, whichever way they were written: a setting that is null is not set, and
    `column_settings` is keyed by compact JSON column references (as Metabase re-encodes them when it
    saves), a result column as ["name","<column>"], the form the v0.56 UI writes for native questions
    (older saves have ["ref",["field","<column>",{...}]]). Keys that are not JSON are left alone."""
    canonical = _without_nulls(settings)
    column_settings = canonical.get("column_settings")
    if isinstance(column_settings, dict):
        canonical["column_settings"] = {_column_key(key): value for key, value in column_settings.items()}
    return canonical


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _column_key(key: str) -> str:
    try:
        reference = json.loads(key)
    except ValueError:
        return key
    match reference:
        case ["ref", ["field", str(column), *_]]:
            reference = ["name", column]
    return json.dumps(reference, separators=(",", ":"), ensure_ascii=False)


def load_definitions(path: Path) -> DefinitionFile:
    return DefinitionFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def dump_definitions(definitions: DefinitionFile) -> str:
    cards = sorted(definitions.cards, key=lambda card: (card.layout.row, card.layout.col, card.key))
    document = {
        "dashboard": definitions.dashboard.model_dump(),
        "cards": [_sorted_settings(card.model_dump()) for card in cards],
    }
    body = yaml.dump(document, Dumper=_DefinitionDumper, sort_keys=False, allow_unicode=True, width=4096)
    return FILE_HEADER + body


def _sorted_settings(card: dict[str, Any]) -> dict[str, Any]:
    # Metabase returns settings maps in no particular order; sorting keeps exports diff-stable.
    return card | {"visualization_settings": _sort_recursively(card["visualization_settings"])}


def _sort_recursively(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sort_recursively(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sort_recursively(item) for item in value]
    return value


class _DefinitionDumper(yaml.SafeDumper):
    """Block style, indented lists, and multi-line strings (the SQL) as readable literal blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_DefinitionDumper.add_representer(str, _represent_str)
