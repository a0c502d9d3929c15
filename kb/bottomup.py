"""A second, independent evaluator: semi-naive bottom-up evaluation, stratum by stratum, in plain Python.

It shares only the syntax tree with the pyDatalog path (no compiler, no engine), so the proof checker can
use it to confirm that a negated atom has no derivation, and benchmarks can compare the two engines.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from .errors import AidkbError
from .graph import components, dependency_graph
from .syntax import COMPARISONS, Assign, Negative, Positive, Program, Rule, Var, bind, evaluate


@dataclass(frozen=True)
class Budget:
    """Bounds on one evaluation: derived facts and CPU seconds (process time, so load does not count)."""

    max_rows: int = 200_000
    cpu_seconds: float = 20.0


class EvaluationError(AidkbError):
    """The rules cannot be evaluated on these facts: an arithmetic step fails, or the budget is exceeded."""


class Relation:
    """A set of tuples with hash indexes built on demand for the bound positions of a lookup."""

    def __init__(self):
        self.rows: set[tuple] = set()
        self._indexes: dict[tuple[int, ...], dict[tuple, list[tuple]]] = {}

    def add(self, row: tuple) -> bool:
        if row in self.rows:
            return False
        self.rows.add(row)
        for positions, index in self._indexes.items():
            index.setdefault(tuple(row[i] for i in positions), []).append(row)
        return True

    def lookup(self, pattern: tuple) -> list[tuple]:
        positions = tuple(i for i, v in enumerate(pattern) if v is not _FREE)
        if not positions:
            return list(self.rows)
        if len(positions) == len(pattern):
            return [pattern] if pattern in self.rows else []
        index = self._indexes.get(positions)
        if index is None:
            index = defaultdict(list)
            for row in self.rows:
                index[tuple(row[i] for i in positions)].append(row)
            self._indexes[positions] = index
        return index.get(tuple(pattern[i] for i in positions), [])


_FREE = object()


def strata(program: Program) -> list[list[Rule]]:
    """Rules grouped so that every predicate a stratum uses (negated or not) is complete before it runs."""
    comp = components(list(program.rules))
    graph = dependency_graph(list(program.rules))
    level: dict[frozenset[str], int] = {}

    def depth(c: frozenset[str], seen: tuple[frozenset[str], ...] = ()) -> int:
        if c in level:
            return level[c]
        members = [p for p, k in comp.items() if k == c]
        d = 0
        for p in members:
            for q, _ in graph.get(p, ()):
                if comp.get(q) is not None and comp[q] != c and comp[q] not in seen:
                    d = max(d, depth(comp[q], seen + (c,)) + 1)
        level[c] = d
        return d

    by_level: dict[int, list[Rule]] = defaultdict(list)
    for rule in program.rules:
        by_level[depth(comp[rule.head.pred])].append(rule)
    return [by_level[k] for k in sorted(by_level)]


class Model:
    """The least model of a stratified program over given facts.

    With a budget the evaluation is strict: an arithmetic step that fails (division by zero, arithmetic on a
    string) raises EvaluationError naming the rule, and so does exceeding the budget (a rule that counts without
    bound never reaches a fixpoint). Without one, failing steps simply derive nothing."""

    def __init__(self, program: Program, facts, budget: Budget | None = None):
        self.relations: dict[str, Relation] = defaultdict(Relation)
        self.budget = budget
        self._rows = 0
        self._start = time.process_time()
        for fact in facts:
            self.relations[fact[0]].add(tuple(fact[1:]))
        for stratum in strata(program):
            self._fixpoint(stratum)

    def _add(self, pred: str, row: tuple, rule: Rule) -> bool:
        if not self.relations[pred].add(row):
            return False
        if self.budget is not None:
            self._rows += 1
            if self._rows > self.budget.max_rows:
                raise EvaluationError(
                    f"the rules derive more than {self.budget.max_rows:,} facts for this question "
                    f"(rule {rule.id} was still deriving {pred} facts): a rule that never stops "
                    "counting?"
                )
            if self._rows % 1000 == 0 and time.process_time() - self._start > self.budget.cpu_seconds:
                raise EvaluationError(
                    f"the rules did not reach a fixpoint within {self.budget.cpu_seconds:g} s of "
                    f"CPU time (rule {rule.id} was deriving {pred} facts)"
                )
        return True

    def _failed_step(self, rule: Rule, lit, error: Exception) -> None:
        if self.budget is not None:
            raise EvaluationError(f"rule {rule.id} cannot be evaluated: {lit} fails ({type(error).__name__}: {error})")

    def holds(self, pred: str, args: tuple) -> bool:
        return tuple(args) in self.relations[pred].rows

    def rows(self, pred: str) -> set[tuple]:
        return self.relations[pred].rows

    def _fixpoint(self, rules: list[Rule]) -> None:
        recursive_preds = {r.head.pred for r in rules}
        delta: dict[str, set[tuple]] = {p: set() for p in recursive_preds}
        for rule in rules:  # first round: every rule over everything known
            for row in self._fire(rule, None, None):
                if self._add(rule.head.pred, row, rule):
                    delta[rule.head.pred].add(row)
        while any(delta.values()):
            new: dict[str, set[tuple]] = {p: set() for p in recursive_preds}
            for rule in rules:
                for i, lit in enumerate(rule.body):
                    if isinstance(lit, Positive) and lit.atom.pred in recursive_preds and delta[lit.atom.pred]:
                        for row in self._fire(rule, i, delta[lit.atom.pred]):
                            if self._add(rule.head.pred, row, rule):
                                new[rule.head.pred].add(row)
            delta = new

    def _fire(self, rule: Rule, delta_at: int | None, delta_rows: set | None):
        frontier: list[dict] = [{}]
        for i, lit in enumerate(rule.body):
            nxt = []
            for b in frontier:
                if isinstance(lit, Positive):
                    pattern = tuple(b.get(t.name, _FREE) if isinstance(t, Var) else t.value for t in lit.atom.args)
                    rows = (
                        [r for r in delta_rows if _matches(r, pattern)]
                        if i == delta_at and delta_rows is not None
                        else self.relations[lit.atom.pred].lookup(pattern)
                    )
                    for row in rows:
                        nb = dict(b)
                        if all(bind(nb, t, v) for t, v in zip(lit.atom.args, row)):
                            nxt.append(nb)
                elif isinstance(lit, Negative):
                    args = tuple(b[t.name] if isinstance(t, Var) else t.value for t in lit.atom.args)
                    if args not in self.relations[lit.atom.pred].rows:
                        nxt.append(b)
                elif isinstance(lit, Assign):
                    try:
                        nxt.append({**b, lit.var.name: evaluate(lit.expr, b)})
                    except (ArithmeticError, TypeError) as e:
                        self._failed_step(rule, lit, e)
                else:
                    try:
                        if COMPARISONS[lit.op](evaluate(lit.left, b), evaluate(lit.right, b)):
                            nxt.append(b)
                    except (ArithmeticError, TypeError) as e:
                        self._failed_step(rule, lit, e)
            frontier = nxt
            if not frontier:
                return
        for b in frontier:
            yield tuple(b[t.name] if isinstance(t, Var) else t.value for t in rule.head.args)


def _matches(row: tuple, pattern: tuple) -> bool:
    return all(p is _FREE or p == v for p, v in zip(pattern, row))
