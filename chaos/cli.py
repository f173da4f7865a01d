"""`python -m chaos run` (make chaos): the fault matrix, long outages and the soak on an isolated embedded stack."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import typer

from chaos.matrix import FaultResult, run_fault, soak
from chaos.outages import OUTAGES, run_outage
from chaos.target import FAULTS, embedded_target
from stack.isolated import isolated_stack
from stack.preflight import PrerequisiteError
from wikistream.settings import REPO_ROOT

OUTAGE_HELP = f"Long outages to run after the matrix, with the stack's producer live ({', '.join(OUTAGES)})."

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


@app.callback()
def _commands() -> None:
    """Keeps `run` a subcommand (Typer folds a lone command into the program)."""


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def render(results: list[FaultResult]) -> str:
    header = (
        "fault",
        "sent",
        "clicks",
        "minute aggr.",
        "session pages",
        "lost",
        "dup.",
        "rewritten",
        "back (s)",
        "clicks landed (s)",
        "all landed (s)",
    )
    rows = [header]
    for result in results:
        landing = result.landing
        back = ", ".join(_seconds(kill.back_s) for kill in result.kills)
        rows.append(
            (
                result.fault,
                f"{landing.sent:,}",
                f"{landing.clicks:,}",
                f"{landing.minute_aggregates:,}",
                f"{landing.session_pages:,}",
                str(landing.lost),
                str(landing.duplicated),
                f"{landing.rewritten:,}",
                back,
                _seconds(landing.clicks_landed_s),
                _seconds(landing.all_landed_s),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |" for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


@app.command()
def run(
    events: int = typer.Option(20_000, min=100, help="Events per fault of the matrix."),
    rate: float = typer.Option(1_000.0, min=1, help="Events per second of the matrix's streams."),
    faults: list[str] = typer.Option(list(FAULTS), help="Services to kill, in order."),
    matrix: bool = typer.Option(True, help="Run the fault matrix (--no-matrix: only the soak)."),
    soak_seconds: float = typer.Option(600.0, min=0, help="Length of the soak (0: no soak)."),
    soak_rate: float = typer.Option(2_000.0, min=1, help="Events per second of the soak."),
    kill_every: float = typer.Option(
        120.0, min=10, help="Seconds between the soak's kills (random order, no repeats)."
    ),
    seed: int = typer.Option(11, help="Seed of the soak's choice of faults."),
    outage: list[str] = typer.Option([], help=OUTAGE_HELP),
    outage_seconds: float = typer.Option(600.0, min=1, help="Length of each outage."),
    out: Path = typer.Option(REPO_ROOT / "chaos" / "results.json", help="Where to write the results as JSON."),
) -> None:
    """Kill -9 each service mid-stream on an isolated stack, then soak; print what landed, exactly once or not."""
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        raise typer.BadParameter(f"unknown fault(s) {unknown}: choose from {', '.join(FAULTS)}")
    unknown = sorted(set(outage) - set(OUTAGES))
    if unknown:
        raise typer.BadParameter(f"unknown outage(s) {unknown}: choose from {', '.join(OUTAGES)}")
    stack = isolated_stack("chaos")
    results: list[FaultResult] = []
    try:
        typer.echo(f"starting an isolated stack in {stack.layout.root} ...")
        stack.run(echo=lambda _line: None)
        target = embedded_target(stack)
        for fault in faults if matrix else []:
            typer.echo(f"{fault}: {events} events at {rate:g}/s, kill -9 after {events // 2} ...")
            results.append(run_fault(target, fault, events, rate))
            typer.echo(render(results[-1:]))
        for kind in outage:
            typer.echo(f"{kind}: {outage_seconds:.0f} s with the stack's producer live ...")
            results.append(run_outage(stack, target.postgres_dsn, kind, outage_seconds))
            typer.echo(render(results[-1:]))
        if soak_seconds:
            typer.echo(f"soak: {soak_seconds:.0f} s at {soak_rate:g}/s, a random kill every {kill_every:.0f} s ...")
            results.append(soak(target, soak_seconds, soak_rate, kill_every, tuple(faults), seed))
    except PrerequisiteError as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from error
    finally:
        stack.reset()
    typer.echo("\n" + render(results))
    out.write_text(
        json.dumps(
            {
                "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "results": [asdict(result) for result in results],
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    typer.echo(f"\nwritten to {out}")
    if any(not result.landing.exactly_once for result in results):
        raise typer.Exit(1)


def main() -> None:
    app()
