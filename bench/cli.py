"""`python -m bench`: measure the embedded stack against the baseline, print a table, write JSON."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from bench import measure, sustained
from bench.memory import MemorySampler
from bench.memory import services as memory_services
from bench.profile import StackSampler
from producer.settings import KafkaClient
from stack.embedded import EmbeddedStack
from stack.isolated import isolated_stack
from stack.preflight import PrerequisiteError
from wikistream.settings import REPO_ROOT

app = typer.Typer(add_completion=False, help=__doc__)


def _machine() -> dict[str, object]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    mem_kib = int(
        next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    )
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


@contextmanager
def _isolated() -> Iterator[EmbeddedStack]:
    """An isolated embedded stack, stopped and deleted afterwards; a failure ends with one red line."""
    stack = isolated_stack("bench")
    try:
        yield stack
    except (PrerequisiteError, RuntimeError, subprocess.CalledProcessError) as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from error
    finally:
        stack.reset()


def _quiesce(stack: EmbeddedStack) -> None:
    """Stop what `make run` started on top of the services (producer, keeper, job): measurements start their own."""
    stack.stop_service("producer")
    # Or it would resubmit the job that the measurements cancel.
    stack.stop_service("job-keeper")
    for job in stack.flink.rest.live_jobs(stack.settings.flink_job_name):
        stack.flink.rest.cancel(job.job_id)


@app.command()
def run(
    reps: int = typer.Option(3, min=1, help="Repetitions of each throughput measurement (the median is reported)."),
    events: int = typer.Option(
        200_000, min=1000, help="Events in each end-to-end throughput run (a longer drain amortises the JIT warm-up)."
    ),
    producer_events: int = typer.Option(50_000, min=1000, help="Events in each producer-only run."),
    latency_seconds: int = typer.Option(20, min=10, help="Length of each latency run at 2,000 events/s."),
    sustain: int = typer.Option(600, min=0, help="Seconds of each sustained run (0: no sustained runs)."),
    sustain_rates: str = typer.Option(
        "2000,5000,7500,10000,15000,20000,30000",
        help="Rates of the sustained runs, in ascending order until one fails.",
    ),
    out: Path = typer.Option(REPO_ROOT / "bench" / "results.json", help="Where to write the figures as JSON."),
) -> None:
    """Run every measurement on an isolated embedded stack and report medians with the baseline ratio."""
    results: dict[str, object] = {
        "machine": _machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "reps": reps,
        "events": events,
    }
    say = typer.echo

    def save() -> None:
        # After every stage, so an interrupted run keeps what it measured.
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")

    with _isolated() as stack:
        say(f"cold start on {stack.layout.root} ...")
        results["cold_start_s"] = measure.cold_start_seconds(stack)
        save()
        _quiesce(stack)
        with MemorySampler(memory_services(stack)) as memory:
            say("producer only (dry run, Kafka with each client, the clients alone) ...")
            results["producer_dry_run_eps"] = _median(
                [measure.producer_dry_run_rate(stack, producer_events) for _ in range(reps)]
            )
            for key, kafka_client in (
                ("producer_kafka_eps", KafkaClient.KAFKA_PYTHON),
                ("producer_kafka_confluent_eps", KafkaClient.CONFLUENT_KAFKA),
            ):
                results[key] = _median(
                    [
                        measure.producer_kafka_rate(stack, f"bench-{key}-{i}", producer_events, kafka_client)
                        for i in range(reps)
                    ]
                )
            serialised = measure.producer_events(stack, producer_events)
            for key, client in (
                ("baseline_producer_kafka_eps", measure.baseline_producer_rate),
                ("kafka_python_client_eps", measure.kafka_python_rate),
                ("confluent_kafka_client_eps", measure.confluent_kafka_rate),
            ):
                results[key] = _median([client(stack, f"bench-{key}-{i}", serialised) for i in range(reps)])
            save()
            say(f"filling a backlog of {events} events ...")
            measure.producer_kafka_rate(stack, "bench-backlog", events)
            for config in (measure.BASELINE, measure.TUNED):
                say(f"end-to-end drain, {config.name} ...")
                results[f"{config.name}_e2e_eps"] = _median(
                    [
                        measure.drain_throughput(stack, config, "bench-backlog", events, f"bench-{config.name}-{i}")
                        for i in range(reps)
                    ]
                )
                save()
            for config in (measure.BASELINE, measure.TUNED):
                say(f"latency at 2,000 events/s, {config.name} ...")
                results[f"{config.name}_latency"] = measure.latency_percentiles(
                    stack, config, f"bench-latency-{config.name}", 2000, latency_seconds, f"bench-lat-{config.name}"
                )
                save()
            if sustain:
                _sustained(stack, results, _rates(sustain_rates), sustain, save)
        results["peak_memory_mib"] = memory.peaks_mib
    save()
    say(render_table(results))
    if "sustained_runs" in results:
        say(render_sustained(results))
    say(f"\nwritten to {out}")


def _rates(text: str) -> list[int]:
    try:
        rates = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise typer.BadParameter(f"not a list of whole numbers: {text!r}", param_hint="rates") from error
    if not rates or min(rates) < 1:
        raise typer.BadParameter("give at least one rate, each 1 or more events/s", param_hint="rates")
    return rates


def _sustained(stack: EmbeddedStack, results: dict[str, object], rates: list[int], seconds: int, save: Any) -> None:
    best, runs = sustained.step_rates(stack, measure.TUNED, rates, seconds, typer.echo)
    results["sustained_eps"] = best
    results["sustained_seconds"] = seconds
    results["sustained_runs"] = [run.as_json() for run in runs]
    save()


@app.command()
def sustain(
    seconds: int = typer.Option(600, min=10, help="Seconds of each run."),
    rates: str = typer.Option("2000", help="Rates (events/s), tried in ascending order until one fails."),
    out: Path = typer.Option(REPO_ROOT / "bench" / "sustained.json", help="Where to write the figures as JSON."),
) -> None:
    """Only the sustained runs: the producer live at each rate for `seconds`, on an isolated stack."""
    steps = _rates(rates)
    results: dict[str, object] = {"machine": _machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    def save() -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")

    with _isolated() as stack:
        typer.echo(f"starting an isolated stack on {stack.layout.root} ...")
        stack.run(echo=lambda _line: None)
        _quiesce(stack)
        _sustained(stack, results, steps, seconds, save)
    typer.echo(render_sustained(results))
    typer.echo(f"\nwritten to {out}")


def render_sustained(r: dict[str, Any]) -> str:
    lines = [f"sustained runs of {r['sustained_seconds']} s (zero loss, lag at end <= {sustained.LAG_BOUND_S:.0f} s):"]
    for run in r["sustained_runs"]:
        worst_p95 = max((m["p95_ms"] for m in run["per_minute_latency_ms"]), default=0.0)
        rows = sum(run["rows_written_per_event"].values())
        cpu, heap = run["cpu_us_per_event"], run["heap_after_gc_mib"]
        verdict = "holds" if run["holds"] else "fails"
        states = [entry["state_mib"] for entry in run["checkpoints"]]
        state = f"state {states[0]:.0f} -> {max(states):.0f} (max) -> {states[-1]:.0f} MiB, " if states else ""
        in_flight, behind_s = max(run.get("producer_in_flight") or [0]), run.get("producer_fell_behind_s", 0.0)
        peak, end = run.get("peak_memory_mib", {}), run.get("end_memory_mib", {})
        lines.append(
            f"  {run['rate']:>7,}/s  {verdict}: landed {run['landed']:,} of {run['sent']:,},"
            f" lag at end {run['lag_at_end']:,}, worst minute p95 {worst_p95:,.0f} ms,"
            f" heap after GC {heap.get('start', 0):.0f} -> {heap.get('end', 0):.0f}"
            f" MiB, {state}{rows:.2f} rows written per event, CPU per event {cpu.get('machine', 0):.0f} us"
            f" (PostgreSQL {cpu.get('postgres', 0):.0f} us), producer in flight at most"
            f" {in_flight:,}, {behind_s:.0f} s behind its pace, all services {peak.get('total', 0):,.0f} MiB at most"
            f" and {end.get('total', 0):,.0f} MiB at the end"
        )
    best = r["sustained_eps"]
    lines.append(f"  highest rate that held: {f'{best:,}/s' if best else 'none'}")
    return "\n".join(lines)


@app.command()
def profile(
    config: str = typer.Option("tuned", help="Job configuration to profile: tuned or baseline."),
    events: int = typer.Option(200_000, min=1000, help="Events in the backlog the job drains while sampled."),
    live_rate: int = typer.Option(
        0, min=0, help="Profile a sustained run at this rate (events/s) instead of a drain (0: a drain)."
    ),
    seconds: int = typer.Option(300, min=10, help="Seconds of the sustained run (with --live-rate)."),
    interval: float = typer.Option(
        1.0, min=0.1, help="Seconds between two jstack samples (each costs about 0.25 s of CPU)."
    ),
    out_dir: Path = typer.Option(REPO_ROOT / "bench" / "profiles", help="Where to write the profile."),
) -> None:
    """Sample the TaskManager's task threads with jstack during a drain or a live run; write the profile."""
    configs = {c.name: c for c in (measure.TUNED, measure.BASELINE)}
    if config not in configs:
        raise typer.BadParameter(f"pick one of {', '.join(configs)}", param_hint="--config")
    with _isolated() as stack:
        typer.echo(f"starting an isolated stack on {stack.layout.root} ...")
        stack.run(echo=lambda _line: None)
        _quiesce(stack)
        sampler = StackSampler(stack, interval)
        if live_rate:
            typer.echo(f"the producer live at {live_rate:,}/s for {seconds} s under the sampler ...")
            run = sustained.sustained_run(
                stack, configs[config], "bench-live", live_rate, seconds, "bench-profile", timed=sampler
            )
            verdict = "held" if run.holds else f"failed: lag at end {run.lag_at_end:,}"
            title = (
                f"Profile of the TaskManager during a {config} sustained run at {live_rate:,} events/s for"
                f" {seconds} s ({verdict}; landed {run.landed:,} of {run.sent:,})."
            )
            target = out_dir / f"taskmanager-{config}-live-{live_rate}.txt"
        else:
            typer.echo(f"filling a backlog of {events} events, then draining it under the sampler ...")
            measure.producer_kafka_rate(stack, "bench-backlog", events)
            rate = measure.drain_throughput(
                stack, configs[config], "bench-backlog", events, "bench-profile", timed=sampler
            )
            title = (
                f"Profile of the TaskManager during the {config} end-to-end drain of {events:,} events"
                f" ({rate:,.0f} events/s)."
            )
            target = out_dir / f"taskmanager-{config}-drain.txt"
    out_dir.mkdir(parents=True, exist_ok=True)
    target.write_text(sampler.render(title))
    typer.echo(target.read_text())
    typer.echo(f"written to {target}")


def render_table(r: dict[str, Any]) -> str:
    def ratio(ours: float, base: float) -> str:
        return f"{ours / base:.1f}x" if base else "-"

    lat_t, lat_b = r["tuned_latency"], r["baseline_latency"]
    rows = [
        ("producer, dry run (events/s)", f"{r['producer_dry_run_eps']:,.0f}", "", ""),
        (
            "producer to Kafka (events/s)",
            f"{r['producer_kafka_eps']:,.0f}",
            f"{r['baseline_producer_kafka_eps']:,.0f}",
            ratio(r["producer_kafka_eps"], r["baseline_producer_kafka_eps"]),
        ),
        (
            "producer to Kafka, --client confluent-kafka (events/s)",
            f"{r['producer_kafka_confluent_eps']:,.0f}",
            f"{r['baseline_producer_kafka_eps']:,.0f}",
            ratio(r["producer_kafka_confluent_eps"], r["baseline_producer_kafka_eps"]),
        ),
        (
            "client alone, kafka-python, keyed, acks=all (events/s)",
            f"{r['kafka_python_client_eps']:,.0f}",
            f"{r['baseline_producer_kafka_eps']:,.0f}",
            ratio(r["kafka_python_client_eps"], r["baseline_producer_kafka_eps"]),
        ),
        (
            "client alone, confluent-kafka, same settings (events/s)",
            f"{r['confluent_kafka_client_eps']:,.0f}",
            f"{r['baseline_producer_kafka_eps']:,.0f}",
            ratio(r["confluent_kafka_client_eps"], r["baseline_producer_kafka_eps"]),
        ),
        (
            "end-to-end drain of a backlog, zero loss (events/s)",
            f"{r['tuned_e2e_eps']:,.0f}",
            f"{r['baseline_e2e_eps']:,.0f}",
            ratio(r["tuned_e2e_eps"], r["baseline_e2e_eps"]),
        ),
    ]
    # The sustained figure stands beside the drain: the rate held live against the backlog's rate.
    if "sustained_eps" in r:
        best = r["sustained_eps"]
        rows.append(
            (
                f"sustained {r['sustained_seconds']} s, zero loss, lag held (events/s)",
                f"{best:,}" if best else "none held",
                "",
                "",
            )
        )
    for p in ("p50", "p95", "p99"):
        key = f"{p}_ms"
        rows.append(
            (f"latency {p} at 2,000/s (ms)", f"{lat_t[key]:,.0f}", f"{lat_b[key]:,.0f}", ratio(lat_b[key], lat_t[key]))
        )
    rows.append(("latency run: rows missing after 2 min", f"{lat_t['missing']:,}", f"{lat_b['missing']:,}", ""))
    rows.append(("cold start to first row (s)", f"{r['cold_start_s']:.1f}", "", ""))
    for service, mib in r["peak_memory_mib"].items():
        rows.append((f"peak memory, {service} (MiB)", f"{mib:,.0f}", "", ""))
    widths = [max(len(row[i]) for row in [("measure", "ours", "baseline", "ratio"), *rows]) for i in range(4)]
    header = ("measure", "ours", "baseline", "ratio")
    lines = [
        " | ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row))
        for row in [header, *rows]
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    app()
