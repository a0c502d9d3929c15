"""Fixtures for the Streamlit explorer's tests: a fresh AppTest session per test (a browser session)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"
SUBMIT = "decide"


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives the running app in a real (headless) Chromium")


def new_session(page: str | None = None):
    """A new browser session of the app (its own session state and script thread), on a page."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=300).run()
    if page:
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def session():
    return new_session


def shown(markdown: str) -> str:
    """Markdown source as the reader sees it: the app backslash-escapes user text (app/ui.py md)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def texts(elements) -> list[str]:
    return [shown(e.value) for e in elements]
