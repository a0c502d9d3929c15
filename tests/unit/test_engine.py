"""The engine: compiled rules evaluate correctly, scenarios are isolated, case facts never stay behind."""

from __future__ import annotations

import threading

import pytest

from aidkb.kb.engine import Engine, EngineError
from aidkb.kb.program import program_from_text

SOURCE = """
input ytd(C, A) "ytd {A}".
input ship(C, X) "ship {X}".
input bad(C) "bad".
input edge(C, A, B) "edge".
base limit(L) "limit {L}".
@rule within
@cite "15 CFR 740.29"
@says "{Total} within {L}"
ok(C) :- ytd(C, A), ship(C, X), Total = A + X, limit(L), Total * 100 <= L * 100, not bad(C).
@rule reach_base
@cite "x"
@says "edge"
reach(C, A, B) :- edge(C, A, B).
@rule reach_step
@cite "x"
@says "path"
reach(C, A, B) :- reach(C, A, M), edge(C, M, B).
"""


@pytest.fixture(scope="module")
def program():
    return program_from_text(SOURCE, "engine.dl")


def test_arithmetic_comparison_and_negation(program):
    e = Engine(program, [("limit", 26)])
    with e.facts([("ytd", "3A090.a", 10), ("ship", "3A090.a", 16), ("ytd", "MY", 10), ("ship", "MY", 17)]):
        assert e.ask("ok", (None,)) == [("3A090.a",)]  # 26 <= 26 holds; 27 does not
    with e.facts([("ytd", "c", 1), ("ship", "c", 1), ("bad", "c")]):
        assert not e.holds("ok", ("c",))


def test_case_facts_are_retracted_after_the_question(program):
    e = Engine(program, [("limit", 26)])
    with e.facts([("ytd", "c", 1), ("ship", "c", 1)]):
        assert e.holds("ok", ("c",))
    assert e.ask("ytd", (None, None)) == []


def test_facts_are_retracted_even_when_the_question_fails(program):
    e = Engine(program, [("limit", 26)])
    with pytest.raises(RuntimeError):
        with e.facts([("ytd", "c", 1)]):
            raise RuntimeError("boom")
    assert e.ask("ytd", (None, None)) == []


def test_two_engines_do_not_share_facts(program):
    a = Engine(program, [("limit", 26)])
    b = Engine(program, [("limit", 100)])
    with a.facts([("ytd", "c", 10), ("ship", "c", 50)]):
        assert not a.holds("ok", ("c",))
    with b.facts([("ytd", "c", 10), ("ship", "c", 50)]):
        assert b.holds("ok", ("c",))
        assert a.ask("ytd", (None, None)) == []  # switching back does not see b's facts
    assert a.ask("limit", (None,)) == [(26,)]


def test_left_recursion_terminates_on_a_cycle(program):
    e = Engine(program, [("limit", 1)])
    with e.facts([("edge", "c", 0, 1), ("edge", "c", 1, 2), ("edge", "c", 2, 0)]):
        assert len(e.ask("reach", ("c", None, None))) == 9


def test_an_engine_is_bound_to_its_thread(program):
    e = Engine(program, [("limit", 1)])
    errors = []

    def use():
        try:
            e.ask("limit", (None,))
        except EngineError as err:
            errors.append(err)

    t = threading.Thread(target=use)
    t.start()
    t.join()
    assert errors and "thread" in str(errors[0])


def test_unknown_predicate_or_arity_is_an_error(program):
    e = Engine(program, [])
    with pytest.raises(EngineError):
        e.ask("nope", (None,))
    with pytest.raises(EngineError):
        with e.facts([("ytd", "c")]):
            pass


def test_no_float_reaches_pydatalog(program):
    # regression: pyDatalog stored 2e26 as 2.0000000046384256e26 (a 32-bit float)
    e = Engine(program, [("limit", 10**26)])
    with pytest.raises(EngineError, match="inexact"):
        with e.facts([("ytd", "c", 2e26)]):
            pass
    with e.facts([("ytd", "c", 2 * 10**26), ("ship", "c", 0)]):
        assert e.ask("ytd", ("c", None)) == [("c", 2 * 10**26)]
