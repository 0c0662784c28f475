"""The code in README.md and the docs runs and its assertions hold (the README stays true)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _blocks():
    for page in PAGES:
        if "_build" in page.parts or "generated" in page.parts:
            continue
        for i, code in enumerate(FENCE.findall(page.read_text())):
            yield pytest.param(code, id=f"{page.relative_to(ROOT)}#{i}")


@pytest.mark.parametrize("code", list(_blocks()))
def test_python_examples_in_the_docs_run(code):
    if "torch" in code:
        pytest.importorskip("torch")
    exec(compile(code, "<docs>", "exec"), {})
