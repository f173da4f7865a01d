"""The PostgreSQL `users` table (sql/002_tables.sql): idempotent upserts, and the weights the producer reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, fields

import psycopg2
import psycopg2.extensions
from psycopg2.extras import execute_values

from producer.errors import ProducerError
from producer.users import User

_COLUMNS = [field.name for field in fields(User)]
_UPSERT = (
    f"INSERT INTO users ({', '.join(_COLUMNS)}) VALUES %s "
    "ON CONFLICT (user_id) DO UPDATE SET "
    + ", ".join(f"{column} = EXCLUDED.{column}" for column in _COLUMNS if column != "user_id")
    + ", loaded_at = now()"
)


class DatabaseError(ProducerError):
    """PostgreSQL is unreachable, or the users table is missing or empty."""


def connect(dsn: str, target: str) -> psycopg2.extensions.connection:
    """A connection; target names the server in messages (the DSN may hold a password)."""
    try:
        return psycopg2.connect(dsn)
    except psycopg2.OperationalError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DatabaseError(f"cannot connect to PostgreSQL {target}: {reason}") from error


def upsert_users(conn: psycopg2.extensions.connection, users: Sequence[User]) -> None:
    try:
        with conn, conn.cursor() as cur:
            execute_values(cur, _UPSERT, [astuple(user) for user in users], page_size=1000)
    except psycopg2.Error as error:
        raise DatabaseError(f"writing users failed: {str(error).strip().splitlines()[0]}") from error


def load_user_weights(conn: psycopg2.extensions.connection) -> list[tuple[str, float]]:
    """(user_id, activity) of every user, in user_id order so that a seeded run picks the same users."""
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT user_id, activity FROM users ORDER BY user_id")
            rows = cur.fetchall()
    except psycopg2.Error as error:
        raise DatabaseError(f"reading users failed: {str(error).strip().splitlines()[0]}") from error
    if not rows:
        raise DatabaseError("the users table is empty: run 'python -m producer seed-users' first")
    return [(user_id, float(activity)) for user_id, activity in rows]
