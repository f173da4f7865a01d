"""Storage stays bounded: the retention of each stream table (sql/006_retention.sql), set and run.

Each stream table belongs to a retention class whose days are a setting (RETENTION_*_DAYS of
config/stack.env). The schema bootstrap writes them and runs the maintenance once
(apply_retention); from then on the job keeper of either stack runs it every
MAINTENANCE_INTERVAL_S (start_maintenance), as the writer, through the one function the writer
may call. Standard library and psycopg2 only: the PostgreSQL image runs the bootstrap.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg2

log = logging.getLogger(__name__)

# The retention classes of sql/006_retention.sql's stream_retention, and the variable of each one's days.
RETENTION_VARIABLES = {"raw": "RETENTION_RAW_DAYS", "aggregate": "RETENTION_AGGREGATE_DAYS"}
# What one maintenance step did: (action, relation, rows); rows is None for a dropped partition.
Action = tuple[str, str, int | None]


@dataclass(frozen=True)
class Retention:
    """Days kept per retention class."""

    raw_days: int
    aggregate_days: int

    def __post_init__(self) -> None:
        for name, days in self.by_class().items():
            if days < 1:
                raise ValueError(f"{RETENTION_VARIABLES[name]} must be a whole number of days, at least 1 (got {days})")

    def by_class(self) -> dict[str, int]:
        return {"raw": self.raw_days, "aggregate": self.aggregate_days}

    @classmethod
    def from_environment(cls) -> Retention:
        days = {}
        for name, variable in RETENTION_VARIABLES.items():
            text = os.environ.get(variable, "")
            if not text.strip().isdigit():
                raise SystemExit(f"{variable} must be a whole number of days (got {text!r})")
            days[name] = int(text)
        return cls(raw_days=days["raw"], aggregate_days=days["aggregate"])


def apply_retention(cur: Any, retention: Retention) -> list[Action]:
    """As the schema's owner, in the bootstrap's transaction: write the days, adopt the rows of tables
    from before partitioning, and run every table's maintenance now; returns what it did."""
    for name, days in retention.by_class().items():
        cur.execute(
            "INSERT INTO retention_classes (retention_class, keep) VALUES (%s, make_interval(days => %s))"
            " ON CONFLICT (retention_class) DO UPDATE SET keep = EXCLUDED.keep",
            (name, days),
        )
    cur.execute(
        "SELECT DISTINCT retention_class FROM stream_retention EXCEPT SELECT retention_class FROM retention_classes"
    )
    missing = sorted(row[0] for row in cur.fetchall())
    if missing:
        raise ValueError(f"no retention days for the classes {missing} of stream_retention")
    cur.execute("SELECT table_name FROM stream_retention WHERE partitioned ORDER BY table_name")
    for (table,) in cur.fetchall():
        cur.execute("SELECT adopt_unpartitioned(%s, now())", (table,))
        (adopted,) = cur.fetchone()
        if adopted is not None:
            log.info("moved %d rows of %s from before partitioning", adopted, table)
    cur.execute(
        "SELECT m.* FROM stream_retention s, maintain_stream_table_at(s.table_name, now()) m ORDER BY s.table_name"
    )
    return [(action, relation, rows) for action, relation, rows in cur.fetchall()]


def maintain(dsn: str, at: datetime | None = None) -> list[Action]:
    """Every stream table's maintenance, one table per transaction; returns what was done.

    Now, as the writer (the keeper), by default; at another time only as the schema's owner (a
    time-lapse test plays days that way).
    """
    actions: list[Action] = []
    with closing(psycopg2.connect(dsn)) as conn:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT table_name FROM stream_retention ORDER BY table_name")
            tables = [row[0] for row in cur.fetchall()]
        for table in tables:
            with conn, conn.cursor() as cur:
                if at is None:
                    cur.execute("SELECT * FROM maintain_stream_table(%s)", (table,))
                else:
                    cur.execute("SELECT * FROM maintain_stream_table_at(%s, %s)", (table, at))
                actions.extend((action, relation, rows) for action, relation, rows in cur.fetchall())
    return actions


def describe(action: Action) -> str:
    what, relation, rows = action
    return f"{what} {relation}" + ("" if rows is None else f" ({rows} rows)")


def start_maintenance(dsn: str, stopping: threading.Event, interval_s: float) -> threading.Thread:
    """A daemon thread running maintain(dsn) now and every interval_s until stopping; a failed run is
    logged and tried again at the next interval (the DEFAULT partitions hold the rows meanwhile)."""

    def loop() -> None:
        while not stopping.is_set():
            try:
                for action in maintain(dsn):
                    log.info("retention: %s", describe(action))
            except psycopg2.Error as error:
                log.error("retention maintenance failed (next try in %.0f s): %s", interval_s, str(error).strip())
            stopping.wait(interval_s)

    thread = threading.Thread(target=loop, name="retention", daemon=True)
    thread.start()
    return thread
