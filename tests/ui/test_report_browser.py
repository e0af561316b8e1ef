"""``rlsv report`` end to end: a tiny pipeline (the runs the report needs, at a tiny size), its report built with
Jupyter Book, then opened from ``file://`` in headless Chromium.

The pipeline, once per module (about a minute on 2 cores): L_A ω=4 through the papermill engine (so that the
report renders a run's real executed notebooks 02 and 03, widgets included), L_B ω=1 λ=0.5 and 1.5, L_B ω=4
λ=1.5 and the STFT inline; Tables 1-2 and Figures 2-6 from them (the figures' ``provenance.json`` removed) and
``results.md`` beside the tables, none beside the figures (the report must say so). Notebooks 04 and 05 are
not executed: the report must list them as missing.

In the browser: every local page the index leads to loads without a console error, a failed request or an
uncaught exception; every image decodes; every other local link resolves to a file; Tables 1 and 2 are there;
the listening page's players load (``readyState >= 1``). Needs Debian's ``chromium`` and the ``playwright``
package (never ``playwright install``); the browser test is skipped with the reason when either is missing.
The index page's screenshot goes to the test's temporary folder; with ``RLSV_UPDATE_SCREENSHOTS=1`` also to
``docs/img/report_index.png``.
"""

from __future__ import annotations

import html
import json
import math
import os
import shutil
from collections import deque
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd
import pytest
from test_explorer import TINY_MODEL  # beside this file
from test_explorer_browser import CHROMIUM, CHROMIUM_ARGS, _require_browser

from rlsv.run.spec import STFT, sinkhorn, tv
from rlsv.study.report import ReportResult, build_report
from rlsv.study.report.listening import write_listening
from rlsv.study.reproduce import make_figures, make_tables
from rlsv.study.results import load_run_set
from rlsv.study.sweeps import run_sweep

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> Path:
    """A folder laid out as a checkout after ``rlsv reproduce --profile smoke`` at a tiny size: ``papermill_runs/``
    (five runs, the tables and their provenance, a stand-in results.md) and ``figures/smoke/``."""
    folder = tmp_path_factory.mktemp("report_pipeline")
    root = folder / "papermill_runs"
    overrides = {"dataset": str(tiny_corpus), "epochs": 1, "max_train_tracks": 1, "model": TINY_MODEL}
    with pytest.MonkeyPatch.context() as env:  # hermetic, as tests/conftest.py makes each test
        env.delenv("MUSDB_PATH", raising=False)
        env.setenv("RLSV_DATA", str(folder / "rlsv_data"))
        env.setenv("RLSV_CACHE", str(folder / "decode_cache"))
        for grid, engine in (([tv(4.0)], "papermill"), ([sinkhorn(1.0, 0.5), sinkhorn(1.0, 1.5), sinkhorn(4.0, 1.5),
                                                          STFT], "inline")):
            report = run_sweep(grid, "smoke", root, jobs=2, engine=engine, overrides=overrides, progress=False,
                               run_progress=False)
            assert report.ok, report.text()
        tables = make_tables(root, "smoke")
        make_figures(root, "smoke", out_dir=folder / "figures" / "smoke")
    out = tables.paths[0].parent
    assert (out / "provenance.json").is_file()  # written by make_tables, as beside the figures
    (folder / "figures" / "smoke" / "provenance.json").unlink()  # an absent one is said, not invented
    (out / "results.md").write_text("# Results (stand-in)\n\nA | B\n--|--\n1 | 2\n")
    return folder


@pytest.fixture(scope="module")
def built(pipeline: Path) -> ReportResult:
    """The report of :func:`pipeline`, built into ``papermill_runs/report``."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RLSV_CACHE", str(pipeline / "decode_cache"))
        return build_report(pipeline / "papermill_runs", "smoke", figures_root=pipeline / "figures", progress=False)


def test_the_report_holds_every_part_and_says_what_is_missing(built: ReportResult, pipeline: Path) -> None:
    report = built.index.parent
    assert report == (pipeline / "papermill_runs" / "report").resolve()
    for page in ("index", "tables", "figures", "listening", "runs", "provenance", "scale_study", "separation"):
        assert (report / f"{page}.html").is_file(), page
    run = next(p.name for p in (pipeline / "papermill_runs").glob("smoke-tv-w4-*"))
    assert (report / "runs" / run / "train.html").is_file() and (report / "runs" / run / "evaluate.html").is_file()
    leftovers = [p.name for p in report.parent.iterdir() if p.name.startswith(".") or p.name.endswith(".log")]
    assert leftovers == []  # the build's temporary folder and log are gone
    assert not list(report.rglob("*.pt")) and not list(report.rglob("*.map")) and not list(report.rglob("*.ipynb"))
    missing, notes = "\n".join(built.missing), "\n".join(built.notes)
    assert "04_tables.ipynb" in missing and "05_figures.ipynb" in missing and len(built.missing) == 2, missing
    assert "figures/smoke/provenance.json" in notes and "tables/smoke/provenance.json" not in notes
    assert built.excerpts == 2 and len(list((report / "audio").glob("*.mp3"))) == 2 * 5  # 2 test tracks, 5 clips
    assert 0 < built.audio_bytes < 300_000 and built.bytes < 30_000_000 and built.warnings == 0

    index = (report / "index.html").read_text(encoding="utf-8")
    short = json.loads((pipeline / "papermill_runs" / "tables" / "smoke" / "provenance.json").read_text())["short"]
    assert html.escape(short).replace("@", "&#64;") in index and "arxiv.org/abs/2007.02780" in index
    assert index.count("Rule:") == 3 and "figures/smoke/provenance.json</span></code> is absent" in index
    provenance = (report / "provenance.html").read_text(encoding="utf-8")
    assert "Results (stand-in)" in provenance and "conv_plan" in provenance and "seeds" in provenance


def test_listening_scores_are_the_evaluations(pipeline: Path, tmp_path: Path) -> None:
    """The SI-SDR-BM printed beside each loudest segment is the one in the run's segments.csv."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RLSV_CACHE", str(pipeline / "decode_cache"))
        examples = write_listening(load_run_set(pipeline / "papermill_runs", "smoke"), tmp_path, count=1, seconds=1.0)
    (excerpt,) = examples.excerpts
    assert excerpt.stop - excerpt.start == 10 and excerpt.start <= excerpt.segment < excerpt.stop  # 0.1 s segments
    estimates = [clip for clip in excerpt.clips if clip.run_id]
    assert [c.label for c in excerpt.clips[:2]] == ["mixture", "true vocals"] and len(estimates) == 3
    for clip in estimates:
        segments = pd.read_csv(pipeline / "papermill_runs" / clip.run_id / "segments.csv", dtype={"track": str})
        row = segments[(segments["track"] == excerpt.track) & (segments["segment"] == excerpt.segment)]
        assert math.isclose(clip.si_sdr_mask, float(row["si_sdr_mask"].iloc[0]), abs_tol=1e-3), clip
        kept = segments[(segments["track"] == excerpt.track) & segments["segment"].between(excerpt.start,
                                                                                           excerpt.stop - 1)]
        assert len(kept) == excerpt.kept and math.isclose(clip.mean_si_sdr_mask, kept["si_sdr_mask"].mean(),
                                                          abs_tol=1e-3)
        assert (tmp_path / clip.file).stat().st_size > 1000


# In the page: its local links (resolved), its images, its players.
_LINKS = "() => [...document.querySelectorAll('a[href]')].map(a => a.href)"
_IMAGES = "() => [...document.images].map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0}))"
_PLAYERS_READY = "(n) => { const a = [...document.querySelectorAll('audio')]; " \
                 "return a.length >= n && a.every(p => p.readyState >= 1 && p.duration > 0 && !p.error); }"


def _local(url: str) -> Path | None:
    parsed = urlparse(url)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def test_the_report_opens_from_file_in_chromium(built: ReportResult, tmp_path: Path) -> None:
    _require_browser()
    from playwright.sync_api import sync_playwright

    report = built.index.parent
    problems: list[str] = []
    visited: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(30_000)
            page.on("console",
                    lambda m: problems.append(f"{page.url}: console {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"{page.url}: uncaught {e}"))
            page.on("requestfailed", lambda r: problems.append(f"{page.url}: request failed {r.url}"))
            queue, seen = deque([built.index]), {built.index}
            while queue:
                path = queue.popleft()
                page.goto(path.as_uri())
                page.wait_for_load_state("load")
                visited.append(path)
                problems += [f"{path.name}: image {i['src']} did not decode" for i in page.evaluate(_IMAGES)
                             if not i["ok"]]
                for url in page.evaluate(_LINKS):
                    target = _local(url)
                    if target is None:
                        continue
                    if not target.exists():
                        problems.append(f"{path.name}: link to a missing file {target}")
                    elif target.suffix == ".html" and target not in seen and target.is_relative_to(report):
                        seen.add(target)
                        queue.append(target)
                if path.name == "index.html" and path.parent == report:
                    page.screenshot(path=str(tmp_path / "report_index.png"), full_page=True)
                if path.name == "tables.html":
                    headings = page.locator("h2").all_inner_texts()
                    assert any("Table 1" in h for h in headings) and any("Table 2" in h for h in headings), headings
                    assert page.locator("table").count() >= 4  # Table 1's three metrics and Table 2
                    assert "paper" in page.locator("table").first.inner_text()
                if path.name == "listening.html":
                    page.wait_for_function(_PLAYERS_READY, arg=4, timeout=30_000)
                    assert page.locator("audio").count() == built.excerpts * 5
        finally:
            browser.close()
    names = {p.relative_to(report).as_posix() for p in visited}
    assert {"index.html", "tables.html", "figures.html", "listening.html", "runs.html", "provenance.html"} <= names
    assert any(n.startswith("runs/") and n.endswith("/train.html") for n in names), sorted(names)
    assert problems == [], problems
    if os.environ.get("RLSV_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(tmp_path / "report_index.png", ROOT / "docs" / "img" / "report_index.png")
