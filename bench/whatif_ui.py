"""What-if page timings as a user meets them (measured, not asserted): the first run of a reform with the grid
in the server's first browser session (its worker starts and decides the baseline grid), the first run in a
second session (a new worker; the baseline grid is shared by the server), and a sweep of the LPP limit.

    .venv/bin/python bench/whatif_ui.py

Sessions are Streamlit AppTest sessions in this process (one server process, one worker per session)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.app.conftest import new_session  # noqa: E402


def timed(label: str, action) -> float:
    start = time.perf_counter()
    at = action()
    seconds = time.perf_counter() - start
    assert not at.exception, [e.value for e in at.exception]
    print(f"{label}: {seconds:.1f} s")
    return seconds


def main() -> None:
    first, second = new_session("2_What_if"), new_session("2_What_if")
    for label, at in (("first session", first), ("second session", second)):
        timed(f"{label}: add a tier move (its worker starts)", lambda: at.button(key="add_move").click().run())
        timed(
            f"{label}: first run, grid and 149 cases"
            + (" (decides the baseline grid and cases)" if at is first else " (shared baseline)"),
            lambda: at.button(key="run_reform").click().run(),
        )
    timed("second session: run again", lambda: second.button(key="run_reform").click().run())
    second.number_input(key="sweep_steps").set_value(9)
    timed(
        "sweep of lpp_annual_tpp_limit, 9 values on the fine sub-grid (its baseline first)",
        lambda: second.button(key="run_sweep").click().run(),
    )


if __name__ == "__main__":
    main()
