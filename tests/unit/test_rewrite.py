"""aidkb.kb.rewrite: recursion rewritten into the shape pyDatalog terminates on, with the same answers."""

from __future__ import annotations

import signal
from contextlib import contextmanager

import pytest

from aidkb.kb.checks import check, check_recursion_first
from aidkb.kb.engine import Engine
from aidkb.kb.graph import components
from aidkb.kb.parser import RuleError, parse_text
from aidkb.kb.program import baseline_program
from aidkb.kb.rewrite import linearize_transitive, recursive_first, rewrite_recursion
from aidkb.kb.syntax import Assign, Compare, Rule


def rules_of(text: str) -> tuple[list, list[Rule]]:
    statements = parse_text(text, "test.dl")
    return ([s for s in statements if not isinstance(s, Rule)], [s for s in statements if isinstance(s, Rule)])


@contextmanager
def deadline(seconds: int):
    """Fail instead of hanging (pyDatalog's loops are Python code, so SIGALRM interrupts them)."""

    def expired(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


RIGHT = """
base edge(A, B) "edge".
@rule reach_base @cite "x" @says "edge"
reach(X, Y) :- edge(X, Y).
@rule reach_step @cite "x" @says "{X} to {Z}, then on to {Y}"
reach(X, Y) :- edge(X, Z), reach(Z, Y).
"""

CYCLE = [("edge", 0, 1), ("edge", 1, 2), ("edge", 2, 0), ("edge", 2, 3)]
CLOSURE = sorted((a, b) for a in range(3) for b in range(4))


def test_right_recursion_is_rejected_without_the_rewrite():
    _declarations, rules = rules_of(RIGHT)
    with pytest.raises(RuleError, match="right recursion"):
        check_recursion_first(rules)


def test_right_recursion_becomes_recursive_first_and_keeps_its_metadata():
    declarations, rules = rules_of(RIGHT)
    rewritten = rewrite_recursion(rules)
    step = next(r for r in rewritten if r.id == "reach_step")
    assert step.text() == "reach(X, Y) :- reach(Z, Y), edge(X, Z)."
    assert (step.cites, step.says, step.pos) == (rules[1].cites, rules[1].says, rules[1].pos)
    assert rewritten[0] is rules[0]  # an unchanged rule is the same object
    check([*declarations, *rewritten])  # the project's checks accept it


@pytest.mark.parametrize(
    "query, expected",
    [
        ((None, None), CLOSURE),
        ((0, None), [(0, b) for b in range(4)]),
        ((None, 3), [(a, 3) for a in range(3)]),
    ],
)
def test_rewritten_right_recursion_terminates_on_a_cycle(query, expected):
    declarations, rules = rules_of(RIGHT)
    program = check([*declarations, *rewrite_recursion(rules)])
    with deadline(10):
        engine = Engine(program, CYCLE)
        assert engine.ask("reach", query) == expected


def test_transitive_rule_is_linearized_and_terminates_on_a_cycle():
    declarations, rules = rules_of("""
    base edge(A, B) "edge".
    @rule base @cite "x" @says "edge" reach(X, Y) :- edge(X, Y).
    @rule trans @cite "x" @says "via {Z}" reach(X, Y) :- reach(X, Z), reach(Z, Y).
    """)
    with pytest.raises(RuleError, match="2 recursive atoms"):
        check_recursion_first(rules)
    rewritten = rewrite_recursion(rules)
    texts = {r.id: r.text() for r in rewritten}
    assert texts == {
        "base": "reach(X, Y) :- edge(X, Y).",
        "trans": "reach(X, Y) :- reach(X, Z), reach_tc_step(Z, Y).",
        "base__tc": "reach_tc_step(X, Y) :- edge(X, Y).",
    }
    program = check([*declarations, *rewritten])
    with deadline(10):
        assert Engine(program, CYCLE).ask("reach", (None, None)) == CLOSURE


def test_transitive_rule_with_a_right_linear_rule():
    # y = x ; y = x∘y ; y = y∘y : the copy of the right-linear rule is itself moved recursive-first
    declarations, rules = rules_of("""
    base x(A, B) "x".
    @rule y0 @cite "c" @says "s" y(A, B) :- x(A, B).
    @rule y1 @cite "c" @says "s" y(A, C) :- x(A, B), y(B, C).
    @rule y2 @cite "c" @says "s" y(A, C) :- y(A, B), y(B, C).
    """)
    program = check([*declarations, *rewrite_recursion(rules)])
    facts = [("x", "a", "b"), ("x", "b", "c"), ("x", "c", "a")]
    with deadline(10):
        assert Engine(program, facts).ask("y", (None, None)) == sorted((p, q) for p in "abc" for q in "abc")


def test_transitive_rule_alone_stays_empty():
    declarations, rules = rules_of("""
    @rule y2 @cite "c" @says "s" y(A, C) :- y(A, B), y(B, C).
    """)
    (rule,) = linearize_transitive(rules)
    assert rule.text() == "y(A, C) :- y(A, B), C = B."
    program = check([*declarations, *rewrite_recursion(rules)])
    assert Engine(program, []).ask("y", (None, None)) == []


def test_assignment_bound_by_the_moved_atom_becomes_a_test():
    declarations, rules = rules_of("""
    base step(A, B) "s".
    @rule n0 @cite "c" @says "s" n(A, B) :- step(A, B).
    @rule n1 @cite "c" @says "s" n(A, C) :- step(A, B), M = B + 1, n(M, C).
    """)
    (_, n1) = recursive_first(rules)
    assert n1.text() == "n(A, C) :- n(M, C), step(A, B), M == (B + 1)."
    assert isinstance(n1.body[2], Compare) and not any(isinstance(lit, Assign) for lit in n1.body)
    program = check([*declarations, *rewrite_recursion(rules)])
    facts = [("step", 0, 1), ("step", 2, 5)]  # n(0, 5): step(0, 1), M = 2, n(2, 5)
    with deadline(10):
        assert Engine(program, facts).ask("n", (None, None)) == [(0, 1), (0, 5), (2, 5)]


def test_failure_text_naming_earlier_variables_blocks_the_move():
    declarations, rules = rules_of("""
    base edge(A, B) "edge".
    @rule r0 @cite "c" @says "s" reach(X, Y) :- edge(X, Y).
    @rule r1 @cite "c" @says "s" reach(X, Y) :- edge(X, Z), reach(Z, Y) ? "nothing from {X}".
    """)
    assert rewrite_recursion(rules)[1] is rules[1]  # left for check_recursion_first to report


def test_mutual_non_linear_recursion_is_left_for_the_check():
    declarations, rules = rules_of("""
    base load(D, A) "". base alloc(V, O) "". base store(S, A) "".
    @rule p0 @cite "x" @says "x" pts(V, O) :- alloc(V, O).
    @rule p1 @cite "x" @says "x" pts(D, O) :- load(D, A), pts(A, O1), mem(O1, O).
    @rule m1 @cite "x" @says "x" mem(O1, O2) :- store(S, A), pts(S, O2), pts(A, O1).
    """)
    assert components(rules)["pts"] == {"pts", "mem"}
    with pytest.raises(RuleError, match="2 recursive atoms"):
        check([*declarations, *rewrite_recursion(rules)])


def test_the_rewrite_is_idempotent():
    _declarations, rules = rules_of(RIGHT)
    once = rewrite_recursion(rules)
    assert rewrite_recursion(once) == once


def test_the_project_rules_are_unchanged_by_the_rewrite():
    rules = list(baseline_program().rules)
    assert rewrite_recursion(rules) == rules
