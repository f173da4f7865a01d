"""`python -m stack COMMAND`: the embedded stack's commands (the Makefile's run/stop/reset/status/count-rows)."""

from __future__ import annotations

import os
import sys

import typer

from dashboards.admin_session import ADMIN_FILE_NAME
from stack import state_dir
from stack.containers import container_count_rows, container_health, container_stack_running, container_status
from stack.embedded import EmbeddedStack, ServiceStatus
from stack.jars import resolve_jars
from stack.preflight import PrerequisiteError
from stack.supervision import PROGRAMS
from wikistream.health import PipelineHealth
from wikistream.layout import Layout
from wikistream.settings import stack_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def _stack() -> EmbeddedStack:
    return EmbeddedStack(stack_settings())


def _fail(error: Exception) -> None:
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@app.command()
def run(wait_rows_timeout: float = typer.Option(180.0, help="Seconds to wait for the first rows.")) -> None:
    """Set up and start everything; return once the job is RUNNING and rows are arriving."""
    stack = _stack()
    try:
        stack.run(wait_rows_timeout=wait_rows_timeout)
    except PrerequisiteError as error:
        _fail(error)
    settings = stack.settings
    typer.echo(
        "\nwikistream is running.\n"
        f"  Flink UI:   {stack.flink.rest_url}\n"
        f"  Kafka:      {stack.kafka.bootstrap} (topic '{settings.kafka_topic}')\n"
        f"  PostgreSQL: 127.0.0.1:{settings.postgres_port}/{settings.postgres_db} "
        f"(credentials in {stack.layout.secrets_file})\n"
        f"  Logs:       {stack.layout.log_dir}\n"
        "Next: make count-rows | make status | make stop | make reset"
    )


@app.command()
def metabase() -> None:
    """Metabase on the embedded stack: the pinned jar (downloaded once, checked), Java 21+, dashboards applied."""
    stack = _stack()
    try:
        url = stack.start_metabase()
    except PrerequisiteError as error:
        _fail(error)
    typer.echo(
        f"\nMetabase is running: {url}\n"
        f"  admin login: {stack.layout.root / ADMIN_FILE_NAME}\n"
        f"  log:         {stack.metabase_process.log_file}\n"
        "It stops with 'make stop' and comes back with 'make run'; 'make reset' removes it."
    )


@app.command()
def stop() -> None:
    """Stop every process the stack started (by pid), keeping all data; nothing restarts them."""
    _stack().stop()


@app.command()
def reset() -> None:
    """Stop everything and delete the state directory."""
    stack = _stack()
    stack.reset()
    typer.echo(f"removed {stack.layout.root}")


def _container_status() -> list[tuple[str, str]]:
    try:
        return container_status()
    except PrerequisiteError as error:  # no Terraform or no Docker here: there is no container stack
        return [("container stack", f"unavailable ({error})")]


def _service_line(service: ServiceStatus) -> str:
    state = "down" if service.pid is None else f"up (pid {service.pid})"
    if service.supervised not in (None, "RUNNING"):
        state += f", supervisor: {service.supervised}"
    return f"  {service.name:<18} {state}" + (f"  {service.detail}" if service.detail and service.pid else "")


@app.command()
def status() -> None:
    """Each service, and whether data flows; exit status 1 when a running stack is degraded, 3 when none runs."""
    stack = _stack()
    typer.echo("embedded stack (make run)")
    services = stack.status()
    exit_code = 3
    if not stack.started():
        typer.echo("  not running (make run)")
    else:
        for service in services:
            typer.echo(_service_line(service))
        health = stack.health(services)
        for line in health.lines():
            typer.echo(f"  {line}")
        exit_code = 1 if health.degraded else 0
    typer.echo("container stack (make up)")
    for name, state in _container_status():
        typer.echo(f"  {name:<30} {state}")
    containers = _container_health()
    if containers is not None:
        for line in containers.lines():
            typer.echo(f"  {line}")
        exit_code = 1 if containers.degraded or exit_code == 1 else 0
    raise typer.Exit(exit_code)


def _container_health() -> PipelineHealth | None:
    try:
        return container_health()
    except PrerequisiteError:  # no Terraform or no Docker here: there is no container stack
        return None


@app.command()
def service(
    action: str = typer.Argument(..., help="start or stop"),
    name: str = typer.Argument(..., help="One of: " + ", ".join(program.name for program in PROGRAMS)),
) -> None:
    """Start or stop one supervised service of the running embedded stack (a stopped one stays stopped)."""
    stack = _stack()
    if name not in stack.processes() or action not in ("start", "stop"):
        _fail(PrerequisiteError(f"usage: service start|stop NAME, NAME one of {', '.join(stack.processes())}"))
    if not stack.supervisor.is_running():
        _fail(PrerequisiteError("the embedded stack is not running: try 'make run'."))
    try:
        if action == "stop":
            typer.echo(f"{name} {'stopped' if stack.stop_service(name) else 'was not running'}")
        else:
            stack.start_service(name)
            typer.echo(f"{name} started")
    except PrerequisiteError as error:
        _fail(error)


@app.command("count-rows")
def count_rows() -> None:
    """Row counts of the main tables, from whichever stack is running (the embedded one first)."""
    stack = _stack()
    try:
        if stack.processes()["postgres"].is_running() or not container_stack_running():
            counts = stack.count_rows()
        else:
            counts = container_count_rows()
    except PrerequisiteError as error:
        _fail(error)
    width = max(map(len, counts))
    typer.echo(f"{'table':<{width}}  {'rows':>10}")
    for table, rows in counts.items():
        typer.echo(f"{table:<{width}}  {rows:>10}")


@app.command()
def jars() -> None:
    """Resolve the Flink connector, JDBC driver and Kafka broker jars from Maven Central."""
    settings = stack_settings()
    try:
        ran = resolve_jars(settings, Layout(settings.state_path).tools_dir)
    except PrerequisiteError as error:
        _fail(error)
    typer.echo("jars resolved" if ran else "jars already current")


def main() -> None:
    os.umask(state_dir.PROCESS_UMASK)  # whatever a command writes in the state directory is private
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
