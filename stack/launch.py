"""`python -m stack.launch NAME`: how supervisord starts each service of the embedded stack.

Prepares the service (configuration, storage), records this process's pid in the service's pid
file, drops privileges where the service needs it (PostgreSQL under root), and execs the service,
which keeps the pid. A failure to prepare ends with one line and exit status 1; supervisord backs
off and tries again.
"""

from __future__ import annotations

import os
import sys

from stack.embedded import EmbeddedStack
from stack.preflight import PrerequisiteError
from wikistream.settings import stack_settings


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m stack.launch SERVICE", file=sys.stderr)
        return 2
    name = argv[1]
    stack = EmbeddedStack(stack_settings())
    try:
        process = stack.all_processes()[name]
        launch = stack.launch(name)
    except (KeyError, PrerequisiteError) as error:
        print(f"error: cannot start {name}: {error}", file=sys.stderr, flush=True)
        return 1
    process.claim(os.getpid())
    if launch.run_as is not None:
        launch.run_as.become()
    sys.stdout.flush()
    os.execvpe(launch.argv[0], launch.argv, launch.env)
    return 1  # not reached: execvpe returns only by raising


if __name__ == "__main__":
    sys.exit(main(sys.argv))
