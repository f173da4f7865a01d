"""The one DSN builder: every value quoted, and SCRAM required, so a port squatter learns no password.

The squatter (tests/squatter.py) is a real local server speaking PostgreSQL's wire protocol.
"""

from __future__ import annotations

import psycopg2
import pytest
from psycopg2.extensions import make_dsn, parse_dsn

from tests.squatter import PASSWORD, Squatter
from wikistream.postgres import libpq_dsn


def _try(dsn: str) -> None:
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(dsn).close()


def test_libpq_defaults_hand_the_password_to_a_squatter(squatter: Squatter) -> None:
    """The baseline: without require_auth, libpq answers a cleartext request with the password."""
    _try(make_dsn(host="127.0.0.1", port=squatter.port, dbname="x", user="u", password=PASSWORD, connect_timeout=3))
    squatter.close()
    assert PASSWORD.encode() in squatter.received


def test_our_dsn_refuses_to_send_the_password_in_clear(squatter: Squatter) -> None:
    _try(libpq_dsn(host="127.0.0.1", port=squatter.port, dbname="x", user="u", password=PASSWORD, connect_timeout=3))
    squatter.close()
    assert PASSWORD.encode() not in squatter.received


@pytest.mark.parametrize(
    "password", ["it's", "back\\slash", "new\nline", "spaces and = signs", "ünïcödé-パスワード", "'; DROP TABLE x; --"]
)
def test_every_value_survives_the_dsn(password: str) -> None:
    dsn = libpq_dsn(host="127.0.0.1", port=5432, dbname="data base", user="o'user", password=password)
    parsed = parse_dsn(dsn)
    assert (parsed["password"], parsed["user"], parsed["dbname"]) == (password, "o'user", "data base")
    assert parsed["require_auth"] == "scram-sha-256"
