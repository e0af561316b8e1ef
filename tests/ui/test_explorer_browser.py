"""End to end in a browser: notebook 06 (the λ explorer) in JupyterLab, driven by headless Chromium
through Playwright, in a fresh clone's state: no ``papermill_runs/``, no synthetic corpus, no trained run.

The notebook is opened and run; the explorer opens on the runs shipped with rlsv (``rlsv/shipped_runs``,
L_B ω = 1 λ = 1.5) with its image and three players. λ is moved with the keyboard on its slider to 1.7,
which was never trained: the view says so and offers "train this run now"; the click trains the run with
a progress bar and shows it. To keep the test under two minutes the notebook's ``train_overrides``
parameter is set to ``{"epochs": 1, "max_train_tracks": 1}`` (one epoch on one of the 8 training tracks:
about a dozen Adam steps instead of 1880; the run id's variant says so), the one change made to the
stored notebook. Moving λ back shows the shipped run again. No error may
reach the browser console, and no traceback an output.

Needs Debian's ``chromium`` (``apt-get install chromium``; ``.ci/run`` installs it when run as root)
and the ``playwright`` Python package (dev extras); skipped with the reason when either is missing.
Never run ``playwright install``: the test launches ``/usr/bin/chromium``.

The screenshots and the measured times (``timings.json``) go to the test's temporary folder; with
``RLSV_UPDATE_SCREENSHOTS=1`` the screenshots are also copied to ``docs/img/explorer_*.png``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from rlsv.ui.shipped import shipped_parameters

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# Headless Chromium on a machine without internet: no sandbox (root, containers), and none of the
# background connections (updates, sync, field trials) that would only be refused.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
TRAIN_OVERRIDES = {"epochs": 1, "max_train_tracks": 1}
TOKEN = "rlsv-browser-test"
SCREENSHOTS = ("explorer_shipped.png", "explorer_untrained.png", "explorer_trained.png")

pytestmark = pytest.mark.slow


def _require_browser() -> None:
    if not CHROMIUM.is_file():
        pytest.skip(f"Debian's chromium is not installed ({CHROMIUM} is missing): `apt-get install chromium` "
                    "(.ci/run does it as root)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is missing: `pip install playwright` (in the dev extras); "
                    "do not run `playwright install`, the test uses /usr/bin/chromium")


def _notebook_with_tiny_training(target: Path) -> None:
    """The stored notebook 06 with ``train_overrides = TRAIN_OVERRIDES`` in its parameters cell, nothing else."""
    book = nbformat.read(ROOT / "notebooks" / "06_explorer.ipynb", as_version=4)
    cell = next(c for c in book.cells if "parameters" in c.metadata.get("tags", []))
    source = re.sub(r"^train_overrides = \{\}", f"train_overrides = {TRAIN_OVERRIDES!r}", cell.source, flags=re.M)
    assert source != cell.source, "notebook 06 has no `train_overrides = {}` line"
    cell.source = source
    target.parent.mkdir(parents=True)
    nbformat.write(book, target)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[str]:
    """JupyterLab on a free localhost port, its root a temporary folder laid out as a fresh clone: notebook
    06 in ``notebooks/`` (:func:`_notebook_with_tiny_training`), no ``papermill_runs/`` (the notebook's
    ``runs_root``), and empty data and decode-cache folders of its own (``RLSV_DATA``, ``RLSV_CACHE``), so
    the synthetic corpus is written as on a new machine. Yields the notebook's URL (with the token).
    Stopped (kernels included) at teardown, even on failure."""
    _require_browser()
    root = tmp_path / "clone"
    _notebook_with_tiny_training(root / "notebooks" / "06_explorer.ipynb")
    # No toast (news, updates) over the view: lab settings of this server only.
    notification = tmp_path / "lab_settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter_config"), "JUPYTER_DATA_DIR": str(tmp_path / "jupyter_data"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter_runtime"), "IPYTHONDIR": str(tmp_path / "ipython"),
           "RLSV_DATA": str(tmp_path / "rlsv_data"), "RLSV_CACHE": str(tmp_path / "rlsv_cache")}
    port = _free_port()
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
               f"--LabApp.user_settings_dir={tmp_path / 'lab_settings'}",
               f"--LabApp.workspaces_dir={tmp_path / 'lab_workspaces'}", "--LabApp.extension_manager=readonly",
               "--LabApp.news_url=", "--LabApp.expose_app_in_browser=True"]  # window.jupyterapp, to wait on the kernel
    if os.geteuid() == 0:
        command.append("--allow-root")
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "jupyterlab.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                assert server.poll() is None, f"JupyterLab exited:\n{log_path.read_text()}"
                assert time.monotonic() < deadline, f"JupyterLab did not start in 60 s:\n{log_path.read_text()}"
                time.sleep(0.3)
        yield f"{base}/lab/tree/notebooks/06_explorer.ipynb?token={TOKEN}"
    finally:
        try:  # shuts the kernels down too (they run in sessions of their own)
            urllib.request.urlopen(urllib.request.Request(f"{base}/api/shutdown", method="POST",
                                                          headers={"Authorization": f"token {TOKEN}"}), timeout=10)
        except OSError:
            pass
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# In the page: the explorer (widget box), its view (the Output widget), its λ slider and its train button.
_KERNEL_IDLE = """() => {
    const context = window.jupyterapp?.shell.currentWidget?.sessionContext;
    return context?.isReady && context.session?.kernel?.status === 'idle';
}"""
_EXPLORER = ".rlsv-explorer"
_VIEW = ".rlsv-view"
_VIEW_LOADED = """([selector, before]) => {
    const view = document.querySelector(selector);
    const img = view?.querySelector('img');
    const players = view ? [...view.querySelectorAll('audio')] : [];
    return img !== null && img !== undefined && img.complete && img.naturalWidth > 0 && img.src !== before
        && players.length === 3 && players.every(a => a.readyState >= 1 && a.duration > 0);
}"""
_MISSING_SHOWN = """(selector) => {
    const view = document.querySelector(selector);
    const button = document.querySelector('button.rlsv-train');
    return view?.querySelector('.rlsv-missing') !== null && view?.querySelector('img') === null
        && button !== null && button.offsetParent !== null;
}"""


def _view(page) -> dict:
    return page.evaluate("""(selector) => {
        const view = document.querySelector(selector);
        return {src: view.querySelector('img').src, run: view.querySelector('code').textContent,
                text: view.innerText,
                players: [...view.querySelectorAll('audio')].map(a => ({ready: a.readyState, duration: a.duration,
                                                                         error: a.error && a.error.code}))};
    }""", _VIEW)


def _wait(page, script: str, arg, timeout_s: float, since: float) -> float:
    """Wait until ``script(arg)`` holds in the page; the seconds from ``since`` (``time.monotonic``)."""
    page.wait_for_function(script, arg=arg, timeout=timeout_s * 1000, polling=100)
    return time.monotonic() - since


def test_explorer_opens_on_shipped_runs_and_trains_an_untrained_lambda(lab: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    shipped = shipped_parameters()[3].run_id  # L_B ω = 1 λ = 1.5, where the explorer opens
    errors: list[str] = []
    timings: dict[str, float] = {}
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium_profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1800})
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(60_000)
            # Every console error and uncaught exception fails the test (none are expected: JupyterLab,
            # ipywidgets and the data: URIs of the image and players load without any).
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))

            page.goto(lab)
            page.wait_for_function(_KERNEL_IDLE, timeout=90_000)
            page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
            start = time.monotonic()
            page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")  # no await
            # imports torch, writes the synthetic corpus (a fresh clone has none), encodes
            timings["first_view_s"] = _wait(page, _VIEW_LOADED, [_VIEW, ""], 240, start)
            first = _view(page)
            assert first["src"].startswith("data:image/png;base64,iVBORw0KGgo"), first["src"][:40]
            assert first["run"] == shipped and "shipped with rlsv" in first["text"], first["run"]
            assert "0.25 s" in first["text"] and "the 3 s you hear" in first["text"]
            page.wait_for_function(_KERNEL_IDLE)
            explorer = page.locator(_EXPLORER)
            explorer.screenshot(path=str(tmp_path / SCREENSHOTS[0]))

            lam_label = page.locator("label.widget-label", has_text=re.compile("^λ$"))
            lam = page.locator(".widget-slider").filter(has=lam_label)
            expect(lam.locator(".widget-readout")).to_have_text("1.5")
            lam.locator(".noUi-handle").focus()
            start = time.monotonic()
            page.keyboard.press("ArrowRight")  # the next stop: 1.7, never trained
            expect(lam.locator(".widget-readout")).to_have_text("1.7")
            timings["untrained_view_s"] = _wait(page, _MISSING_SHOWN, _VIEW, 60, start)
            missing = page.locator(f"{_VIEW} .rlsv-missing").inner_text()
            assert "small-sinkhorn-p1-l1.7-w1-s218-" in missing and "Nothing trains until you click" in missing
            explorer.screenshot(path=str(tmp_path / SCREENSHOTS[1]))

            start = time.monotonic()
            page.locator("button.rlsv-train").click()
            expect(page.locator(f"{_EXPLORER} .rlsv-progress .widget-hprogress")).to_be_visible(timeout=30_000)
            timings["train_and_show_s"] = _wait(page, _VIEW_LOADED, [_VIEW, first["src"]], 300, start)
            trained = _view(page)
            assert re.fullmatch(r"small-sinkhorn-p1-l1\.7-w1-s218-[0-9a-f]{6}", trained["run"]), trained["run"]
            assert trained["run"] != shipped and "trained in the explorer" in trained["text"]
            assert all(p["ready"] >= 1 and p["duration"] > 0 and p["error"] is None for p in trained["players"])
            expect(page.locator(f"{_EXPLORER} .widget-html", has_text="Trained small-sinkhorn-p1-l1.7")).to_be_visible()
            page.wait_for_function(_KERNEL_IDLE)
            explorer.screenshot(path=str(tmp_path / SCREENSHOTS[2]))

            lam.locator(".noUi-handle").focus()
            start = time.monotonic()
            page.keyboard.press("ArrowLeft")  # back to the shipped λ = 1.5: a redraw
            timings["redraw_s"] = _wait(page, _VIEW_LOADED, [_VIEW, trained["src"]], 60, start)
            assert _view(page)["run"] == shipped
            # No Python error in any output (JupyterLab renders a traceback as stderr).
            stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            assert stderr.filter(has_text="Traceback").count() == 0, stderr.all_inner_texts()
        finally:
            context.close()
    (tmp_path / "timings.json").write_text(json.dumps(timings, indent=2))
    print("explorer timings (s):", json.dumps({k: round(v, 1) for k, v in timings.items()}))
    assert errors == [], errors

    if os.environ.get("RLSV_UPDATE_SCREENSHOTS") == "1":
        for name in SCREENSHOTS:
            shutil.copyfile(tmp_path / name, ROOT / "docs" / "img" / name)
