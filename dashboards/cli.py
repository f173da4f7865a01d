"""`python -m dashboards COMMAND`: apply the definitions to Metabase, export them back, or render a
snapshot of the same cards from PostgreSQL when there is no Metabase (the embedded stack)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from pydantic import ValidationError

from dashboards.admin_session import ADMIN_FILE_NAME, AdminCredentialsMissing, open_admin_session
from dashboards.apply import apply_definitions
from dashboards.definitions import DEFAULT_DEFINITIONS, dump_definitions, load_definitions
from dashboards.export import ExportError, export_definitions
from dashboards.metabase_client import METABASE_API_VERSION, MetabaseClient, MetabaseError, MetabaseUnreachable
from dashboards.reader_connection import ReaderConnection, ReaderPasswordMissing
from dashboards.screenshot import ScreenshotError, capture
from dashboards.snapshot import PostgresUnreachable, write_snapshot
from wikistream.settings import REPO_ROOT, StackSettings, stack_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

DOCS_SCREENSHOT = REPO_ROOT / "docs" / "dashboard-snapshot.png"
EXPECTED_ERRORS = (
    MetabaseError,
    MetabaseUnreachable,
    AdminCredentialsMissing,
    ExportError,
    ReaderPasswordMissing,
    PostgresUnreachable,
    ScreenshotError,
    ValidationError,
    yaml.YAMLError,
    OSError,
)

DefinitionsOption = Annotated[Path, typer.Option(help="Definition file (YAML).", dir_okay=False)]
MetabaseUrlOption = Annotated[
    str | None, typer.Option(envvar="METABASE_URL", help="Metabase base URL (default: http://127.0.0.1:METABASE_PORT)")
]
WaitOption = Annotated[float, typer.Option(help="Seconds to wait for Metabase to become healthy.")]


def _metabase_url(url: str | None) -> str:
    return url or f"http://127.0.0.1:{stack_settings().metabase_port}"


def _fail(error: Exception) -> None:
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def _report_path() -> Path:
    return stack_settings().state_path / "reports" / "dashboard.html"


def metabase_side(settings: StackSettings, db_host: str, db_port: int | None) -> ReaderConnection:
    """The reader's connection as Metabase makes it: inside the container network unless told otherwise."""
    return ReaderConnection.from_stack(settings).reached_as(db_host, db_port or settings.postgres_container_port)


@app.command()
def apply(
    definitions: DefinitionsOption = DEFAULT_DEFINITIONS,
    metabase_url: MetabaseUrlOption = None,
    db_host: Annotated[
        str,
        typer.Option(
            envvar="METABASE_DB_HOST", help="PostgreSQL's host name as Metabase reaches it (container network)."
        ),
    ] = "postgres",
    db_port: Annotated[
        int | None,
        typer.Option(
            envvar="METABASE_DB_PORT",
            help="PostgreSQL's port as Metabase reaches it (default: POSTGRES_CONTAINER_PORT, the container network's)",
        ),
    ] = None,
    update_db_password: Annotated[
        bool,
        typer.Option(help="Send the reader password again (Metabase never shows it back, so it cannot be compared)."),
    ] = False,
    wait: WaitOption = 300.0,
) -> None:
    """Create or update the Metabase database, collection, cards and dashboard; a second run changes nothing."""
    settings = stack_settings()
    url = _metabase_url(metabase_url)
    try:
        wanted = load_definitions(definitions)
        database = metabase_side(settings, db_host, db_port)
        with MetabaseClient(url) as client:
            client.wait_until_healthy(wait)
            credentials_file = settings.state_path / ADMIN_FILE_NAME
            session = open_admin_session(client, credentials_file, site_name="wikistream")
            report = apply_definitions(client, wanted, database, settings.postgres_db, update_db_password)
    except EXPECTED_ERRORS as error:
        _fail(error)
    if session.first_run:
        typer.echo(f"first-run setup done; admin credentials in {credentials_file} (mode 0600)")
    if session.version and not session.version_matches:
        typer.secho(
            f"warning: Metabase reports version {session.version}; this client follows the {METABASE_API_VERSION} API.",
            fg=typer.colors.YELLOW,
            err=True,
        )
    for change in report.changes:
        typer.echo(f"  {change}")
    typer.echo("no changes" if not report.changes else f"{len(report.changes)} change(s) applied")
    typer.echo(f"dashboard: {url}/dashboard/{report.dashboard_id}#refresh={wanted.dashboard.refresh_seconds}")


@app.command()
def export(
    definitions: DefinitionsOption = DEFAULT_DEFINITIONS,
    out: Annotated[
        Path | None, typer.Option(help="Where to write (default: the definition file itself)", dir_okay=False)
    ] = None,
    metabase_url: MetabaseUrlOption = None,
    wait: WaitOption = 60.0,
) -> None:
    """Write the dashboard as it now is in Metabase back to the definition file, for review and commit."""
    settings = stack_settings()
    target = out or definitions
    try:
        anchor = load_definitions(definitions)
        with MetabaseClient(_metabase_url(metabase_url)) as client:
            client.wait_until_healthy(wait)
            open_admin_session(client, settings.state_path / ADMIN_FILE_NAME, site_name="wikistream")
            exported = dump_definitions(export_definitions(client, anchor))
        before = target.read_text(encoding="utf-8") if target.exists() else None
        target.write_text(exported, encoding="utf-8")
    except EXPECTED_ERRORS as error:
        _fail(error)
    typer.echo(f"{target}: {'unchanged' if before == exported else 'updated (review with git diff)'}")


@app.command()
def snapshot(
    out: Annotated[
        Path | None, typer.Option(help="HTML report (default: WIKISTREAM_STATE_DIR/reports/dashboard.html)")
    ] = None,
    definitions: DefinitionsOption = DEFAULT_DEFINITIONS,
) -> None:
    """Run every card's SQL against the live PostgreSQL (as wikistream_reader) into a self-contained HTML report."""
    target = out or _report_path()
    try:
        results = write_snapshot(load_definitions(definitions), ReaderConnection.from_stack(stack_settings()), target)
    except EXPECTED_ERRORS as error:
        _fail(error)
    failed = [result for result in results if result.error]
    for result in failed:
        typer.secho(f"card {result.card.key} failed: {result.error}", fg=typer.colors.RED, err=True)
    typer.echo(f"wrote {target} ({len(results)} cards)")
    if failed:
        raise typer.Exit(1)


@app.command()
def screenshot(
    html: Annotated[Path | None, typer.Option(help="Report to render (default: the snapshot's default path)")] = None,
    png: Annotated[Path, typer.Option(help="Picture to write.")] = DOCS_SCREENSHOT,
) -> None:
    """Render the snapshot report in headless Chromium into a PNG (docs/dashboard-snapshot.png)."""
    try:
        capture(html or _report_path(), png)
    except EXPECTED_ERRORS as error:
        _fail(error)
    typer.echo(f"wrote {png}")
