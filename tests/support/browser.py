"""JupyterLab in the system Chromium (Playwright drives Debian's chromium; no browser is ever downloaded)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("PRIVACYOPS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def lab_settings(folder: Path) -> Path:
    """User settings for the test server: no autosave (the repo's notebook must stay as committed), no news."""
    for plugin, values in {
        "docmanager-extension/plugin": {"autosave": False},
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }.items():
        path = folder / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return folder


def button(panel, label: str):
    return panel.locator(".widget-button", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))


@contextlib.contextmanager
def jupyter_lab(workspace: Path, tmp: Path, actor: str | None = "browser-test",
                env: dict[str, str] | None = None) -> Iterator[str]:
    """A JupyterLab server on a free port (no token), rooted at the repo, reading `workspace`; yields its URL.
    `actor` is the self-declared name (None: none, e.g. when `env` gives a PRIVACYOPS_PERSON_KEY)."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package (./run test does)")
    port = free_port()
    env = {**os.environ, "PRIVACYOPS_WORKSPACE": str(workspace),
           "JUPYTERLAB_SETTINGS_DIR": str(lab_settings(tmp / "settings")),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "PRIVACYOPS_ACTOR": actor or "", **(env or {})}
    if not actor:
        env.pop("PRIVACYOPS_ACTOR")
    log = open(tmp / "jupyter.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         "--ServerApp.token=", "--ServerApp.password=", "--allow-root", f"--ServerApp.root_dir={REPO}",
         "--ServerApp.port_retries=0"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited ({proc.returncode}):\n{(tmp / 'jupyter.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer in 60 s:\n{(tmp / 'jupyter.log').read_text()}")
            time.sleep(0.3)
        yield url
    finally:
        # The server and its kernels run in their own session: end that group (only what this function started).
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        log.close()


def artefacts(name: str) -> Path:
    """The folder a browser test keeps its screenshots and downloads in: $PRIVACYOPS_ARTIFACTS/<name>, else
    test-artifacts/<name> in the repo (git-ignored); emptied first so what is there is this run's."""
    base = Path(os.environ.get("PRIVACYOPS_ARTIFACTS") or REPO / "test-artifacts")
    folder = base / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def _wait_for(url: str, proc: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited ({proc.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not answer in 90 s:\n{log.read_text()}")
        time.sleep(0.3)


def _stop(proc: subprocess.Popen) -> None:
    """End the server's process group (it runs in its own session: only what the test started)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def run_app_arguments() -> list[str]:
    """The Voilà command line `./run app` runs (read from ./run, so the test serves what the analyst gets), without
    the venv prefix and "$@"."""
    text = (REPO / "run").read_text()
    case = re.search(r"^  app\)\n(.*?);;", text, re.S | re.M)
    assert case, "./run has no app case"
    line = re.search(r'exec "\$VENV/bin/voila" (.*)', case.group(1).replace("\\\n", " "), re.S)
    assert line, "./run app does not exec voila"
    return [a for a in shlex.split(line.group(1)) if a != "$@"]


@contextlib.contextmanager
def voila_app(workspace: Path, tmp: Path, actor: str = "browser-test") -> Iterator[str]:
    """The app `./run app` serves (Voilà on notebooks/, run from the repo, as ./run does) on a free port, reading
    `workspace`; yields its URL."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package (./run test does)")
    port = free_port()
    env = {**os.environ, "PRIVACYOPS_WORKSPACE": str(workspace), "PRIVACYOPS_ACTOR": actor,
           "JUPYTER_RUNTIME_DIR": str(tmp / "runtime")}
    log_path = tmp / "voila.log"
    log = open(log_path, "w")
    voila = Path(sys.executable).with_name("voila")
    proc = subprocess.Popen([str(voila), *run_app_arguments(), "--no-browser", f"--port={port}",
                             "--Voila.port_retries=0"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url + "/", proc, log_path, "voila")
        yield url
    finally:
        _stop(proc)
        log.close()


@contextlib.contextmanager
def browser_page() -> Iterator[object]:
    """A fresh Chromium page (downloads accepted)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1300}, accept_downloads=True)
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


@contextlib.contextmanager
def notebook_page(lab_url: str, notebook: str) -> Iterator[object]:
    """A Chromium page with `notebooks/<notebook>` open in JupyterLab, its kernel idle and Run All pressed."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            page.set_default_timeout(30_000)
            page.goto(f"{lab_url}/lab/tree/notebooks/{notebook}", timeout=60_000)
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            # Wait until the kernel has started and is idle (status bar: "<kernel name> | Idle"), then Run All.
            kernel_idle = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"^(?!No Kernel).+ \| Idle$"))
            expect(kernel_idle).to_be_visible(timeout=60_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            yield page
        finally:
            browser.close()
