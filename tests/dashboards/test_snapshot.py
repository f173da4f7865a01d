"""The HTML snapshot: every card from the same SQL, self-contained, and readable in a real browser."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dashboards.definitions import DEFAULT_DEFINITIONS, DefinitionFile, load_definitions
from dashboards.reader_connection import ReaderConnection
from dashboards.screenshot import WINDOW, capture, find_chromium
from dashboards.snapshot import CardResult, render_report, write_snapshot
from wikistream.settings import REPO_ROOT


def _assert_self_contained(html: str) -> None:
    assert "<script" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "the report must not load anything"
    assert "@import" not in html and "url(" not in html


def _assert_every_card(html: str, definitions: DefinitionFile) -> None:
    for card in definitions.cards:
        assert f'data-card="{card.key}"' in html
        assert f"<h2>{card.name}</h2>" in html


def _cell(html: str, key: str) -> str:
    match = re.search(rf'<section [^>]*data-card="{key}".*?</section>', html)
    assert match is not None, f"no cell for {key}"
    return match.group(0)


def test_the_report_draws_each_kind_of_card_and_escapes_what_it_shows(definitions: DefinitionFile) -> None:
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    rows_by_display = {
        "line": (("minute", "clicks"), [(now - timedelta(minutes=m), 10 + m) for m in range(5, 0, -1)]),
        "row": (("article", "clicks"), [("<script>alert(1)</script>", 9), ("A" * 80, 4)]),
        "table": (("event_time", "user_id"), [(now, "u1")]),
        "scalar": (("lag_seconds", "newest_event"), [(12, now)]),
    }
    results = [CardResult(card, *rows_by_display[card.display]) for card in definitions.cards]

    html = render_report(definitions, results, now, "wikistream_reader@127.0.0.1:5432/wikistream")

    _assert_self_contained(html)
    _assert_every_card(html, definitions)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    displays = [card.display for card in definitions.cards]
    assert html.count("<polyline") == displays.count("line") and html.count("<table>") == displays.count("table")
    assert '<div class="scalar">12 s</div>' in html  # the suffix from column_settings
    assert "refreshes every 60 s" in html


def test_empty_and_failed_cards_say_so(definitions: DefinitionFile) -> None:
    first, second, *rest = definitions.cards
    results = [CardResult(first), CardResult(second, error='relation "v_gone" does not exist'), *map(CardResult, rest)]
    html = render_report(definitions, results, datetime.now(UTC), "here")
    assert "No rows yet" in html
    assert "Query failed: relation &quot;v_gone&quot; does not exist" in html


@pytest.mark.slow
def test_the_snapshot_runs_every_card_against_postgresql(seeded_reader: ReaderConnection, tmp_path: Path) -> None:
    definitions = load_definitions(DEFAULT_DEFINITIONS)
    out = tmp_path / "reports" / "dashboard.html"

    results = write_snapshot(definitions, seeded_reader, out)

    assert [result.error for result in results] == [None] * len(definitions.cards)
    html = out.read_text()
    _assert_self_contained(html)
    _assert_every_card(html, definitions)
    assert "Grace_Hopper" in html and "Germany" in html
    # The pipeline's health as big numbers, from the seeded observation.
    assert '<div class="scalar">12 messages</div><p class="scalar-detail">status: DEGRADED</p>' in _cell(
        html, "consumer_lag"
    )
    assert '<div class="scalar">1</div><p class="scalar-detail">job_state: RUNNING</p>' in _cell(html, "restarts_10m")
    assert '<div class="scalar">3</div>' in _cell(html, "rejected_events")


@pytest.mark.slow
def test_make_dashboard_snapshot_command_reads_the_stack_settings(
    seeded_reader: ReaderConnection, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    env = os.environ | {
        "POSTGRES_PORT": str(seeded_reader.port),
        "POSTGRES_DB": seeded_reader.dbname,
        "WIKISTREAM_STATE_DIR": str(tmp_path / "state"),
        "POSTGRES_READER_PASSWORD": seeded_reader.password,
    }
    result = subprocess.run(
        [sys.executable, "-m", "dashboards", "snapshot", "--out", str(out)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert 'data-card="latest_clicks"' in out.read_text()


@pytest.mark.slow
def test_without_a_reader_password_the_snapshot_says_to_start_the_stack(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "POSTGRES_READER_PASSWORD"}
    env["WIKISTREAM_STATE_DIR"] = str(tmp_path / "empty-state")
    result = subprocess.run(
        [sys.executable, "-m", "dashboards", "snapshot", "--out", str(tmp_path / "r.html")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "make run" in result.stderr
    assert not (tmp_path / "empty-state").exists(), "the snapshot must not create secrets"


def _png_size(png: Path) -> tuple[int, int]:
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


@pytest.mark.slow
@pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed (Debian: apt-get install -y chromium)")
def test_chromium_renders_the_snapshot(seeded_reader: ReaderConnection, tmp_path: Path) -> None:
    html = tmp_path / "dashboard.html"
    write_snapshot(load_definitions(DEFAULT_DEFINITIONS), seeded_reader, html)

    png = capture(html, tmp_path / "dashboard.png")

    assert _png_size(png) == WINDOW
    # A blank page compresses to a few kilobytes; charts, text and tables do not.
    assert png.stat().st_size > 40_000
