"""Data flows one way: each stage imports only the stages before it.

    ingest -> mail -> series -> store -> notify -> discord
                                  \\-> digest

`config` is shared by all; `app`, `delivery` and `cli` sit on top and may
import anything. Read from the source, lazy and TYPE_CHECKING imports too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"
FLOW = ("ingest", "mail", "series", "store", "notify", "discord")
MAY_IMPORT = {stage: {"config", *FLOW[:i]} for i, stage in enumerate(FLOW)}
MAY_IMPORT["digest"] = {"config", "ingest", "mail", "series", "store"}


def imported_stages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found |= {n.split(".")[1] for n in names if n.startswith("bot.") and n.count(".") >= 1}
    return found


@pytest.mark.parametrize("stage", sorted(MAY_IMPORT))
def test_a_stage_imports_only_the_stages_before_it(stage: str) -> None:
    wrong = {
        f"{path.relative_to(BOT.parent)} imports bot.{other}"
        for path in sorted((BOT / stage).rglob("*.py"))
        for other in imported_stages(path) - MAY_IMPORT[stage] - {stage}
    }
    assert not wrong, sorted(wrong)
