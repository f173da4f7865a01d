"""Print the part of requirements.lock that a set of root packages needs, hashes included.

    python3 lockslice.py requirements.lock [--pyproject pyproject.toml] [--exclude NAME ...] [ROOT ...]

Roots: the ROOT arguments, plus (with --pyproject) the project's runtime dependencies
([project] dependencies, not the dev extras), minus the --exclude names. So a dependency added
to pyproject.toml reaches the images without touching docker/.

requirements.lock is `uv pip compile --generate-hashes` output: every entry says which packages
pulled it in ("# via ..."). A package belongs to the slice when it is a root, or when any package
that pulled it in belongs to the slice. The slice is installed with `pip install --require-hashes`,
so a missing dependency fails the build instead of being fetched unpinned.
Standard library only: it runs inside the image before anything is installed.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==")
VIA_ONE = re.compile(r"^\s+# via (.+)$")
VIA_MANY = re.compile(r"^\s+#   (.+)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(text: str) -> tuple[dict[str, list[str]], dict[str, set[str]]]:
    """(entry lines by package, packages that pulled each package in)."""
    entries: dict[str, list[str]] = {}
    parents: dict[str, set[str]] = {}
    current: str | None = None
    in_via = False
    for line in text.splitlines():
        match = ENTRY.match(line)
        if match:
            current = canonical(match.group(1))
            entries[current] = [line]
            parents[current] = set()
            in_via = False
            continue
        if current is None:
            continue
        if line.startswith("    --hash="):
            entries[current].append(line)
            continue
        via = VIA_ONE.match(line)
        if via:
            in_via = via.group(1).strip() == ""
            if not in_via:
                parents[current].add(via.group(1).split(" (")[0].strip())
            continue
        if line.strip() == "# via":
            in_via = True
            continue
        many = VIA_MANY.match(line)
        if many and in_via:
            parents[current].add(many.group(1).split(" (")[0].strip())
            continue
        in_via = False
    return entries, {name: {canonical(p) for p in ps} for name, ps in parents.items()}


def closure(roots: list[str], parents: dict[str, set[str]]) -> set[str]:
    wanted = {canonical(root) for root in roots}
    missing = sorted(wanted - parents.keys())
    if missing:
        raise SystemExit(f"lockslice: not in the lock file: {', '.join(missing)}")
    changed = True
    while changed:
        changed = False
        for name, pulled_by in parents.items():
            if name not in wanted and pulled_by & wanted:
                wanted.add(name)
                changed = True
    return wanted


def project_dependencies(pyproject: Path) -> list[str]:
    """Names of [project] dependencies (version specifiers and markers dropped)."""
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return [re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec).group(1) for spec in dependencies]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lock", type=Path)
    parser.add_argument("roots", nargs="*")
    parser.add_argument("--pyproject", type=Path)
    parser.add_argument("--exclude", nargs="*", default=[])
    args = parser.parse_args(argv)
    roots = list(args.roots) + (project_dependencies(args.pyproject) if args.pyproject else [])
    excluded = {canonical(name) for name in args.exclude}
    roots = [root for root in roots if canonical(root) not in excluded]
    if not roots:
        raise SystemExit("lockslice: no root packages")
    entries, parents = parse(args.lock.read_text())
    for name in sorted(closure(roots, parents)):
        lines = entries[name]
        # Continuation backslashes: the last hash line of an entry must not end with one.
        body = [line.rstrip(" \\") for line in lines]
        print(" \\\n".join(body))


if __name__ == "__main__":
    main()
