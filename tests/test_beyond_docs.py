"""The Python examples of docs/beyond-prefect.md run, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).parents[1] / "docs" / "beyond-prefect.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_beyond_prefect_examples_run() -> None:
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 7
    namespace: dict[str, object] = {"__name__": "beyond_prefect_doc"}
    for number, block in enumerate(blocks, start=1):
        exec(compile(block, f"beyond-prefect.md[python block {number}]", "exec"), namespace)
