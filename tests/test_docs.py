"""The numbers the docs quote come from runs: the README's results block is the published snippet, byte for byte,
with its provenance, and every docs/results/ page a doc links to exists."""

from __future__ import annotations

import re
from pathlib import Path

from rlsv.study.results_snippet import BEGIN, END

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_quotes_the_published_results_snippet_unchanged() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split(BEGIN, 1)[1].split(END, 1)[0]
    published = (ROOT / "docs" / "results" / "small.md").read_text(encoding="utf-8")
    assert block == f"\n{published}"  # `make results` wrote it; nobody typed it
    assert "Made by: rlsv" in published and "seeds 218, 219, 220" in published and "sha256" in published


def test_every_linked_results_page_exists() -> None:
    linked = set()
    for doc in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        linked |= set(re.findall(r"results/([\w.-]+\.md)", doc.read_text(encoding="utf-8")))
    assert {"small.md", "determinism.md", "verify.md", "drift.md"} <= linked
    missing = [name for name in sorted(linked) if not (ROOT / "docs" / "results" / name).is_file()]
    assert not missing, f"docs/results/ lacks {missing}"
