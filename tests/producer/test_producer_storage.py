"""Users in a real PostgreSQL (postgres_dsn: an empty database with sql/*.sql applied)."""

from __future__ import annotations

import psycopg2
import pytest

from producer.user_store import DatabaseError, connect, load_user_weights, upsert_users
from producer.users import generate_offline_users


def _rows(dsn: str) -> list[tuple]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT user_id, username, country, activity, source, registered_at FROM users ORDER BY user_id")
        return cur.fetchall()


def test_upserting_twice_changes_nothing(postgres_dsn: str) -> None:
    users = generate_offline_users(300, seed=3)
    conn = connect(postgres_dsn, "test database")
    try:
        upsert_users(conn, users)
        first = _rows(postgres_dsn)
        upsert_users(conn, users)
        assert _rows(postgres_dsn) == first
        assert len(first) == 300
        assert sorted(load_user_weights(conn)) == sorted((u.user_id, u.activity) for u in users)
    finally:
        conn.close()


def test_every_column_is_written(postgres_dsn: str) -> None:
    user = generate_offline_users(1, seed=4)[0]
    conn = connect(postgres_dsn, "test database")
    try:
        upsert_users(conn, [user])
    finally:
        conn.close()
    with psycopg2.connect(postgres_dsn) as db, db.cursor() as cur:
        cur.execute(
            "SELECT user_id, username, first_name, last_name, gender, email, country, nat, age, registered_at, "
            "activity, source, loaded_at IS NOT NULL FROM users"
        )
        assert cur.fetchall() == [(*(getattr(user, name) for name in user.__slots__), True)]


def test_an_empty_users_table_is_a_clear_error(postgres_dsn: str) -> None:
    conn = connect(postgres_dsn, "test database")
    try:
        with pytest.raises(DatabaseError, match="run 'python -m producer seed-users' first"):
            load_user_weights(conn)
    finally:
        conn.close()


def test_seed_users_is_idempotent_and_falls_back_offline(
    postgres_dsn: str, postgres_env: dict[str, str], run_producer
) -> None:
    env = postgres_env | {"RANDOMUSER_ATTEMPTS": "2"}
    # Nothing listens on port 9: --source auto must fall back, say so, and still exit 0.
    args = ("seed-users", "--count", "120", "--seed", "5", "--api-url", "http://127.0.0.1:9/api/")
    first = run_producer(*args, env=env)
    assert first.returncode == 0, first.stderr
    assert "FALLING BACK to the offline generator" in first.stderr.decode()
    rows = _rows(postgres_dsn)
    assert len(rows) == 120 and {row[4] for row in rows} == {"offline-synthetic"}
    assert run_producer(*args, env=env).returncode == 0
    assert _rows(postgres_dsn) == rows
    # A larger count adds the missing users and keeps the first 120 as they were.
    assert run_producer("seed-users", "--count", "150", "--seed", "5", "--source", "offline", env=env).returncode == 0
    grown = _rows(postgres_dsn)
    assert len(grown) == 150 and set(rows) <= set(grown)
