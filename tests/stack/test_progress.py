"""The numbered steps `make run` and `make metabase` print: the announced total is checked."""

from __future__ import annotations

import pytest

from stack.embedded import Progress


def test_steps_are_numbered_against_the_announced_total() -> None:
    lines: list[str] = []
    progress = Progress(2, lines.append)
    with progress.step("one"):
        pass
    with progress.step("two"):
        pass
    progress.finish()
    assert [line for line in lines if line.startswith("[")] == ["[1/2] one ...", "[2/2] two ..."]


def test_a_miscount_is_an_error_both_ways() -> None:
    short = Progress(3, lambda _: None)
    with short.step("one"):
        pass
    with pytest.raises(RuntimeError, match="1 steps ran of the 3 announced"):
        short.finish()
    over = Progress(1, lambda _: None)
    with over.step("one"):
        pass
    with pytest.raises(RuntimeError, match="past the 1 steps announced"), over.step("two"):
        pass
