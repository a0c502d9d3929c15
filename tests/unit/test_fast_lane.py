"""The fast lane's selection (tests/conftest.py): which -m expressions skip the slow suites unread."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.conftest import ROOT, SLOW_SUITES, _skips_slow


@pytest.mark.parametrize(
    "markexpr, skips",
    [
        ("not slow", True),
        ("not slow and not browser", True),
        ("", False),
        ("slow", False),
        ("browser", False),
        ("not browser", False),
        ("slow or not slow", False),
    ],
)
def test_only_expressions_that_leave_out_every_slow_test_skip_the_slow_suites(markexpr, skips):
    config = SimpleNamespace(getoption=lambda name, default=None: markexpr)
    assert _skips_slow(config) is skips


def test_every_slow_suite_is_a_file_or_folder_of_the_tests():
    for entry in SLOW_SUITES:
        path = ROOT / entry.split("::")[0]
        assert path.is_file() or (entry.endswith("/") and path.is_dir()), entry
