"""Where the repository's shared files lie; standard library only, so the PostgreSQL image can import it."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
STACK_ENV = REPO_ROOT / "config" / "stack.env"
SQL_DIR = REPO_ROOT / "sql"
