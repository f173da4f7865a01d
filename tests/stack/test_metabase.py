"""`make metabase` on the embedded stack, against a local server laid out like downloads.metabase.com.

The real jar cannot be downloaded here, so the server serves tests/stack/fake_metabase: a jar
compiled for Java 21 that runs the Metabase stand-in with Metabase's environment (listen address,
application database). Everything else is real: the resumed download and its SHA-256, the Java
check, the port check, the database and role in the embedded PostgreSQL, supervision, and the
dashboards applied through the API.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import psycopg2
import pytest
import requests
import yaml

from stack.metabase import MIN_JAVA, MetabaseLaunch, MetabaseRelease
from stack.preflight import free_port, java_major_version
from stack.supervision import Supervisor
from tests.conftest import RunningStack
from tests.range_site import RangeSite
from wikistream.credentials import load_or_create_secrets
from wikistream.env_file import read_env_file
from wikistream.layout import Layout
from wikistream.postgres import METABASE_APP_DB, METABASE_APP_USER, libpq_dsn
from wikistream.settings import REPO_ROOT, stack_settings

VERSION = stack_settings().metabase_version
FAKE_JAR_SOURCE = Path(__file__).parent / "fake_metabase" / "FakeMetabase.java"


def _jdk_home(home: Path) -> int:
    return java_major_version(str(home / "bin" / "java")) if (home / "bin" / "javac").exists() else 0


@pytest.fixture(scope="module")
def jdk21() -> Path:
    """A JDK 21+ (METABASE_JAVA_HOME, else one in /usr/lib/jvm): builds the test jar and runs it."""
    given = os.environ.get("METABASE_JAVA_HOME")
    homes = [Path(given)] if given else sorted(Path("/usr/lib/jvm").glob("*"))
    for home in homes:
        if _jdk_home(home) >= MIN_JAVA:
            return home
    message = f"no JDK {MIN_JAVA}+ in {[str(h) for h in homes]}: set METABASE_JAVA_HOME"
    if os.environ.get("WIKISTREAM_REQUIRE_JAVA21") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def older_java_home() -> Path:
    """The JDK on PATH (17 on the build machines), which Metabase cannot run on."""
    java = shutil.which("java")
    assert java is not None, "the stack itself needs java on PATH"
    home = Path(os.path.realpath(java)).parent.parent
    if java_major_version(str(home / "bin" / "java")) >= MIN_JAVA:
        pytest.skip(f"the java on PATH ({home}) is already {MIN_JAVA}+")
    return home


def _build_jar(jdk21: Path, work: Path, python: str) -> bytes:
    classes = work / "classes"
    subprocess.run(
        [str(jdk21 / "bin" / "javac"), "--release", str(MIN_JAVA), "-d", str(classes), str(FAKE_JAR_SOURCE)],
        check=True,
        capture_output=True,
    )
    # java.util.Properties: backslashes would be escapes; these are POSIX paths.
    (classes / "standin.properties").write_text(f"python={python}\nrepo={REPO_ROOT}\n")
    # Incompressible bulk, so a download cut at a third has written whole chunks to resume from.
    (classes / "bulk.bin").write_bytes(os.urandom(1 << 20))
    jar = work / "metabase.jar"
    subprocess.run(
        [str(jdk21 / "bin" / "jar"), "--create", "--file", str(jar), "--main-class", "FakeMetabase"]
        + ["-C", str(classes), "."],
        check=True,
        capture_output=True,
    )
    return jar.read_bytes()


@pytest.fixture(scope="module")
def fake_jar(jdk21: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _build_jar(jdk21, tmp_path_factory.mktemp("fake-metabase"), sys.executable)


class MetabaseSite(RangeSite):
    watched = ".jar"
    ranges: ClassVar[list[str | None]] = []


@dataclass(frozen=True)
class Site:
    url: str
    jar: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.jar).hexdigest()


@pytest.fixture
def site(tmp_path: Path, serve: Callable[[type[BaseHTTPRequestHandler]], str], fake_jar: bytes) -> Site:
    return _serve_jar(tmp_path / "site", fake_jar, serve)


def _serve_jar(root: Path, jar: bytes, serve: Callable[[type[BaseHTTPRequestHandler]], str]) -> Site:
    version_dir = root / f"v{VERSION}"
    version_dir.mkdir(parents=True)
    (version_dir / "metabase.jar").write_bytes(jar)
    MetabaseSite.root = root
    MetabaseSite.ranges = []
    MetabaseSite.cut_first_response_at = None
    return Site(serve(MetabaseSite), jar)


def _metabase_env(base: dict[str, str], site: Site, cache: Path, java_home: Path) -> dict[str, str]:
    return base | {
        "METABASE_DOWNLOAD_URL": site.url,
        "METABASE_JAR_SHA256": site.sha256,
        "METABASE_JAVA_HOME": str(java_home),
        "WIKISTREAM_CACHE": str(cache),
    }


def _no_stack_env(tmp_path: Path) -> dict[str, str]:
    return dict(os.environ) | {"WIKISTREAM_STATE_DIR": str(tmp_path / "state"), "METABASE_PORT": str(free_port())}


def _make_metabase(env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stack", "metabase"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _the_one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_the_jar_is_downloaded_resumed_verified_and_then_cached(site: Site, tmp_path: Path) -> None:
    cut = len(site.jar) // 3
    MetabaseSite.cut_first_response_at = cut
    release = MetabaseRelease(VERSION, site.sha256, site.url)
    jar = release.download(tmp_path / "cache", progress=False)
    assert jar == tmp_path / "cache" / "metabase" / VERSION / "metabase.jar"
    assert jar.read_bytes() == site.jar
    # Resumed from the whole chunks written before the cut, not from the start.
    first, resumed = MetabaseSite.ranges
    assert first is None and resumed is not None
    assert 0 < int(resumed.removeprefix("bytes=").removesuffix("-")) <= cut
    assert release.download(tmp_path / "cache", progress=False) == jar
    assert len(MetabaseSite.ranges) == 2, "a cached, intact jar is not fetched again"


def test_a_checksum_mismatch_fails_in_one_line_and_keeps_nothing(site: Site, tmp_path: Path, jdk21: Path) -> None:
    env = _metabase_env(_no_stack_env(tmp_path), site, tmp_path / "cache", jdk21) | {"METABASE_JAR_SHA256": "0" * 64}
    line = _the_one_error_line(_make_metabase(env))
    assert "sha256 mismatch for metabase.jar" in line and "METABASE_JAR_SHA256" in line and site.sha256 in line
    assert list((tmp_path / "cache").rglob("*.jar*")) == []


@pytest.mark.parametrize("how", ["METABASE_JAVA_HOME", "JAVA_HOME and PATH"])
def test_without_java_21_it_fails_in_one_line(site: Site, tmp_path: Path, older_java_home: Path, how: str) -> None:
    env = _metabase_env(_no_stack_env(tmp_path), site, tmp_path / "cache", older_java_home)
    if how != "METABASE_JAVA_HOME":
        del env["METABASE_JAVA_HOME"]
        env |= {"JAVA_HOME": str(older_java_home), "PATH": str(older_java_home / "bin")}
    line = _the_one_error_line(_make_metabase(env))
    older = java_major_version(str(older_java_home / "bin" / "java"))
    assert f"Metabase needs Java {MIN_JAVA} or newer, found Java {older}" in line
    assert "METABASE_JAVA_HOME" in line and "openjdk-21" in line
    assert MetabaseSite.ranges == [], "nothing is downloaded before Java is found"


def test_a_port_in_use_fails_in_one_line(site: Site, tmp_path: Path, jdk21: Path) -> None:
    env = _metabase_env(_no_stack_env(tmp_path), site, tmp_path / "cache", jdk21)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", int(env["METABASE_PORT"])))
        holder.listen()
        line = _the_one_error_line(_make_metabase(env))
    assert f"metabase_port {env['METABASE_PORT']}" in line and "METABASE_PORT=<port>" in line


def test_without_a_running_stack_it_says_to_start_one(site: Site, tmp_path: Path, jdk21: Path) -> None:
    env = _metabase_env(_no_stack_env(tmp_path), site, tmp_path / "cache", jdk21)
    assert "make run" in _the_one_error_line(_make_metabase(env))


def _admin_session(state_dir: Path, url: str) -> requests.Session:
    admin = read_env_file(state_dir / "metabase-admin.env")
    session = requests.Session()
    token = session.post(
        f"{url}/api/session",
        json={"username": admin["METABASE_ADMIN_EMAIL"], "password": admin["METABASE_ADMIN_PASSWORD"]},
        timeout=10,
    ).json()["id"]
    session.headers["X-Metabase-Session"] = token
    return session


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.5)


def _wait_healthy(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} not healthy within {timeout:.0f} s")


@pytest.mark.slow
def test_make_metabase_runs_it_supervised_on_its_own_database_with_the_dashboards(
    running_stack: RunningStack, site: Site, jdk21: Path, tmp_path: Path
) -> None:
    env = _metabase_env(running_stack.env, site, tmp_path / "cache", jdk21)
    layout = Layout(running_stack.state_dir)
    supervisor = Supervisor(layout)
    url = f"http://127.0.0.1:{env['METABASE_PORT']}"
    try:
        result = _make_metabase(env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"Metabase is running: {url}" in result.stdout
        _wait_for(lambda: supervisor.state("metabase") == "RUNNING", "supervisord to see Metabase stay up")

        # Metabase's own environment: localhost only, its own database and role.
        pid = running_stack.pid("metabase")
        assert pid is not None
        environ = dict(
            item.split("=", 1) for item in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in item
        )
        assert environ["MB_JETTY_HOST"] == "127.0.0.1"
        assert (environ["MB_DB_DBNAME"], environ["MB_DB_USER"]) == (METABASE_APP_DB, METABASE_APP_USER)
        migrated = running_stack.query(
            "SELECT d.datname, pg_get_userbyid(d.datdba) FROM pg_database d WHERE d.datname = %s", (METABASE_APP_DB,)
        )
        assert migrated == [(METABASE_APP_DB, METABASE_APP_USER)]
        password = load_or_create_secrets(layout.secrets_file, ("METABASE_DB_PASSWORD",))["METABASE_DB_PASSWORD"]

        def metabase_role_dsn(dbname: str) -> str:
            return libpq_dsn(
                host="127.0.0.1",
                port=int(env["POSTGRES_PORT"]),
                dbname=dbname,
                user=METABASE_APP_USER,
                password=password,
            )

        with closing(psycopg2.connect(metabase_role_dsn(METABASE_APP_DB))) as conn, conn.cursor() as cur:
            cur.execute("SELECT id FROM databasechangelog")
            assert cur.fetchall() == [("v56.initial",)], "the application database Metabase was given works"
        with pytest.raises(psycopg2.OperationalError, match="permission denied"):
            psycopg2.connect(metabase_role_dsn(env["POSTGRES_DB"])).close()

        # The dashboards were applied, connected as the reader to this stack's PostgreSQL.
        session = _admin_session(running_stack.state_dir, url)
        [database] = [d for d in session.get(f"{url}/api/database", timeout=10).json()["data"]]
        assert (database["details"]["host"], database["details"]["port"]) == ("127.0.0.1", int(env["POSTGRES_PORT"]))
        definitions = yaml.safe_load((REPO_ROOT / "dashboards" / "definitions" / "wikistream.yaml").read_text())
        dashboard = session.get(f"{url}/api/dashboard/1", timeout=10).json()
        assert len(dashboard["dashcards"]) == len(definitions["cards"])

        # Supervised: a killed Metabase comes back. The test jar is java plus the stand-in it runs, so its
        # whole process group (supervisord gives each program its own) is killed, as one real JVM would be.
        os.killpg(pid, signal.SIGKILL)
        _wait_for(lambda: running_stack.pid("metabase") not in (None, pid), "Metabase to come back")
        _wait_healthy(url)

        # Idempotent: the jar is not fetched again, nothing fails.
        fetched = list(MetabaseSite.ranges)
        again = _make_metabase(env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert MetabaseSite.ranges == fetched
        assert MetabaseLaunch.load(layout) is not None
    finally:
        supervisor.stop_program("metabase")
        MetabaseLaunch.path(layout).unlink(missing_ok=True)


@pytest.mark.slow
def test_a_metabase_that_exits_while_starting_ends_make_metabase_in_one_line(
    running_stack: RunningStack, jdk21: Path, tmp_path: Path, serve: Callable[[type[BaseHTTPRequestHandler]], str]
) -> None:
    """Not after supervisord's 100 retries or the health timeout: at the first exit, pointing at the log."""
    broken = _serve_jar(tmp_path / "site", _build_jar(jdk21, tmp_path / "jar", "/bin/false"), serve)
    env = _metabase_env(running_stack.env, broken, tmp_path / "cache", jdk21)
    layout = Layout(running_stack.state_dir)
    try:
        line = _the_one_error_line(_make_metabase(env, timeout=300))
        assert "Metabase exited while starting" in line and "metabase.log" in line
        assert Supervisor(layout).state("metabase") not in ("STARTING", "RUNNING", "BACKOFF")
    finally:
        Supervisor(layout).stop_program("metabase")
        MetabaseLaunch.path(layout).unlink(missing_ok=True)
