"""One real headless chromium for the whole test session (Debian's chromium and chromedriver),
driven through Selenium. Missing locally: the tests say so and skip; missing in CI: they fail."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,900"]


def _require(program: str, package: str) -> str:
    found = shutil.which(program)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{program} is missing: .ci/run installs Debian's {package} for the browser tests")
        pytest.skip(f"Debian's {package} is not installed here (apt-get install {package}); CI installs it")
    return found


def start_browser(profile: str) -> webdriver.Chrome:
    """Chromium under chromedriver, both from Debian: nothing is downloaded."""
    options = webdriver.ChromeOptions()
    options.binary_location = _require("chromium", "chromium")
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(_require("chromedriver", "chromium-driver")))
    driver.set_page_load_timeout(60)
    return driver


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """The session's one browser; each test starts from a blank page without cookies."""
    driver = start_browser(str(tmp_path_factory.mktemp("chromium-profile")))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: webdriver.Chrome) -> Iterator[webdriver.Chrome]:
    """The shared browser, cleared for one test."""
    browser.delete_all_cookies()
    yield browser
    browser.get("about:blank")
    browser.delete_all_cookies()
