"""Pass 2a, rewrite: recursion put in the one shape pyDatalog is safe with, before check_recursion_first.

pyDatalog 0.22.4 never returns on right recursion over cyclic data (shared/engine-notes.md): a recursive rule
whose first body literal is not recursive makes it open one subgoal per binding (`t(0, Y)`, `t(1, Y)`, ...),
and on a cycle those subgoals wait on each other forever. A rule whose first literal is its recursive atom
terminates (the recursive call is only bound where the caller bound the head). Two semantics-preserving rewrites
bring rules to that shape, so that check_recursion_first can accept them:

1. linearize_transitive: a transitive rule `t(A, C) :- t(A, B), t(B, C)` (non-linear) of a predicate that is
   alone in its recursive component becomes `t(A, C) :- t(A, B), t_tc_step(B, C)`, where `t_tc_step` is defined
   by copies of t's other rules (with t renamed). With E the other rules' operator, t = s+ where s = lfp(E)
   both before and after, so the answers are the same; every rule is then linear. (With no other rule, t is
   empty, and the rule becomes `t(A, C) :- t(A, B), C = B`, just as empty.)
2. recursive_first: in a recursive rule, the first positive atom of the head's recursive component moves to the
   front of the body (`t(X, Y) :- e(X, Z), t(Z, Y)` becomes `t(X, Y) :- t(Z, Y), e(X, Z)`). A conjunction of
   positive atoms does not depend on its order; a negation, comparison or assignment keeps its place after the
   atoms that bind it, and only gets more variables bound before it; an assignment `V = expr` whose V the moved
   atom now binds becomes the test `V == expr`.

A rule that cannot be rewritten safely (a moved atom's `? "..."` text would name a variable not bound yet) is
left as it is, and check_recursion_first reports it. Rule ids, citations and @says stay; the copies made by
linearize_transitive get the id `<id>__tc`.
"""

from __future__ import annotations

from dataclasses import replace

from .graph import components
from .syntax import PLACEHOLDER, Assign, Atom, Compare, Negative, Positive, Rule, Var


def rewrite_recursion(rules: list[Rule]) -> list[Rule]:
    """Both rewrites, in order; returns a new list (rules that need no change are returned unchanged)."""
    return recursive_first(linearize_transitive(list(rules)))


def _recursive_positions(rule: Rule, scc: frozenset[str]) -> list[int]:
    return [i for i, lit in enumerate(rule.body) if isinstance(lit, Positive) and lit.atom.pred in scc]


def is_recursive(rule: Rule, comp: dict[str, frozenset[str]]) -> bool:
    """Whether the rule's body uses a predicate of the head's component (the head itself included)."""
    scc = comp.get(rule.head.pred, frozenset())
    return any(
        isinstance(lit, (Positive, Negative))
        and lit.atom.pred in scc
        and (len(scc) > 1 or lit.atom.pred == rule.head.pred)
        for lit in rule.body
    )


# --- 1. transitive rules to linear ones -----------------------------------------------------------------------


def _transitive(rule: Rule) -> bool:
    """`t(A, C) :- t(A, B), t(B, C)` with three distinct variables and nothing else in the body."""
    head = rule.head
    if head.arity != 2 or len(rule.body) != 2 or not all(isinstance(a, Var) for a in head.args):
        return False
    first, second = rule.body
    if not (isinstance(first, Positive) and isinstance(second, Positive)):
        return False
    if first.atom.pred != head.pred or second.atom.pred != head.pred:
        return False
    if not all(isinstance(a, Var) for a in first.atom.args + second.atom.args):
        return False
    (a, c), (a1, b), (b1, c1) = head.args, first.atom.args, second.atom.args
    return a == a1 and b == b1 and c == c1 and len({str(a), str(b), str(c)}) == 3


def linearize_transitive(rules: list[Rule]) -> list[Rule]:
    comp = components(rules)
    used = {
        p
        for r in rules
        for p in [r.head.pred] + [lit.atom.pred for lit in r.body if isinstance(lit, (Positive, Negative))]
    }
    candidates = sorted({r.head.pred for r in rules if _transitive(r) and comp[r.head.pred] == {r.head.pred}})
    for pred in candidates:
        own = [r for r in rules if r.head.pred == pred]
        others = [r for r in own if not _transitive(r)]
        # every other rule of pred must be linear in pred (and pred cannot be negated in its own rules)
        if any(
            len(_recursive_positions(r, frozenset({pred}))) > 1
            or any(isinstance(lit, Negative) and lit.atom.pred == pred for lit in r.body)
            for r in others
        ):
            continue
        step = f"{pred}_tc_step"
        while step in used:
            step += "_"
        used.add(step)

        def rename(atom: Atom, new: str = step) -> Atom:
            return Atom(new, atom.args) if atom.pred == pred else atom

        copies = [
            replace(
                r,
                id=f"{r.id}__tc",
                head=rename(r.head),
                body=tuple(
                    replace(lit, atom=rename(lit.atom)) if isinstance(lit, (Positive, Negative)) else lit
                    for lit in r.body
                ),
            )
            for r in others
        ]
        rewritten: list[Rule] = []
        for r in rules:
            if r.head.pred == pred and _transitive(r):
                first, second = r.body
                assert isinstance(first, Positive) and isinstance(second, Positive)  # _transitive checked it
                if copies:
                    r = replace(r, body=(first, replace(second, atom=Atom(step, second.atom.args))))
                else:  # no other rule: t is empty, and so is `t(A, C) :- t(A, B), C = B` (no helper needed)
                    target = second.atom.args[1]
                    assert isinstance(target, Var)  # _transitive checked it
                    r = replace(r, body=(first, Assign(target, second.atom.args[0], second.unless, second.pos)))
            rewritten.append(r)
        rules = rewritten + copies
    return rules


# --- 2. the recursive atom first ------------------------------------------------------------------------------


def recursive_first(rules: list[Rule]) -> list[Rule]:
    comp = components(rules)
    return [_move_first(rule, comp) for rule in rules]


def _move_first(rule: Rule, comp: dict[str, frozenset[str]]) -> Rule:
    if not is_recursive(rule, comp):
        return rule
    positions = _recursive_positions(rule, comp[rule.head.pred])
    if not positions or positions[0] == 0:
        return rule
    moved = rule.body[positions[0]]
    atom_vars = set(moved.vars())
    if moved.unless and not set(PLACEHOLDER.findall(moved.unless)) <= atom_vars:
        return rule  # its failure text needs variables bound by the literals before it: leave it to the check
    rest = [lit for i, lit in enumerate(rule.body) if i != positions[0]]
    body = [moved]
    for lit in rest:
        if isinstance(lit, Assign) and lit.var.name in atom_vars:
            lit = Compare("==", lit.var, lit.expr, lit.unless, lit.pos)
        body.append(lit)
    return replace(rule, body=tuple(body))
