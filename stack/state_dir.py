"""The state directory is private: what the stack writes there (logs, Kafka segments holding user and
session ids, checkpoints, secrets) is for the stack's own user alone.

Every process the stack starts inherits umask 077, so each file and directory it creates is its
owner's only. The directory itself is 0700, or 0711 when the stack runs as root and PostgreSQL's
account ('nobody') keeps its data inside (stack/postgres_home.py): others may then pass through to
that 0700 data directory, never list or read anything.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PROCESS_UMASK = 0o077
PRIVATE = 0o700
TRAVERSABLE = 0o711


def create_private(root: Path) -> None:
    """From now on this process (and every child) creates private files; root exists, 0700 if new."""
    os.umask(PROCESS_UMASK)
    root.mkdir(mode=PRIVATE, parents=True, exist_ok=True)


def close(root: Path, *, others_pass_through: bool) -> None:
    """Narrow root to 0700 (0711 when others_pass_through), also a directory made before this rule."""
    mode = TRAVERSABLE if others_pass_through else PRIVATE
    if stat.S_IMODE(root.stat().st_mode) != mode:
        root.chmod(mode)
