"""The public face: `import briefgen`, and the library call on a replayed run."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import briefgen
from conftest import SEEDS


def test_all_is_sorted_and_complete() -> None:
    assert briefgen.__all__ == sorted(briefgen.__all__)
    init = Path(briefgen.__file__).read_text(encoding="utf-8")
    imported = {
        alias.asname or alias.name
        for node in ast.parse(init).body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("briefgen.")
        for alias in node.names
    }
    assert imported | {"__version__"} == set(briefgen.__all__)


@pytest.mark.vcr("seeds.yaml")
def test_summarize_returns_the_verified_corpus_brief() -> None:
    result = briefgen.summarize([SEEDS], model="scripted-analyst", mode="tools")  # as recorded
    assert isinstance(result, briefgen.CorpusResult)
    assert len(result.articles) == 5
    discrepancy = [g for g in result.brief.figure_groups if g.relation == "internal_discrepancy"]
    assert any({"001.F1", "001.F2"} <= set(g.members) or len(g.members) >= 2 for g in discrepancy)
    assert result.all_dropped() == []
