"""`python -m stack COMMAND`: the embedded stack's commands (the Makefile's run/stop/reset/status/count-rows)."""

from __future__ import annotations

import sys

import typer

from stack.containers import container_count_rows, container_stack_running, container_status
from stack.embedded import EmbeddedStack
from stack.jars import resolve_jars
from stack.layout import Layout
from stack.preflight import PrerequisiteError
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
        f"  PostgreSQL: 127.0.0.1:{settings.postgres_port}/{settings.postgres_db} (credentials in {stack.layout.secrets_file})\n"
        f"  Logs:       {stack.layout.log_dir}\n"
        "Next: make count-rows | make status | make stop | make reset"
    )


@app.command()
def stop() -> None:
    """Stop every process the stack started (by pid), keeping all data."""
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


@app.command()
def status() -> None:
    """Each service of the embedded stack and of the container stack: up or down, and the job's state."""
    typer.echo("embedded stack (make run)")
    for service in _stack().status():
        if service.name == "flink-job":
            state = service.detail
        else:
            state = f"up (pid {service.pid})" if service.pid else "down"
            state += f"  {service.detail}" if service.detail and service.pid else ""
        typer.echo(f"  {service.name:<18} {state}")
    typer.echo("container stack (make up)")
    for name, state in _container_status():
        typer.echo(f"  {name:<30} {state}")


@app.command("count-rows")
def count_rows() -> None:
    """Row counts of the main tables, from whichever stack is running (the embedded one first)."""
    stack = _stack()
    try:
        if stack.postgres.process.is_running() or not container_stack_running():
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
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
