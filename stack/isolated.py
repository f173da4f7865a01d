"""An embedded stack of its own (make bench, make chaos): its own state directory under /tmp and free ports."""

from __future__ import annotations

import tempfile
from pathlib import Path

from stack.embedded import EmbeddedStack
from stack.preflight import free_port
from wikistream.settings import StackSettings


def isolated_stack(purpose: str, parent: Path | None = None) -> EmbeddedStack:
    state = Path(tempfile.mkdtemp(prefix=f"wikistream-{purpose}-", dir=parent))
    # PostgreSQL runs as 'nobody' under root, and must be able to enter the directory.
    state.chmod(0o755)
    settings = StackSettings(  # type: ignore[call-arg]  # the rest comes from config/stack.env
        wikistream_state_dir=state,
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        flink_rest_port=free_port(),
        flink_rpc_port=free_port(),
        postgres_port=free_port(),
        metabase_port=free_port(),
    )
    return EmbeddedStack(settings)
