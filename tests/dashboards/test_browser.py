"""The report and the live page in a real browser: Debian's Chromium, headless, via Selenium.

Each page must draw every view (plot containers hold rendered SVG, and the parallel-coordinates
), log no console error, fetch nothing from the network, and show the summary table with
one row per strategy and the campaign's counts. A screenshot of each page is saved under the
test's temp dir. ``.ci/run`` installs ``chromium`` and ``chromium-driver``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchmarks._browser import CHROMEDRIVER, CHROMIUM, headless_chromium
from sweepforge.dashboards import write_report
from tests.dashboards.conftest import FAILING, NAME

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER),
        reason="needs Debian's chromium and chromium-driver (apt-get install -y "
        "chromium chromium-driver; .ci/run installs them)",
    ),
]

PLOTS = ["anytime-trials", "anytime-time", "parallel", "importance", "slices", "curves"]

# For each plot container: is there a plotly SVG with at least one drawn trace?
DRAWN = """
return arguments[0].map(id => {
  const body = document.querySelector('#view-' + id + ' .sf-body');
  if (!body || !body.querySelector('svg.main-svg')) return [id, false];
  const marks = body.querySelectorAll('g.trace path, g.point path').length;
  return [id, marks > 0];
});
"""
SUMMARY = """
return [...document.querySelectorAll('#summary-table tbody tr')].map(row => {
  const cells = {};
  row.querySelectorAll('td').forEach(td => cells[td.dataset.col] = td.textContent);
  return [row.dataset.strategy, cells];
});
"""


@pytest.fixture(scope="module")
def browser():
    driver = headless_chromium(console_log=True)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(check, what: str, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def drawn(driver) -> dict[str, bool]:
    return dict(driver.execute_script(DRAWN, PLOTS))


def open_page(driver, url: str) -> None:
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    wait_for(lambda: all(drawn(driver).values()), "every plot to be drawn")


def screenshot(driver, path: Path) -> None:
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1400, min(height + 200, 8000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    assert path.stat().st_size > 10_000


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def network_requests(driver) -> list[str]:
    return driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => /^(https?|wss?):/.test(n))"
    )


def check_summary(driver, result) -> None:
    rows = driver.execute_script(SUMMARY)
    expected = result.summary.set_index("strategy")
    assert [name for name, _ in rows] == list(result.summary["strategy"])
    for name, cells in rows:
        for column in ("trials", "finished", "failed"):
            assert int(cells[column]) == expected.loc[name, column], (name, column)


@pytest.fixture(scope="module")
def report_file(campaign_store, tmp_path_factory) -> Path:
    return write_report(
        NAME, campaign_store.uri, tmp_path_factory.mktemp("browser") / "report.html"
    )


def test_the_report_draws_every_view_offline(browser, report_file, campaign_store, tmp_path):
    open_page(browser, report_file.as_uri())
    assert drawn(browser) == dict.fromkeys(PLOTS, True)
    assert browser.execute_script("return document.querySelectorAll('.sf-config pre').length") == 2
    check_summary(browser, campaign_store.latest)
    assert console_errors(browser) == []
    assert network_requests(browser) == []
    screenshot(browser, tmp_path / "report.png")


def test_the_live_page_lists_campaigns_and_draws_every_view(
    browser, live_url, campaign_store, tmp_path
):
    open_page(browser, f"{live_url}?campaign={NAME}")
    assert drawn(browser) == dict.fromkeys(PLOTS, True)
    check_summary(browser, campaign_store.latest)
    links = browser.execute_script(
        "return [...document.querySelectorAll('#sf-campaign-list a')]"
        ".map(a => [a.firstChild.textContent, a.className])"
    )
    assert links == [[FAILING, ""], [NAME, "sf-current"]]
    time.sleep(1.5)  # a few refreshes (every 0.5 s here) redraw in place without errors
    assert drawn(browser) == dict.fromkeys(PLOTS, True)
    assert console_errors(browser) == []
    assert all(url.startswith(live_url) for url in network_requests(browser))
    screenshot(browser, tmp_path / "live.png")


def test_the_all_failed_campaign_says_so_in_the_browser(
    browser, live_url, campaign_store, tmp_path
):
    browser.get_log("browser")
    browser.get(f"{live_url}?campaign={FAILING}")
    alert = wait_for(
        lambda: browser.execute_script(
            "const a = document.getElementById('sf-alert'); return a && !a.hidden && a.textContent;"
        ),
        "the alert",
    )
    assert alert.startswith("All 2 trials failed")
    check_summary(browser, campaign_store.failing)
    empty = browser.execute_script(
        "return [...document.querySelectorAll('.sf-body.sf-empty')].map(b => b.textContent)"
    )
    assert len(empty) == len(PLOTS) and all("failed" in text for text in empty)
    assert console_errors(browser) == []
    screenshot(browser, tmp_path / "failing.png")
