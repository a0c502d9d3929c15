"""The What-if page in a real browser (Debian Chromium, the server on 127.0.0.1): the reform survives a reload
through its URL and opens from its link in a new session, the downloaded reform uploads again, the impact's
totals show, the tabs wrap at 390 px, and the server log stays free of warnings."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import pytest

from aidkb.app import whatif as w
from tests.app.test_browser import (
    ARGS,
    CHROMIUM,
    OUT,
    expect,
    note_outside_requests,
    pytestmark,
    streamlit_server,
    sync_playwright,
)
from tests.timing import slack

__all__ = ["pytestmark"]
ROOT = Path(__file__).resolve().parents[2]
LOG = "streamlit-whatif.log"


@pytest.fixture(scope="module")
def app_url():
    with streamlit_server(LOG) as (url, _):
        yield url
    log = (OUT / LOG).read_text()
    assert "ScriptRunContext" not in log and "Traceback" not in log, log[-3000:]


@pytest.fixture
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        expect.set_options(timeout=int(60_000 * slack()))
        yield chromium
        chromium.close()
    assert OUTSIDE == [], f"the app fetched from outside: {OUTSIDE}"


OUTSIDE: list[str] = []


def new_page(browser, app_url: str, width: int = 1400, height: int = 1000):
    """A page in a new browser context: a new session of the app. What it fetches from outside is noted."""
    page = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True).new_page()
    page.set_default_timeout(int(60_000 * slack()))
    note_outside_requests(page, app_url, OUTSIDE)
    return page


def carried(url: str) -> dict[str, str]:
    """What a What-if link's query parameters carry (the reform, kept reforms, sweep settings), as text."""
    query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    return {name: w.decode_link(values[0], "<link>", name) for name, values in query.items()}


def upload(page, path: Path) -> None:
    """Choose a file in the page's uploader. Choosing a tab reruns the script (the tab is tracked), and a file
    chosen while that rerun redraws the uploader is dropped: choose it again until the uploader shows it."""
    for _ in range(3):
        page.locator("input[type=file]").set_input_files([])  # so that choosing the same file again is a change
        page.locator("input[type=file]").set_input_files(str(path))
        try:
            expect(page.get_by_text(path.name)).to_be_visible(timeout=int(15_000 * slack()))
            return
        except AssertionError:
            continue
    raise AssertionError(f"the uploader never showed {path.name}")


def test_reform_reloads_from_its_url_uploads_again_and_shows_totals(browser, app_url, tmp_path):
    page = new_page(browser, app_url)
    page.goto(f"{app_url}/What_if")
    page.get_by_role("button", name="Add the move").click()  # the default: Malaysia to Tier 1
    expect(page.get_by_text("move MY to Tier 1")).to_be_visible()
    page.wait_for_url(re.compile(r"\?reform=[A-Za-z0-9_-]+(&|$)"))  # the reform is in the address bar
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the reform (YAML)").click()
    saved = tmp_path / "reform.yaml"
    download.value.save_as(saved)
    assert saved.read_text() == "title: what-if\noperations:\n- move_country:\n    country: MY\n    to_tier: 1\n"

    page.get_by_role("button", name="Run the reform").click()
    expect(page.get_by_text("Outcomes before and after")).to_be_visible(timeout=int(300_000 * slack()))
    expect(page.get_by_text("flips out of")).to_be_visible()
    expect(page.get_by_role("tab", name="Maps")).to_have_count(1)  # the run has ended
    expect(page.get_by_role("tabpanel", name="Impact").locator(".vega-embed")).to_have_count(1)  # totals chart
    expect(page.get_by_text("The reform: move MY to Tier 1")).to_be_visible()  # the first flip's causes
    page.get_by_text("Outcomes before and after").evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(1000)  # let the chart draw
    page.screenshot(path=str(OUT / "screenshot-what-if-totals.png"))

    # two reforms kept for comparison and the sweep's settings travel in the link too
    page.get_by_role("button", name="Keep it for comparison").click()
    page.wait_for_url(lambda url: "title: what-if" in carried(url).get(w.KEPT_PARAM, ""))
    page.get_by_label("Name", exact=True).fill("Malaysia up")
    page.get_by_label("Name", exact=True).press("Enter")
    page.wait_for_url(lambda url: carried(url).get(w.LINK_PARAM, "").startswith("title: Malaysia up\n"))
    page.get_by_role("button", name="Keep it for comparison").click()
    page.wait_for_url(lambda url: "title: Malaysia up" in carried(url).get(w.KEPT_PARAM, ""))
    page.get_by_role("tab", name="Parameter sweep").click()
    page.get_by_label("values", exact=True).fill("5")
    page.get_by_label("values", exact=True).press("Enter")
    page.wait_for_url(lambda url: "values: 5" in carried(url).get(w.SWEEP_PARAM, ""))
    link = page.url
    page.reload()
    expect(page.get_by_text("move MY to Tier 1")).to_be_visible()
    other = new_page(browser, app_url)
    other.goto(link)  # the shared link, in another session
    expect(other.get_by_text("move MY to Tier 1")).to_be_visible()
    other.get_by_role("tab", name="Parameter sweep").click()
    expect(other.get_by_label("values", exact=True)).to_have_value("5")
    other.get_by_role("tab", name="Compare reforms").click()
    # both kept reforms came with the link: the comparison is offered
    expect(other.get_by_role("combobox", name="Reform A")).to_match_aria_snapshot('- combobox "Reform A": what-if')
    expect(other.get_by_role("combobox", name="Reform B")).to_match_aria_snapshot('- combobox "Reform B": Malaysia up')

    fresh = new_page(browser, app_url)
    fresh.goto(f"{app_url}/What_if")
    expect(fresh.get_by_role("button", name="Add the move")).to_be_visible()  # the session's first run has ended
    fresh.get_by_role("tab", name="Upload a reform").click()
    upload(fresh, saved)
    # regression: the upload's rerun showed the first tab again, hiding this button (the tabs are now tracked)
    fresh.get_by_role("button", name="Use this reform (replaces the current one)").click()
    expect(fresh.get_by_text("move MY to Tier 1")).to_be_visible()


def test_tabs_wrap_on_a_phone(browser, app_url):
    page = new_page(browser, app_url, width=390, height=844)
    page.goto(f"{app_url}/What_if")
    tabs = page.get_by_role("tab")
    expect(page.get_by_role("tab", name="Compare reforms")).to_be_visible()  # the page has been drawn
    assert tabs.count() >= 10
    # the page's style arrives with the script's first elements: wait until the tabs have wrapped
    page.wait_for_function(
        "() => [...document.querySelectorAll('[role=tab]')]"
        ".every(t => t.getBoundingClientRect().right <= window.innerWidth)"
    )
    for i in range(tabs.count()):
        box = tabs.nth(i).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (tabs.nth(i).inner_text(), box)
    page.screenshot(path=str(OUT / "screenshot-what-if-390.png"), full_page=False)
