"""Resolve the jars in jars/ with Maven, at the versions of config/stack.env.

Maven itself is taken from PATH, or fetched once from Maven Central (checksum-verified) into the
state directory, so a machine with only Java and Python can build the stack.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import requests

from stack.preflight import PrerequisiteError
from wikistream.layout import FLINK_JARS_DIR, FUNCTIONS_DIR, JARS_DIR, KAFKA_JARS_DIR
from wikistream.settings import StackSettings

MAVEN_CENTRAL = "https://repo.maven.apache.org/maven2"
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def ca_bundle() -> str | bool:
    """The CA bundle for HTTPS: the user's choice, else the system's (it holds any re-signing CA)."""
    for variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if os.environ.get(variable):
            return os.environ[variable]
    return str(SYSTEM_CA_BUNDLE) if SYSTEM_CA_BUNDLE.exists() else True


def _maven_properties(settings: StackSettings) -> dict[str, str]:
    return {
        "kafka.version": settings.kafka_version,
        "flink.kafka.connector.version": settings.flink_kafka_connector_version,
        "flink.jdbc.connector.version": settings.flink_jdbc_connector_version,
        "postgres.jdbc.version": settings.postgres_jdbc_version,
        "log4j.version": settings.log4j_version,
        "flink.version": settings.flink_version,
        "flink.shaded.jackson.version": settings.flink_shaded_jackson_version,
    }


def _functions_digest() -> str:
    """A digest of the functions' sources, so editing them rebuilds the jar."""
    digest = hashlib.sha256()
    for path in sorted(p for p in FUNCTIONS_DIR.rglob("*") if p.is_file()):
        digest.update(path.relative_to(FUNCTIONS_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _stamp(settings: StackSettings) -> str:
    entries = {**_maven_properties(settings), "functions.sources": _functions_digest()}
    return "".join(f"{key}={value}\n" for key, value in sorted(entries.items()))


STAMP_FILE = JARS_DIR / "target" / "versions.stamp"


def jars_current(settings: StackSettings) -> bool:
    return STAMP_FILE.exists() and STAMP_FILE.read_text() == _stamp(settings)


def _download(url: str, target: Path) -> None:
    with requests.get(url, stream=True, timeout=60, verify=ca_bundle()) as response:
        response.raise_for_status()
        with target.open("wb") as handle:
            for chunk in response.iter_content(1 << 20):
                handle.write(chunk)


def maven_command(settings: StackSettings, tools_dir: Path) -> str:
    on_path = shutil.which("mvn")
    if on_path:
        return on_path
    version = settings.maven_version
    home = tools_dir / f"apache-maven-{version}"
    if not (home / "bin" / "mvn").exists():
        tools_dir.mkdir(parents=True, exist_ok=True)
        name = f"apache-maven-{version}-bin.tar.gz"
        url = f"{MAVEN_CENTRAL}/org/apache/maven/apache-maven/{version}/{name}"
        archive = tools_dir / name
        try:
            _download(url, archive)
            expected = requests.get(url + ".sha512", timeout=30, verify=ca_bundle()).text.split()[0]
        except requests.RequestException as error:
            raise PrerequisiteError(f"Maven is not installed and could not be fetched from {url}: {error}") from error
        actual = hashlib.sha512(archive.read_bytes()).hexdigest()
        if actual != expected:
            archive.unlink()
            raise PrerequisiteError(f"the Maven download from {url} failed its SHA-512 check; run again.")
        with tarfile.open(archive) as tar:
            tar.extractall(tools_dir, filter="data")
        archive.unlink()
    return str(home / "bin" / "mvn")


def resolve_jars(settings: StackSettings, tools_dir: Path) -> bool:
    """Run the Maven build unless the jars for these versions are already there; True if it ran."""
    if jars_current(settings):
        return False
    if shutil.which("javac") is None:
        raise PrerequisiteError(
            "a JDK is needed to compile the job's functions (flink_job/functions), but 'javac' is not on PATH: "
            "install one (Debian: apt-get install openjdk-17-jdk-headless) and run again."
        )
    mvn = maven_command(settings, tools_dir)
    shutil.rmtree(JARS_DIR / "target", ignore_errors=True)
    defines = [f"-D{key}={value}" for key, value in _maven_properties(settings).items()]
    result = subprocess.run(
        [mvn, "-B", "-q", "-f", str(JARS_DIR / "pom.xml"), "package", *defines],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not any(FLINK_JARS_DIR.glob("*.jar")) or not any(KAFKA_JARS_DIR.glob("*.jar")):
        output = (result.stdout + result.stderr).strip().splitlines()[-20:]
        raise PrerequisiteError("resolving jars with Maven failed:\n" + "\n".join(output))
    STAMP_FILE.write_text(_stamp(settings))
    return True
