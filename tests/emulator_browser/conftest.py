"""The emulator's page in a real browser: Debian's headless Chromium driven by Selenium, against
`runtime emulator` serving a copy of the quickstart.

One emulator and one browser for the module (each test loads the page afresh: a new person,
a new PSID, so no test depends on another). Where Chromium or its driver is not installed the
tests are skipped with one line saying what to install, unless RUNTIME_REQUIRE_CHROMIUM=1
(what `.ci/run` sets after installing them), which makes their absence a failure. Selenium
never downloads a browser or a driver: both paths are given, and SE_OFFLINE=1.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.emulator_browser.page import EmulatorPage
from tests.fakes.processes import free_port

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

REQUIRE = "RUNTIME_REQUIRE_CHROMIUM"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = (
    "chromium is not installed: apt-get install chromium chromium-driver "
    "to run the emulator's browser tests"
)
QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
START_WITHIN = 30.0
# what a desktop shows: the people beside the conversation
DESKTOP = (1100, 760)


def require_chromium() -> None:
    """A skip (or a failure, when required) without Chromium, its driver or Selenium."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if importlib.util.find_spec("selenium") is None:
        missing.append("selenium (pip install -e '.[test]')")
    if not missing:
        return
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{INSTALL}; missing: {', '.join(missing)} ({REQUIRE}=1 says they must run)")
    pytest.skip(INSTALL)


@dataclass
class Emulator:
    """`runtime emulator` in a process of its own, as a user starts it."""

    url: str  # the server's origin, http://127.0.0.1:PORT
    process: subprocess.Popen[str]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    require_chromium()
    folder = tmp_path_factory.mktemp("emulator")
    bot = folder / "bot"
    shutil.copytree(QUICKSTART, bot, ignore=shutil.ignore_patterns(".runtime"))
    port = free_port()
    log = folder / "emulator.log"
    command = [sys.executable, "-m", "runtime", "emulator", "-c", str(bot / "config.json5")]
    with log.open("w") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=folder,
        )
    server = Emulator(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_listening(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # Ctrl-C, as a user stops it
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def wait_listening(server: Emulator) -> None:
    """Until the emulator printed its URL and serves the page."""
    deadline = time.monotonic() + START_WITHIN
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"runtime emulator exited early:\n{server.output()}")
        if f"Emulator: {server.url}/emulator" in server.output():
            try:
                if httpx.get(server.url + "/emulator", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
        time.sleep(0.05)
    raise AssertionError(
        f"runtime emulator did not start within {START_WITHIN}s:\n{server.output()}"
    )


@pytest.fixture(scope="module")
def browser(emulator: Emulator) -> Iterator[WebDriver]:
    """One headless Chromium for the module, its console and network logged."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespace to sandbox in
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        "--mute-audio",
        "--disable-features=Translate,MediaRouter,OptimizationHints",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "1")  # Selenium Manager downloads nothing
        driver = webdriver.Chrome(
            service=Service(executable_path=str(CHROMEDRIVER)), options=options
        )
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: WebDriver, emulator: Emulator) -> EmulatorPage:
    """The emulator's page, loaded afresh at desktop size: one new person, Ada Lovelace."""
    emulator_page = EmulatorPage(browser, emulator.url)
    emulator_page.open(*DESKTOP)
    return emulator_page
