"""The explorer in a real browser: start `streamlit run` on 127.0.0.1, drive it with Playwright in Debian's
headless Chromium, save screenshots under test-output/, and check that the page fetched nothing from outside
(no CDN, tiles or fonts)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.timing import slack

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test-output"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    sync_playwright = None

missing = [
    what for what, gone in (("playwright", sync_playwright is None), (CHROMIUM, not Path(CHROMIUM).exists())) if gone
]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        bool(missing) and not os.environ.get("AIDKB_REQUIRE_BROWSER"),
        reason=f"needs {' and '.join(missing)} (apt-get install chromium; pip install "
        f"playwright); set AIDKB_REQUIRE_BROWSER=1 to fail instead",
    ),
]


def shows(page, text: str, timeout_ms: int) -> None:
    """Expect `text` on the page; when it does not come, the failure says what the page shows instead."""
    try:
        expect(page.get_by_text(text).first).to_be_visible(timeout=timeout_ms)
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- the page shows instead:\n{page.inner_text('body')[-3000:]}") from None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(log_name: str, env: dict | None = None) -> Iterator[tuple[str, int]]:
    """`streamlit run` of the explorer on 127.0.0.1 (a free port), its output in test-output/LOG_NAME: the URL
    and the server's pid once its health endpoint answers; stopped on leaving."""
    port = free_port()
    OUT.mkdir(exist_ok=True)
    log_path = OUT / log_name
    log = open(log_path, "w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app/streamlit_app.py",
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"streamlit did not start; see {log_path}")
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def app_url():
    with streamlit_server("streamlit.log") as (url, _):
        yield url


def note_outside_requests(page, app_url: str, outside: list[str]) -> None:
    """Note in `outside` every request of the page that goes anywhere but the app's own server."""
    own = (app_url, app_url.replace("http", "ws"), "data:", "blob:")
    page.on("request", lambda r: None if r.url.startswith(own) else outside.append(r.url))


@pytest.fixture
def page(app_url):
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        note_outside_requests(pg, app_url, outside)
        # Playwright's assertions wait 5 s unless told otherwise: on a loaded machine the first answer of a
        # session can take longer (regression: a CI run with another CPU-heavy process failed here).
        waited = int(60_000 * slack())
        pg.set_default_timeout(waited)
        expect.set_options(timeout=waited)
        yield pg
        browser.close()
    assert outside == [], f"the app fetched from outside: {outside}"


def test_ask_a_question_and_open_a_why_not(page, app_url):
    page.goto(f"{app_url}/Ask")
    expect(page.get_by_text("Legal status on 2025-06-01").first).to_be_visible()
    page.get_by_role("button", name="Decide").click()
    answer = page.get_by_text("A licence requirement applies; it is lifted by LPP.")
    expect(answer).to_be_visible()
    page.get_by_text("Why not", exact=True).scroll_into_view_if_needed()
    answer.scroll_into_view_if_needed()
    page.screenshot(path=str(OUT / "screenshot-ask.png"))
    page.get_by_role("button", name="Why not AIA?").click()
    expect(page.get_by_text("Category:").first).to_be_visible()
    expect(page.get_by_text("not a Tier 1 destination").first).to_be_visible()
    page.screenshot(path=str(OUT / "screenshot-ask-why-not.png"))


def test_run_a_tier_move(page, app_url):
    page.goto(f"{app_url}/What_if")
    expect(page.get_by_role("button", name="Add the move")).to_be_visible()
    page.get_by_role("button", name="Add the move").click()  # the default: Malaysia to Tier 1
    expect(page.get_by_text("move MY to Tier 1")).to_be_visible()
    page.get_by_role("button", name="Run the reform").click()
    expect(page.get_by_text("flips out of")).to_be_visible(timeout=int(300_000 * slack()))
    expect(page.get_by_text("The reform: move MY to Tier 1")).to_be_visible()  # the first flip's causes, in words
    page.get_by_text("Why (the rules").evaluate("e => e.scrollIntoView({block: 'center'})")  # flips and causes
    page.wait_for_timeout(500)
    page.screenshot(path=str(OUT / "screenshot-what-if-flips.png"))
    expect(page.get_by_role("tab", name="Maps")).to_have_count(1)  # the run has ended (no element left from before)
    page.get_by_role("tab", name="Maps").click()
    maps = page.get_by_role("tabpanel", name="Maps").locator(".vega-embed")
    expect(maps).to_have_count(3)
    maps.first.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)  # let the maps draw
    page.screenshot(path=str(OUT / "screenshot-what-if.png"))


def test_a_date_change_marks_the_answer_stale(page, app_url):
    page.goto(f"{app_url}/Ask")
    page.get_by_role("button", name="Decide").click()
    expect(page.get_by_text("A licence requirement applies; it is lifted by LPP.")).to_be_visible()
    year = page.locator('[data-testid="stSidebar"]').get_by_role("spinbutton", name="year, Date of the question")
    year.click()
    page.keyboard.type("2024")
    page.keyboard.press("Tab")  # the date is taken when the field loses focus
    page.locator("h1").first.click()
    stale = page.get_by_text("Stale answer:")
    expect(stale).to_be_visible()
    expect(page.get_by_text("since then these changed: as_of")).to_be_visible()
    stale.scroll_into_view_if_needed()
    page.screenshot(path=str(OUT / "screenshot-ask-stale.png"))
    page.get_by_role("button", name="Decide").click()
    expect(stale).to_have_count(0)
    expect(page.get_by_text("Legal status on 2024-06-01").first).to_be_visible()


def test_compare_and_rules_pages(page, app_url):
    page.goto(f"{app_url}/Compare")
    expect(page.get_by_text("What differs:")).to_be_visible()  # as published and as enforced differ in 2025
    page.wait_for_timeout(500)
    page.screenshot(path=str(OUT / "screenshot-compare.png"))
    page.goto(f"{app_url}/Rules")
    page.get_by_label("Filter (id, citation or words)").fill("lpp_conditions")
    page.get_by_label("Filter (id, citation or words)").press("Enter")
    expect(page.get_by_text("Refuted in").first).to_be_visible(timeout=int(300_000 * slack()))
    page.get_by_text("@rule lpp_conditions").first.scroll_into_view_if_needed()
    page.screenshot(path=str(OUT / "screenshot-rules.png"))


def overflowing(page) -> list[str]:
    """The main area's controls that reach past the right edge of the window, and the page's own overflow."""
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth, out = [];
        if (document.documentElement.scrollWidth > width + 1) out.push('page ' + document.documentElement.scrollWidth);
        for (const el of document.querySelectorAll('[data-testid="stMain"] input, [data-testid="stMain"] button,'
                                                   + '[data-testid="stMain"] [data-baseweb="select"]')) {
            const box = el.getBoundingClientRect();
            if (box.width > 0 && box.right > width + 1) out.push((el.innerText || el.ariaLabel || el.tagName) + ' ' + box.right);
        }
        return out;
    }""")


def test_a_phone_width_screen(app_url):
    """At 390 px: no control of Ask, Compare or Rules reaches past the edge; the date and reading are in the
    main area; the sidebar closes after a page is chosen in it."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        page.set_default_timeout(int(60_000 * slack()))
        expect.set_options(timeout=int(60_000 * slack()))
        page.goto(f"{app_url}/Ask")
        page.get_by_role("button", name="Decide").click()
        expect(page.get_by_text("A licence requirement applies; it is lifted by LPP.")).to_be_visible()
        assert overflowing(page) == []
        page.screenshot(path=str(OUT / "screenshot-ask-390.png"), full_page=False)
        main = page.locator('[data-testid="stMain"]')
        main.get_by_role("button", name="📅 2025-06-01 · as published").click()
        popover = page.locator('[data-testid="stPopoverBody"]')
        expect(popover.get_by_role("group", name="Date of the question")).to_be_visible()
        page.keyboard.press("Escape")
        for name in ("Compare", "Rules"):
            page.locator('[data-testid="stExpandSidebarButton"]').click()
            sidebar = page.locator('[data-testid="stSidebar"]')
            expect(sidebar).to_have_attribute("data-collapsed", "false")
            sidebar.get_by_role("link", name=name).click()
            expect(page.get_by_role("heading", name=name).first).to_be_visible()
            expect(sidebar).to_have_attribute("data-collapsed", "true")
            page.wait_for_timeout(1000)
            assert overflowing(page) == [], name
        browser.close()
