"""Checks that end with one clear line telling the user what to do, instead of a stack trace."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable


class PrerequisiteError(RuntimeError):
    """A missing tool, a version too old, or a port already taken."""


MIN_JAVA = 17
MIN_PYTHON = (3, 11)


def java_major_version(java: str = "java") -> int:
    path = shutil.which(java)
    if path is None:
        raise PrerequisiteError(
            f"Java {MIN_JAVA}+ is required but 'java' is not on PATH: install it "
            "(Debian: apt-get install openjdk-17-jdk-headless) and run again."
        )
    out = subprocess.run([path, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if match is None:
        raise PrerequisiteError(f"could not read the Java version from '{path} -version': {out.strip()[:200]}")
    major = int(match.group(1))
    # Java 8 and older report "1.8".
    return int(match.group(2) or 0) if major == 1 else major


def check_java() -> None:
    major = java_major_version()
    if major < MIN_JAVA:
        raise PrerequisiteError(
            f"Java {MIN_JAVA}+ is required, found Java {major}: install a newer JDK "
            "(Debian: apt-get install openjdk-17-jdk-headless) or put it first on PATH."
        )


def check_python() -> None:
    if sys.version_info < MIN_PYTHON:
        found = ".".join(map(str, sys.version_info[:2]))
        raise PrerequisiteError(f"Python {'.'.join(map(str, MIN_PYTHON))}+ is required, found {found}.")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_ports_free(ports: dict[str, int]) -> None:
    taken = {name: port for name, port in ports.items() if not port_is_free(port)}
    if taken:
        listing = ", ".join(f"{name} {port}" for name, port in taken.items())
        env_names = ", ".join(name.upper() for name in taken)
        raise PrerequisiteError(
            f"port(s) already in use on 127.0.0.1: {listing}. Stop whatever holds them, "
            f"or choose other ports with {env_names}=<port> (see config/stack.env)."
        )


def port_accepts(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(port: int, what: str, timeout: float, alive: Callable[[], bool] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_accepts(port):
            return
        if alive is not None and not alive():
            raise PrerequisiteError(f"{what} exited before it listened on port {port}: see its log.")
        time.sleep(0.2)
    raise PrerequisiteError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s: see its log.")


def free_port() -> int:
    """A port the kernel considers free now (used by tests to run an isolated stack)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
