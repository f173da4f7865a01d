"""The dashboard without Metabase: the same cards, the same SQL, run against the live PostgreSQL as
wikistream_reader, drawn into one self-contained HTML file on the same 24-column grid."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

import psycopg2

from dashboards.definitions import GRID_COLUMNS, CardDefinition, DefinitionFile
from dashboards.reader_connection import ReaderConnection
from dashboards.svg_charts import bar_chart, format_number, line_chart

# Pixel geometry of the report grid; charts are drawn for the size of their cell.
PAGE_WIDTH = 1360
GAP = 8
ROW_HEIGHT = 44
CARD_PADDING = 14
CARD_HEADER = 46
STATEMENT_TIMEOUT = "15s"

LINE_DISPLAYS = {"line", "area"}
BAR_DISPLAYS = {"row", "bar", "pie", "funnel"}


class PostgresUnreachable(RuntimeError):
    """The snapshot could not connect to PostgreSQL."""


@dataclass(frozen=True)
class CardResult:
    card: CardDefinition
    columns: tuple[str, ...] = ()
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    error: str | None = None

    def column(self, name: str | None, fallback: int) -> int:
        """Index of a column the visualization settings name, or the fallback position."""
        return self.columns.index(name) if name in self.columns else min(fallback, len(self.columns) - 1)


def query_cards(connection: ReaderConnection, cards: Sequence[CardDefinition]) -> list[CardResult]:
    """Run every card's SQL; a failing card is reported in its cell instead of ending the report."""
    results = []
    try:
        conn = connection.connect()
    except psycopg2.OperationalError as error:
        where = f"{connection.host}:{connection.port}/{connection.dbname}"
        raise PostgresUnreachable(
            f"PostgreSQL at {where} is not reachable ({str(error).strip()}): is the stack up? Try 'make run'."
        ) from error
    with closing(conn):
        conn.set_session(readonly=True, autocommit=True)
        with conn.cursor() as cur:
            cur.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'; SET TIME ZONE 'UTC'")
        for card in cards:
            try:
                with conn.cursor() as cur:
                    cur.execute(card.sql)
                    columns = tuple(column.name for column in cur.description)
                    results.append(CardResult(card, columns, cur.fetchall()))
            except psycopg2.Error as error:
                results.append(CardResult(card, error=(error.pgerror or str(error)).strip()))
    return results


def write_snapshot(definitions: DefinitionFile, connection: ReaderConnection, out: Path) -> list[CardResult]:
    results = query_cards(connection, definitions.cards)
    source = f"{connection.user}@{connection.host}:{connection.port}/{connection.dbname}"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(definitions, results, datetime.now(UTC), source), encoding="utf-8")
    return results


def render_report(
    definitions: DefinitionFile, results: Sequence[CardResult], generated_at: datetime, source: str
) -> str:
    dashboard = definitions.dashboard
    cells = "\n".join(_render_card(result) for result in results)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(dashboard.name)}</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
  <h1>{escape(dashboard.name)}</h1>
  <p>{escape(dashboard.description)}</p>
  <p class="meta">Snapshot of {generated_at:%Y-%m-%d %H:%M:%S} UTC from {escape(source)}.
  In Metabase this dashboard refreshes every {dashboard.refresh_seconds} s.</p>
</header>
<main class="grid">
{cells}
</main>
</body>
</html>
"""


def _render_card(result: CardResult) -> str:
    card, layout = result.card, result.card.layout
    width, height = _body_size(layout.size_x, layout.size_y)
    return (
        f'<section class="card {escape(card.display)}" data-card="{escape(card.key)}" '
        f'style="grid-column: {layout.col + 1} / span {layout.size_x}; '
        f'grid-row: {layout.row + 1} / span {layout.size_y}">'
        f'<h2>{escape(card.name)}</h2><p class="description">{escape(card.description)}</p>'
        f'<div class="body">{_render_body(result, width, height)}</div></section>'
    )


def _body_size(size_x: int, size_y: int) -> tuple[int, int]:
    column = (PAGE_WIDTH - GAP * (GRID_COLUMNS - 1)) / GRID_COLUMNS
    width = column * size_x + GAP * (size_x - 1) - 2 * CARD_PADDING
    height = ROW_HEIGHT * size_y + GAP * (size_y - 1) - 2 * CARD_PADDING - CARD_HEADER
    return int(width), int(height)


def _render_body(result: CardResult, width: int, height: int) -> str:
    if result.error is not None:
        return f'<p class="error">Query failed: {escape(result.error)}</p>'
    if not result.rows:
        return '<p class="empty">No rows yet</p>'
    settings = result.card.visualization_settings
    display = result.card.display
    if display == "scalar":
        return _big_number(result, settings)
    dimension = result.column((settings.get("graph.dimensions") or [None])[0], 0)
    metric = result.column((settings.get("graph.metrics") or [None])[0], 1)
    if display in LINE_DISPLAYS and isinstance(result.rows[0][dimension], datetime):
        points = [(row[dimension], float(row[metric] or 0)) for row in result.rows]
        return line_chart(points, width, height, settings.get("graph.y_axis.title_text", ""))
    if display in BAR_DISPLAYS:
        items = [(format_value(row[dimension]), float(row[metric] or 0)) for row in result.rows]
        return bar_chart(items, width, height)
    return _table(result)


def _big_number(result: CardResult, settings: dict[str, Any]) -> str:
    index = result.column(settings.get("scalar.field"), 0)
    name = result.columns[index]
    formatting = (settings.get("column_settings") or {}).get(f'["name","{name}"]', {})
    value = result.rows[0][index]
    shown = (
        "—" if value is None else f"{formatting.get('prefix', '')}{format_value(value)}{formatting.get('suffix', '')}"
    )
    others = " · ".join(
        f"{escape(column)}: {escape(format_value(result.rows[0][i]))}"
        for i, column in enumerate(result.columns)
        if i != index
    )
    return f'<div class="scalar">{escape(shown)}</div>' + (f'<p class="scalar-detail">{others}</p>' if others else "")


def _table(result: CardResult) -> str:
    head = "".join(f"<th>{escape(column)}</th>" for column in result.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(format_value(value))}</td>" for value in row) + "</tr>" for row in result.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def format_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float, Decimal)):
        return format_number(float(value))
    return str(value)


_STYLE = f"""
* {{ box-sizing: border-box; }}
body {{ margin: 0; padding: 20px; background: #f9fbfc; color: #4c5773;
       font-family: Lato, "Helvetica Neue", Arial, sans-serif; }}
header {{ width: {PAGE_WIDTH}px; margin: 0 auto 16px; }}
h1 {{ margin: 0 0 4px; font-size: 24px; color: #2e353b; }}
header p {{ margin: 2px 0; }}
.meta {{ font-size: 12px; color: #949aab; }}
.grid {{ width: {PAGE_WIDTH}px; margin: 0 auto; display: grid; gap: {GAP}px;
        grid-template-columns: repeat({GRID_COLUMNS}, 1fr); grid-auto-rows: {ROW_HEIGHT}px; }}
.card {{ background: #fff; border: 1px solid #eeecec; border-radius: 8px; padding: {CARD_PADDING}px;
        box-shadow: 0 1px 3px rgba(0, 0, 0, 0.08); overflow: hidden; display: flex; flex-direction: column; }}
.card h2 {{ margin: 0; font-size: 15px; color: #2e353b; white-space: nowrap; overflow: hidden;
           text-overflow: ellipsis; }}
.description {{ margin: 2px 0 0; height: {CARD_HEADER - 22}px; font-size: 12px; color: #949aab;
               white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
.body {{ flex: 1; min-height: 0; overflow: hidden; }}
.body svg {{ display: block; }}
.scalar {{ font-size: 40px; font-weight: 900; color: #2e353b; line-height: 1.1; }}
.scalar-detail {{ margin: 4px 0 0; font-size: 12px; }}
table {{ width: 100%; border-collapse: collapse; font-size: 12px; }}
th {{ text-align: left; color: #949aab; font-weight: bold; border-bottom: 1px solid #eeecec; padding: 4px 8px; }}
td {{ padding: 3px 8px; border-bottom: 1px solid #f3f3f3; white-space: nowrap; overflow: hidden;
      text-overflow: ellipsis; max-width: 360px; }}
.empty, .error {{ color: #949aab; font-style: italic; }}
.error {{ color: #ed6e6e; }}
"""
