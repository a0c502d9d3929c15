"""Column types for the SQL engine: every column of every relation holds text or exact whole numbers.

The types are inferred, never guessed: the columns of the relations and the variables of each rule are joined
into classes (union-find) wherever a variable occurs in an atom, is assigned or is compared; constants,
arithmetic and the facts give a class its type. A class that gets two types, or a quotient that would have to be
stored (only whole numbers are exact), is an error naming the place. A class with no evidence at all can only
ever be empty (values come from facts, constants or arithmetic), so text is as good as any type for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..syntax import (
    Assign,
    BinOp,
    Compare,
    Const,
    Expr,
    Negative,
    Positive,
    Program,
    Rule,
    Var,
)

TEXT, NUMBER, QUOTIENT = "text", "number", "quotient"
KEY = "key"  # the case key, once the engine names cases by numbers (kb/sqlengine.py)


class SqlTypeError(Exception):
    """A column or variable whose values cannot be given one exact SQL type."""


def value_type(value: object, where: str) -> str:
    """The type of one Python value of a fact or constant (bool and float are refused: they are not exact)."""
    if isinstance(value, bool):
        raise SqlTypeError(f"{where}: {value!r} is a truth value; facts hold text or whole numbers")
    if isinstance(value, int):
        return NUMBER
    if isinstance(value, str):
        return TEXT
    if isinstance(value, float):
        raise SqlTypeError(f"{where}: inexact number {value!r}; give whole numbers")
    raise SqlTypeError(f"{where}: unsupported value {value!r} ({type(value).__name__})")


@dataclass
class _Class:
    type: str | None = None
    why: str = ""


class _Classes:
    """Union-find over slots (('col', pred, i) or ('var', rule index, name)), each class with a type."""

    def __init__(self) -> None:
        self.parent: dict[tuple, tuple] = {}
        self.info: dict[tuple, _Class] = {}

    def find(self, slot: tuple) -> tuple:
        self.parent.setdefault(slot, slot)
        self.info.setdefault(slot, _Class())
        root = slot
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[slot] != root:
            self.parent[slot], slot = root, self.parent[slot]
        return root

    def give(self, slot: tuple, kind: str, why: str) -> None:
        info = self.info[self.find(slot)]
        if info.type is None:
            info.type, info.why = kind, why
        elif info.type != kind:
            raise SqlTypeError(_conflict(info.type, info.why, kind, why))

    def join(self, a: tuple, b: tuple, why: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        ia, ib = self.info[ra], self.info[rb]
        if ia.type and ib.type and ia.type != ib.type:
            raise SqlTypeError(_conflict(ia.type, ia.why, ib.type, f"{ib.why}, joined by {why}"))
        self.parent[rb] = ra
        if ia.type is None:
            ia.type, ia.why = ib.type, ib.why

    def type_of(self, slot: tuple) -> str | None:
        return self.info[self.find(slot)].type


def _conflict(t1: str, why1: str, t2: str, why2: str) -> str:
    if QUOTIENT in (t1, t2):
        return (
            f"a quotient would be stored or joined ({why1 if t1 == QUOTIENT else why2}); the SQL engine keeps "
            f"numbers exact, so a value computed with '/' may only be used in a rule's texts"
        )
    return f"one column holds {t1} ({why1}) and {t2} ({why2})"


class Types:
    """The SQL type of every relation column and rule variable of a program over given fact types."""

    def __init__(self, program: Program, fact_types: dict[tuple[str, int], tuple[str, str]]):
        self.program = program
        self._c = _Classes()
        for (pred, i), (kind, why) in fact_types.items():
            self._c.give(("col", pred, i), kind, why)
        for n, rule in enumerate(program.rules):
            self._rule(n, rule)

    def column(self, pred: str, i: int) -> str:
        """TEXT or NUMBER (a column with no evidence is always empty: TEXT)."""
        return self._c.type_of(("col", pred, i)) or TEXT

    def variable(self, rule_index: int, name: str) -> str:
        return self._c.type_of(("var", rule_index, name)) or TEXT

    def columns(self, pred: str, arity: int) -> list[str]:
        return [self.column(pred, i) for i in range(arity)]

    def _rule(self, n: int, rule: Rule) -> None:
        where = f"rule {rule.id} ({rule.pos or rule.file})"
        self._atom(n, rule.head, f"the head of {where}")
        for lit in rule.body:
            at = f"'{lit}' in {where}"
            if isinstance(lit, (Positive, Negative)):
                self._atom(n, lit.atom, at)
            elif isinstance(lit, Assign):
                self._expr_into(n, lit.expr, ("var", n, lit.var.name), at)
            elif isinstance(lit, Compare):
                self._compare(n, lit, at)

    def _atom(self, n: int, atom, where: str) -> None:
        for i, term in enumerate(atom.args):
            slot = ("col", atom.pred, i)
            if isinstance(term, Var):
                self._c.join(("var", n, term.name), slot, where)
            else:
                self._c.give(slot, value_type(term.value, where), f"the constant {term} in {where}")

    def _expr_type(self, n: int, expr: Expr, where: str) -> tuple | str:
        """A slot (for a variable) or a type (for a constant or arithmetic)."""
        if isinstance(expr, Var):
            return ("var", n, expr.name)
        if isinstance(expr, Const):
            return value_type(expr.value, where)
        for side in (expr.left, expr.right):
            t = self._expr_type(n, side, where)
            if isinstance(t, tuple):
                self._c.give(t, NUMBER, f"arithmetic in {where}")
            elif t == TEXT:
                raise SqlTypeError(f"{where}: arithmetic on text")
        if expr.op == "/" or any(self._is_quotient(n, side) for side in (expr.left, expr.right)):
            return QUOTIENT
        return NUMBER

    def _is_quotient(self, n: int, expr: Expr) -> bool:
        if isinstance(expr, Var):
            return self._c.type_of(("var", n, expr.name)) == QUOTIENT
        return isinstance(expr, BinOp) and (
            expr.op == "/" or self._is_quotient(n, expr.left) or self._is_quotient(n, expr.right)
        )

    def _expr_into(self, n: int, expr: Expr, slot: tuple, where: str) -> None:
        t = self._expr_type(n, expr, where)
        if isinstance(t, tuple):
            self._c.join(slot, t, where)
        else:
            self._c.give(slot, t, f"the value of {where}")

    def _compare(self, n: int, lit: Compare, where: str) -> None:
        left, right = self._expr_type(n, lit.left, where), self._expr_type(n, lit.right, where)
        if isinstance(left, tuple) and isinstance(right, tuple):
            self._c.join(left, right, where)
        elif isinstance(left, tuple) and isinstance(right, str):
            self._c.give(left, right, f"the comparison {where}")
        elif isinstance(right, tuple) and isinstance(left, str):
            self._c.give(right, left, f"the comparison {where}")
        elif left != right:
            raise SqlTypeError(f"{where}: compares {left} with {right}")
