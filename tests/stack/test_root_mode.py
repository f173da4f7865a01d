"""Root mode: the server runs as 'nobody' from a checkout 'nobody' cannot enter, and no link moves a chown.

A checkout in a 0700 directory (like /root in a container) is played by a 0700 temporary directory
holding the state directory and a copy of the wheel's server binaries (as a virtualenv there would).
The whole end-to-end suite also runs its stack from a 0700 directory when it runs as root
(tests/conftest.py), which CI does.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from stack.postgres import EmbeddedPostgres, server_bin_dir
from stack.preflight import PrerequisiteError, free_port
from wikistream.credentials import load_or_create
from wikistream.layout import Layout

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="root mode needs root (CI runs as root)"),
]


@pytest.fixture()
def private_checkout() -> Iterator[Path]:
    """A 0700 directory owned by root, with a copy of the server binaries inside (its 'virtualenv')."""
    root = Path(tempfile.mkdtemp(prefix="wikistream-private-"))
    root.chmod(0o700)
    package = server_bin_dir().parent.parent
    shutil.copytree(package / "pginstall", root / "venv" / package.name / "pginstall", symlinks=True)
    shutil.copytree(package.parent / f"{package.name}.libs", root / "venv" / f"{package.name}.libs", symlinks=True)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def runtime_root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="wikistream-runtime-"))
    path.chmod(0o755)
    try:
        yield path / "var"
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _server(checkout: Path, runtime_root: Path) -> EmbeddedPostgres:
    layout = Layout(checkout / "state")
    return EmbeddedPostgres(
        layout,
        free_port(),
        "postgres",
        load_or_create(layout.secrets_file),
        runtime_root,
        bin_dir=checkout / "venv" / server_bin_dir().parent.parent.name / "pginstall" / "bin",
    )


def test_postgres_runs_from_a_checkout_nobody_can_enter_and_keeps_its_data(
    private_checkout: Path, runtime_root: Path
) -> None:
    first = _server(private_checkout, runtime_root)
    try:
        first.start()
        with closing(first.admin_connect("postgres")) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE kept (id int)")
            conn.commit()
    finally:
        first.stop()
    # A new stack object on the same state directory finds the same data, wherever it lies.
    second = _server(private_checkout, runtime_root)
    try:
        second.start()
        with closing(second.admin_connect("postgres")) as conn, conn.cursor() as cur:
            cur.execute("SELECT to_regclass('kept') IS NOT NULL")
            assert cur.fetchone() == (True,)
    finally:
        second.stop()
    data = second.data_dir
    assert data.parent.parent == runtime_root / "clusters"
    assert second.home.bin_dir.is_relative_to(runtime_root / "server")
    assert second.run_as is not None and os.stat(data).st_uid == second.run_as.uid
    assert os.stat(data.parent).st_uid == 0 and os.stat(data.parent).st_mode & 0o022 == 0
    second.remove_data()
    assert not data.parent.exists()


def test_a_symlink_in_place_of_the_data_directory_is_refused_not_chowned(runtime_root: Path) -> None:
    victim = Path(tempfile.mkdtemp(prefix="wikistream-victim-"))
    state = Path(tempfile.mkdtemp(prefix="wikistream-linked-"))
    state.chmod(0o755)
    try:
        layout = Layout(state)
        layout.postgres_dir.mkdir(parents=True)
        (layout.postgres_dir / "data").symlink_to(victim, target_is_directory=True)
        server = EmbeddedPostgres(layout, free_port(), "postgres", load_or_create(layout.secrets_file), runtime_root)
        with pytest.raises(PrerequisiteError, match="not the server account's directory"):
            server.initialise()
        assert os.stat(victim).st_uid == 0
    finally:
        shutil.rmtree(victim, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


def test_a_runtime_directory_others_can_write_is_refused(private_checkout: Path, runtime_root: Path) -> None:
    runtime_root.mkdir(mode=0o777)
    runtime_root.chmod(0o777)
    with pytest.raises(PrerequisiteError, match="writable by root only"):
        _server(private_checkout, runtime_root).initialise()
