"""Benchmark: the explorer's Ask page, warm, in one AppTest session (the script run and the session's worker,
as a browser session has them). Prints the median of each interaction; asserts nothing.

    .venv/bin/python bench/ui.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from tests.app.conftest import SUBMIT, new_session

    at = new_session("1_Ask")
    cold = timed(lambda: at.button(key=SUBMIT).click().run())
    figures: dict[str, list[float]] = {
        "decide a changed quantity": [],
        "change the date (answer marked stale)": [],
        "decide again at the new date": [],
        "why not LPP (counterfactuals)": [],
        "Ask -> Home -> Ask (form and answer kept)": [],
    }
    for i in range(args.repeat):
        at.number_input(key="f_quantity").set_value(1000 + i + 1)
        figures["decide a changed quantity"].append(timed(lambda: at.button(key=SUBMIT).click().run()))
        day = dt.date(2025, 6, 1) + dt.timedelta(days=i + 1)
        figures["change the date (answer marked stale)"].append(
            timed(lambda: at.date_input(key="sidebar_as_of").set_value(day).run())
        )
        figures["decide again at the new date"].append(timed(lambda: at.button(key=SUBMIT).click().run()))
        at.number_input(key="f_ytd").set_value(26_900_000 - 15_832_000 + i + 1)
        at.button(key=SUBMIT).click().run()
        figures["why not LPP (counterfactuals)"].append(timed(lambda: at.button(key="whynot_LPP").click().run()))
        figures["Ask -> Home -> Ask (form and answer kept)"].append(
            timed(lambda: (at.switch_page("pages/0_Home.py").run(), at.switch_page("pages/1_Ask.py").run()))
        )
        at.number_input(key="f_ytd").set_value(0)
    assert not at.exception, [e.value for e in at.exception]
    print(f"first Decide of the session (starts its worker): {cold * 1000:.0f} ms")
    for name, values in figures.items():
        print(f"{name}: median {statistics.median(values) * 1000:.0f} ms over {len(values)}")


if __name__ == "__main__":
    main()
