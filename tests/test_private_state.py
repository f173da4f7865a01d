"""The running stack's state is its user's alone (stack/state_dir.py): every file and directory it
wrote, and the umask of every process it started. PostgreSQL's data directory, when it lives outside
the state directory (as root), follows PostgreSQL's own rule: 0700, owned by its server account."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.conftest import RunningStack

SHARED_WITH_OTHERS = 0o066  # read or write for the group or others; passing through (x) reveals nothing


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended while we looked
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def test_no_file_the_stack_wrote_is_readable_by_other_users(running_stack: RunningStack) -> None:
    exposed = []
    for path in [running_stack.state_dir, *running_stack.state_dir.rglob("*")]:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            continue  # a log rotated away while we walked
        if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) & SHARED_WITH_OTHERS:
            exposed.append(f"{stat.filemode(mode)} {path}")
    assert not exposed, "\n".join(exposed)


def test_every_process_the_stack_started_runs_under_umask_077(running_stack: RunningStack) -> None:
    supervisord = int((running_stack.state_dir / "run" / "supervisord.pid").read_text().split()[0])
    umasks = {}
    for pid in {supervisord} | _descendants(supervisord):
        try:
            status = (Path("/proc") / str(pid) / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        umasks[f"{pid} {fields['Name'].strip()}"] = fields["Umask"].strip()
    assert len(umasks) >= 6, umasks  # supervisord, PostgreSQL, Kafka, two Flink processes, keeper, producer
    assert {name: umask for name, umask in umasks.items() if umask != "0077"} == {}
