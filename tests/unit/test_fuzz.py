"""Fuzzing in the test suite (bounded, seeded): generated case texts, field mutations and reform documents end
in an answer or in one clean error, never a traceback, and no wrongly typed value is accepted. The longer run is
`python -m bench.fuzzing` (README, "Measured")."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fuzzing import run


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_generated_inputs_never_crash_and_wrong_types_are_refused(seed):
    for name, tally in run(seed=seed, n=60).items():
        assert tally.crashes == 0 and tally.hangs == 0, (name, tally.examples)
        assert tally.wrongly_accepted == 0, (name, tally.examples)
        assert tally.tried > 0
