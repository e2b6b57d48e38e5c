"""A headless Chromium driven by Selenium: Debian's ``chromium`` and ``chromedriver`` packages
(``.ci/run`` installs them). Shared by ``report_scale.py`` and the browser tests of the report."""

from __future__ import annotations

import shutil
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def headless_chromium(*, console_log: bool = False) -> Any:
    """A Selenium Chrome driver on headless Chromium, 1400×1000; ``console_log`` keeps the
    page's console messages (``driver.get_log("browser")``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (CHROMIUM and CHROMEDRIVER):
        raise RuntimeError("needs Debian's chromium and chromium-driver (apt install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    if console_log:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
