"""`python -m producer COMMAND`: seed users, stream clicks, and prepare clickstream data."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from kafka.errors import KafkaError

from producer.datasets import model_path_for, resolve_model
from producer.download import DEFAULT_BASE_URL, Downloader, DumpFile
from producer.errors import ProducerError
from producer.journal import Journal, JournalWriter, delivered_after
from producer.model import DEFAULT_CONTINUE_CAP, ClickstreamModel, build_model, load_model
from producer.pacing import Pacer
from producer.randomuser import RandomUserClient
from producer.runner import DeliveryFailed, StatsLine, run_stream
from producer.sessions import STEP_S, ClickSimulator, SimulationConfig
from producer.settings import KafkaClient, ProducerSettings
from producer.sinks import Sink, StdoutSink, kafka_sink
from producer.synthetic import DEFAULT_ARTICLES, DEFAULT_DATASET_SEED, write_synthetic_clickstream
from producer.user_sources import UserSource, obtain_users
from producer.user_store import connect, load_user_weights, upsert_users
from producer.users import DEFAULT_USERS_SEED, user_identities

log = logging.getLogger("producer")
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help=__doc__)
DEFAULT_RATE = 50.0
# Seconds between two attempts to resume a run whose deliveries failed, while Kafka does not answer.
RECOVERY_RETRY_S = 5.0


@contextlib.contextmanager
def _reported_errors() -> Iterator[None]:
    """Expected failures end as one line on stderr and exit status 1, not a traceback."""
    try:
        yield
    except ProducerError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None


@app.callback()
def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    # kafka-python logs every failed connection attempt; our own messages say what matters.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)


@app.command("seed-users")
def seed_users(
    count: Annotated[int | None, typer.Option(min=1, help="Users to upsert (default: USERS_COUNT)")] = None,
    source: Annotated[UserSource, typer.Option(help="api, offline, or auto: the API with offline fallback")] = (
        UserSource.AUTO
    ),
    api_url: Annotated[str | None, typer.Option(help="Random User API URL (default: RANDOMUSER_API_URL)")] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same user ids and activity")] = DEFAULT_USERS_SEED,
) -> None:
    """Upsert users into the PostgreSQL users table (idempotent for a given seed)."""
    settings = ProducerSettings()
    with _reported_errors():
        # Connect first: no point fetching users for a database that is not there.
        conn = connect(settings.postgres_dsn, settings.postgres_target)
        try:
            client = RandomUserClient(
                base_url=api_url or settings.randomuser_api_url, attempts=settings.randomuser_attempts
            )
            users = obtain_users(count or settings.users_count, seed, source, client)
            upsert_users(conn, users)
        finally:
            conn.close()
    sources = sorted({user.source for user in users})
    log.info("upserted %d users (source %s) into %s", len(users), ", ".join(sources), settings.postgres_target)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("%s received: flushing and stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


def _open_sink_and_users(
    settings: ProducerSettings, dry_run: bool, client: KafkaClient
) -> tuple[Sink, list[tuple[str, float]]]:
    if dry_run:
        # The ids seed-users writes by default, without needing the database.
        identities = user_identities(settings.users_count, DEFAULT_USERS_SEED)
        log.info("dry run: %d offline users, JSON lines to stdout", len(identities))
        return StdoutSink(sys.stdout.buffer), [(user.user_id, user.activity) for user in identities]
    sink = kafka_sink(
        client,
        settings.kafka_bootstrap_servers,
        settings.kafka_topic,
        settings.kafka_connect_attempts,
        settings.delivery_timeout_s,
    )
    try:
        conn = connect(settings.postgres_dsn, settings.postgres_target)
        try:
            users = load_user_weights(conn)
        finally:
            conn.close()
    except ProducerError:
        sink.close()
        raise
    log.info(
        "sending to Kafka %s topic '%s' with %s; %d users from PostgreSQL",
        settings.kafka_bootstrap_servers,
        settings.kafka_topic,
        client.value,
        len(users),
    )
    return sink, users


@app.command()
def run(
    rate: Annotated[float, typer.Option(min=0.01, help="Clicks per second (of event time)")] = DEFAULT_RATE,
    total: Annotated[int | None, typer.Option(min=1, help="Send exactly this many clicks, then exit")] = None,
    dry_run: Annotated[bool, typer.Option(help="JSON lines to stdout; no Kafka, no PostgreSQL")] = False,
    seed: Annotated[int | None, typer.Option(help="Makes the stream reproducible (default: random, logged)")] = None,
    clickstream: Annotated[
        Path | None, typer.Option(help="Clickstream .tsv, .tsv.gz or model .npz (default: the synthetic dataset)")
    ] = None,
    speedup: Annotated[
        float, typer.Option(min=0.001, help="Replay simulated reading time this many times faster")
    ] = 1.0,
    pace: Annotated[
        bool | None, typer.Option("--pace/--no-pace", help="Hold to the wall clock (default: on, off with --dry-run)")
    ] = None,
    start_ms: Annotated[int | None, typer.Option(help="Event time of the start, epoch ms (default: now)")] = None,
    journal: Annotated[
        Path | None,
        typer.Option(help="Resume the run this journal holds, without loss or repeats (default: PRODUCER_JOURNAL)"),
    ] = None,
    client: Annotated[
        KafkaClient | None, typer.Option(help="Kafka client library (default: PRODUCER_KAFKA_CLIENT)")
    ] = None,
) -> None:
    """Stream click events to Kafka (or stdout with --dry-run)."""
    settings = ProducerSettings()
    journal = journal or settings.journal
    if seed is None:
        seed = secrets.randbelow(2**31)
    log.info("seed %d (pass --seed %d to reproduce)", seed, seed)
    with _reported_errors():
        model = resolve_model(clickstream, settings.data_dir)
        log.info("walking the %s", model.describe())
        config = SimulationConfig(rate=rate, speedup=speedup)
        if config.time_compression > speedup:
            log.info(
                "dwell times compressed x%.1f (not x%g) so that at most ~%d sessions are open at once",
                config.time_compression,
                speedup,
                config.max_open_sessions,
            )
        sink, users = _open_sink_and_users(settings, dry_run, client or settings.kafka_client)
        origin_ms = start_ms if start_ms is not None else time.time_ns() // 1_000_000
        simulator = ClickSimulator(model, users, config, seed, origin_ms)
        paced = pace if pace is not None else not dry_run
        writer, delivered = None, frozenset[str]()
        params = _run_params(rate, speedup, total, model, users)
        if journal is not None and not dry_run:
            writer, delivered = _resume(Journal(journal), simulator, settings, params)
        stats = StatsLine()
        sent = 0
        # Installed only now: a Ctrl-C during a model build or a connection retry still interrupts at once.
        stop = _stop_on_signals()
        pacer = (lambda: Pacer(STEP_S)) if paced else None
        while True:
            try:
                sent += run_stream(
                    simulator, sink, total, pacer, stop, stats, writer, delivered, settings.max_in_flight
                )
                break
            except DeliveryFailed as failure:
                assert journal is not None  # only a journaled run raises it
                # The journal's checkpoint lies before every event not acknowledged: back to it, with a
                # new client (a new idempotent session), skipping what Kafka holds. No restart needed.
                log.warning("RECOVERING run %s: %s; resending from the journal's checkpoint", simulator.run_id, failure)
                sink.abandon()
                recovered = _recover(
                    Journal(journal), simulator, settings, client or settings.kafka_client, params, stop
                )
                if recovered is None:
                    return
                sink, writer, delivered = recovered
        sink.close()
        if writer is not None:
            # Everything is acknowledged now (or failed, and is sent again by the next run).
            writer.before_step(simulator, force=True)
        stats.maybe_log(sent, sink, simulator, force=True)
        log.info("done: %d clicks at %.1f/s overall, %d delivery errors", sent, stats.overall_rate(sent), sink.errors)
    if sink.errors:
        raise typer.Exit(1)


def _run_params(
    rate: float, speedup: float, total: int | None, model: ClickstreamModel, users: list[tuple[str, float]]
) -> dict[str, object]:
    """What a journal's run must share with this one to be resumed by it."""
    digest = hashlib.sha256("".join(f"{user_id}:{activity!r}\n" for user_id, activity in users).encode())
    return {"rate": rate, "speedup": speedup, "total": total, "model": model.describe(), "users": digest.hexdigest()}


def _resume(
    journal: Journal, simulator: ClickSimulator, settings: ProducerSettings, params: dict[str, object]
) -> tuple[JournalWriter, frozenset[str]]:
    """Continue the journal's run when it matches (restored simulator, events Kafka already has)."""
    checkpoint = journal.load()
    if checkpoint is None or checkpoint.params != params:
        if checkpoint is not None:
            log.info("journal %s holds another run (%s): starting a new one", journal.path, checkpoint.params)
        log.info("run %s, journal %s", simulator.run_id, journal.path)
        return JournalWriter(journal, params, {}), frozenset()
    simulator.restore(checkpoint.state)
    try:
        delivered = delivered_after(
            settings.kafka_bootstrap_servers, settings.kafka_topic, checkpoint.offsets, simulator.run_id
        )
    except (KafkaError, TimeoutError) as error:
        raise ProducerError(f"cannot read back what run {simulator.run_id} delivered: {error}") from error
    log.info(
        "RESUMING run %s at event %d (journal %s): %d later events are in Kafka already and are not sent again",
        simulator.run_id,
        simulator.emitted,
        journal.path,
        len(delivered),
    )
    return JournalWriter(journal, params, checkpoint.offsets), frozenset(delivered)


def _recover(
    journal: Journal,
    simulator: ClickSimulator,
    settings: ProducerSettings,
    client: KafkaClient,
    params: dict[str, object],
    stop: threading.Event,
) -> tuple[Sink, JournalWriter, frozenset[str]] | None:
    """A new client and the run resumed from its journal, retried every RECOVERY_RETRY_S until Kafka
    answers (it may still be down); None when asked to stop meanwhile."""
    while not stop.is_set():
        try:
            sink = kafka_sink(
                client,
                settings.kafka_bootstrap_servers,
                settings.kafka_topic,
                settings.kafka_connect_attempts,
                settings.delivery_timeout_s,
            )
        except ProducerError as error:
            log.warning("recovery waits for Kafka (next try in %.0f s): %s", RECOVERY_RETRY_S, error)
            stop.wait(RECOVERY_RETRY_S)
            continue
        try:
            writer, delivered = _resume(journal, simulator, settings, params)
            return sink, writer, delivered
        except ProducerError as error:
            sink.close()
            log.warning("recovery waits for Kafka (next try in %.0f s): %s", RECOVERY_RETRY_S, error)
            stop.wait(RECOVERY_RETRY_S)
    return None


@app.command()
def synthetic(
    out: Annotated[Path, typer.Option(help="Output .tsv.gz (or .tsv); the name must contain 'synthetic'")],
    seed: Annotated[int, typer.Option(help="Same seed, same bytes")] = DEFAULT_DATASET_SEED,
    articles: Annotated[int, typer.Option(min=2, help="Number of invented articles")] = DEFAULT_ARTICLES,
) -> None:
    """Write the deterministic SYNTHETIC clickstream dataset (dump format; not real data)."""
    with _reported_errors():
        summary = write_synthetic_clickstream(out, seed, articles)
    log.info(
        "wrote SYNTHETIC clickstream %s: %d articles, %d rows (not real data)", out, summary.articles, summary.rows
    )


@app.command()
def download(
    wiki: Annotated[str, typer.Option(help="Wiki database name, e.g. enwiki, dewiki")],
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    base_url: Annotated[str, typer.Option(help="Root of the dumps layout")] = DEFAULT_BASE_URL,
    out: Annotated[Path | None, typer.Option(help="Directory (default: PRODUCER_DATA_DIR)")] = None,
) -> None:
    """Download a monthly clickstream dump (resumable, checksum-verified) and build its model."""
    out_dir = out or ProducerSettings().data_dir
    with _reported_errors():
        path = Downloader().download(DumpFile(wiki, month, base_url), out_dir)
        _build(path, model_path_for(path, out_dir), DEFAULT_CONTINUE_CAP)


@app.command("build-model")
def build_model_command(
    clickstream: Annotated[Path, typer.Option(help="Clickstream .tsv or .tsv.gz")],
    out: Annotated[Path, typer.Option(help="Model file to write (.npz)")],
    continue_cap: Annotated[
        float, typer.Option(min=0.0, max=0.99, help="Upper bound of an article's chance to click on")
    ] = DEFAULT_CONTINUE_CAP,
) -> None:
    """Build the compact model of a clickstream file."""
    with _reported_errors():
        _build(clickstream, out, continue_cap)


def _build(clickstream: Path, out: Path, continue_cap: float) -> None:
    started = time.monotonic()
    report = build_model(clickstream, out, continue_cap)
    log.info("%s", report.summary())
    log.info("model %s written in %.1f s: %s", out, time.monotonic() - started, load_model(out).describe())


def main() -> None:
    app()
