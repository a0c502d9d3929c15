"""The two engines agree: pyDatalog (the product engine) and the independent bottom-up evaluator reach the
same conclusions on every case."""

from __future__ import annotations

import pytest

from aidkb import ontology
from aidkb.kb.bottomup import Model
from aidkb.queries.case import load_case
from aidkb.queries.decide import engine_for
from aidkb.queries.reform import Reform

from ..conftest import OWN_CASES, SHARED_CASES

CONCLUSIONS = [
    ("license_required", 1),
    ("authorized", 2),
    ("eligible", 2),
    ("red_flag", 2),
    ("review", 2),
    ("status", 2),
    ("uncertain_route", 2),
    ("obligation", 2),
    ("regime", 2),
    ("tier1", 2),
    ("tier3", 2),
]


@pytest.mark.parametrize(
    "path", sorted(SHARED_CASES.glob("*.yaml")) + sorted(OWN_CASES.glob("*.yaml")), ids=lambda p: p.stem
)
def test_engines_agree(path):
    case = load_case(path)
    reform = Reform(case.what_if)
    model = Model(reform.program(), reform.apply(ontology.load().facts()) + case.facts())  # the rules as amended
    engine = engine_for(reform)
    with engine.facts(case.facts()):
        for pred, arity in CONCLUSIONS:
            by_engine = set(engine.ask(pred, (case.id,) + (None,) * (arity - 1)))
            by_model = {row for row in model.rows(pred) if row[0] == case.id}
            assert by_engine == by_model, pred
