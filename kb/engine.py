"""The engine: one scenario's pyDatalog database (program + base facts), queried with case facts added.

pyDatalog keeps its database per thread and a `Logic()` copy shares predicate objects with its original,
so isolation is ours: every Engine is built in a fresh `Logic()` and used only by the thread that built it;
case facts are asserted for one question and retracted before the call returns.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from pyDatalog import Logic, pyParser

from .bottomup import Budget, Model
from .compiler import compile_program, constant, used_predicates
from .errors import AidkbError
from .syntax import Program

Fact = tuple  # (predicate, arg1, arg2, ...)

_active = threading.local()


class EngineError(AidkbError):
    """The engine was used wrongly (from another thread, or with an undeclared predicate)."""


class Engine:
    """A compiled program with its base facts, in a pyDatalog logic of its own."""

    def __init__(self, program: Program, base_facts: Iterable[Fact], guard: Budget | None = None):
        """With a guard (rules amended by a reform), every question is first evaluated bottom-up under that
        budget, so that rules which cannot be evaluated or never stop are refused before pyDatalog sees them."""
        base_facts = list(base_facts)
        self.program = program
        self.guard = guard
        self._base = base_facts if guard else []
        self.thread = threading.get_ident()
        self.logic = Logic()  # a fresh, empty logic for this thread
        _active.engine = self
        compile_program(program)
        # every predicate the program names, also one left without rules by a reform that disabled them
        self.arity = dict(used_predicates(program))
        for fact in base_facts:
            self._assert(fact)

    def _activate(self) -> None:
        if threading.get_ident() != self.thread:
            raise EngineError("an Engine is bound to the thread that built it")
        if getattr(_active, "engine", None) is not self:
            Logic(self.logic)
            _active.engine = self

    def _query(self, fact: Fact) -> pyParser.Query:
        pred, args = fact[0], fact[1:]
        if self.arity.get(pred) != len(args):
            raise EngineError(f"{pred}/{len(args)} is not a predicate of the program")
        if any(isinstance(a, float) for a in args):
            raise EngineError(f"{pred}{args}: inexact number; pyDatalog keeps floats in 32 bits, give whole numbers")
        return pyParser.Query(pred, [constant(a) for a in args])

    def _assert(self, fact: Fact) -> None:
        +self._query(fact)

    @contextmanager
    def facts(self, facts: Iterable[Fact]) -> Iterator[Engine]:
        """Add facts for the duration of a with-block; they are retracted afterwards, whatever happens."""
        self._activate()
        facts = list(dict.fromkeys(facts))
        if self.guard is not None:
            Model(self.program, self._base + facts, self.guard)  # raises EvaluationError
        added: list[pyParser.Query] = []
        try:
            for fact in facts:
                q = self._query(fact)
                +q
                added.append(q)
            yield self
        finally:
            for q in added:
                -q

    def ask(self, pred: str, args: tuple) -> list[tuple]:
        """Answers to pred(args), where None marks a free argument: the sorted list of complete argument tuples."""
        self._activate()
        if self.arity.get(pred) != len(args):
            raise EngineError(f"{pred}/{len(args)} is not a predicate of the program")
        terms = [pyParser.Term(f"Q{i}") if a is None else constant(a) for i, a in enumerate(args)]
        try:
            answers = pyParser.Query(pred, terms).lua.ask() or []  # full argument tuples, no temporary clause
        except (ArithmeticError, TypeError) as e:
            raise EngineError(
                f"the rules cannot be evaluated for this question: an arithmetic step fails ({type(e).__name__}: {e})"
            ) from None
        return sorted(set(map(tuple, answers)), key=repr)

    def holds(self, pred: str, args: tuple) -> bool:
        return bool(self.ask(pred, args))
