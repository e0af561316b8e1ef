"""End to end in a browser: notebook 06 (the λ explorer) in JupyterLab, driven by headless Chromium
through Playwright. The notebook is opened and run, the view (representation PNG, three players)
renders, λ is moved with the keyboard on its slider, and the view changes and its players load again,
with no error in the browser console. (Runs this tiny are too small for λ to change what they learn,
``rlsv.run.profiles``: the two images differ in their title and the view in its run; the test checks the
round trip browser -> kernel -> browser, ``tests/test_notebooks.py`` checks the explorer itself.)

Needs Debian's ``chromium`` (``apt-get install chromium``; ``.ci/run`` installs it when run as root)
and the ``playwright`` Python package (dev extras); skipped with the reason when either is missing.
Never run ``playwright install``: the test launches ``/usr/bin/chromium``.

The before/after screenshots go to the test's temporary folder; with ``RLSV_UPDATE_SCREENSHOTS=1``
they are also copied to ``docs/img/explorer_before.png`` and ``docs/img/explorer_after.png``.
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

import pytest

from rlsv.run.spec import RunSpec
from rlsv.study.sweeps import run_sweep

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# Headless Chromium on a machine without internet: no sandbox (root, containers), and none of the
# background connections (updates, sync, field trials) that would only be refused.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
TINY_MODEL = {"channels": 16, "kernel_size": 128, "stride": 64, "segment_length": 4410}
LAMS = (1.3, 1.5, 2.0)  # three λ of Figure 5 (ω = 1, p = 1); the explorer opens at λ = 1.5
TOKEN = "rlsv-browser-test"

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


@pytest.fixture
def explorer_runs(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> Path:
    """``<folder>/papermill_runs``: three trained L_B runs (λ = 1.3, 1.5, 2 at ω = 1, p = 1) at a tiny size
    (about 15 s); ``<folder>`` is laid out as the repository for notebook 06 (``../papermill_runs``)."""
    _require_browser()  # before the sweep: a skip costs nothing
    overrides = {"dataset": str(tiny_corpus), "epochs": 1, "max_train_tracks": 1, "model": TINY_MODEL}
    root = tmp_path_factory.mktemp("browser_lab") / "papermill_runs"
    grid = [RunSpec("sinkhorn", omega=1.0, lam=lam, p=1.0) for lam in LAMS]
    report = run_sweep(grid, "smoke", root, jobs=2, engine="inline", overrides=overrides, progress=False,
                       run_progress=False)
    assert report.ok and report.counts()["done"] == len(LAMS), report.text()
    return root


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def lab(tmp_path: Path, explorer_runs: Path) -> Iterator[str]:
    """JupyterLab on a free localhost port, its root a temporary folder laid out as the repository: the
    stored notebook 06, unchanged, in ``notebooks/`` (its ``runs_root`` is ``../papermill_runs``) next to
    the runs. Yields the notebook's URL (with the token). Stopped (kernels included) at teardown, even on
    failure."""
    root = explorer_runs.parent
    (root / "notebooks").mkdir()
    shutil.copyfile(ROOT / "notebooks" / "06_explorer.ipynb", root / "notebooks" / "06_explorer.ipynb")
    # No toast (news, updates) over the view: lab settings of this server only.
    notification = tmp_path / "lab_settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter_config"), "JUPYTER_DATA_DIR": str(tmp_path / "jupyter_data"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter_runtime"), "IPYTHONDIR": str(tmp_path / "ipython")}
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


# In the page: the explorer's widget box, its view (the Output widget) and the λ slider.
_KERNEL_IDLE = """() => {
    const context = window.jupyterapp?.shell.currentWidget?.sessionContext;
    return context?.isReady && context.session?.kernel?.status === 'idle';
}"""
_VIEW = ".widget-vbox:has(> .widget-output) > .widget-output"
_VIEW_LOADED = """([selector, before]) => {
    const view = document.querySelector(selector);
    const img = view?.querySelector('img');
    const players = view ? [...view.querySelectorAll('audio')] : [];
    return img !== null && img !== undefined && img.complete && img.naturalWidth > 0 && img.src !== before
        && players.length === 3 && players.every(a => a.readyState >= 1 && a.duration > 0);
}"""


def _view(page) -> dict:
    return page.evaluate("""(selector) => {
        const view = document.querySelector(selector);
        return {src: view.querySelector('img').src, run: view.querySelector('code').textContent,
                players: [...view.querySelectorAll('audio')].map(a => ({ready: a.readyState, duration: a.duration,
                                                                         error: a.error && a.error.code}))};
    }""", _VIEW)


def test_explorer_in_jupyterlab_changes_its_view_when_lambda_moves(lab: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium_profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1600})
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
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_function(_VIEW_LOADED, arg=[_VIEW, ""], timeout=180_000)  # imports torch, encodes
            before = _view(page)
            assert before["src"].startswith("data:image/png;base64,iVBORw0KGgo"), before["src"][:40]
            assert re.match(r"smoke-sinkhorn-p1-l1\.5-w1-s218-", before["run"]), before["run"]

            explorer = page.locator(".widget-vbox:has(> .widget-output)")
            explorer.screenshot(path=str(tmp_path / "explorer_before.png"))

            lam_label = page.locator("label.widget-label", has_text=re.compile("^λ$"))
            lam = page.locator(".widget-slider").filter(has=lam_label)
            expect(lam.locator(".widget-readout")).to_have_text("1.5")
            lam.locator(".noUi-handle").focus()
            page.keyboard.press("ArrowRight")  # the next trained λ: 2
            expect(lam.locator(".widget-readout")).to_have_text("2")
            page.wait_for_function(_VIEW_LOADED, arg=[_VIEW, before["src"]], timeout=120_000)
            after = _view(page)
            assert re.match(r"smoke-sinkhorn-p1-l2-w1-s218-", after["run"]), after["run"]
            assert after["src"] != before["src"] and after["src"].startswith("data:image/png;base64,iVBORw0KGgo")
            assert all(p["ready"] >= 1 and p["duration"] > 0 and p["error"] is None for p in after["players"])
            page.wait_for_function(_KERNEL_IDLE)
            explorer.screenshot(path=str(tmp_path / "explorer_after.png"))
            # No Python error in any output (JupyterLab renders a traceback as stderr).
            stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            assert stderr.filter(has_text="Traceback").count() == 0, stderr.all_inner_texts()
        finally:
            context.close()
    assert errors == [], errors

    if os.environ.get("RLSV_UPDATE_SCREENSHOTS") == "1":
        for name in ("explorer_before.png", "explorer_after.png"):
            shutil.copyfile(tmp_path / name, ROOT / "docs" / "img" / name)
