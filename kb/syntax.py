"""The abstract syntax of the rule language: what the parser produces and every later pass reads."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Position:
    """Where a piece of rule text starts: file, line and column (1-based)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Var:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Const:
    value: str | int | float

    def __str__(self) -> str:
        return f'"{self.value}"' if isinstance(self.value, str) else repr(self.value)


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Expr
    right: Expr

    def __str__(self) -> str:
        return f"({self.left} {self.op} {self.right})"


Term = Var | Const
Expr = Var | Const | BinOp


def expr_vars(expr: Expr) -> list[str]:
    """Variables of an expression, in order of appearance."""
    if isinstance(expr, Var):
        return [expr.name]
    if isinstance(expr, BinOp):
        return expr_vars(expr.left) + [v for v in expr_vars(expr.right) if v not in expr_vars(expr.left)]
    return []


ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
COMPARISONS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def evaluate(expr: Expr, bindings: dict[str, Any]) -> Any:
    """The value of an expression under variable bindings (KeyError if a variable is unbound)."""
    if isinstance(expr, Var):
        return bindings[expr.name]
    if isinstance(expr, Const):
        return expr.value
    return ARITHMETIC[expr.op](evaluate(expr.left, bindings), evaluate(expr.right, bindings))


def bind(bindings: dict[str, Any], term: Term, value: Any) -> bool:
    """Unify a term with a value, extending the bindings; False if they disagree."""
    if isinstance(term, Const):
        return bool(term.value == value)
    if term.name in bindings:
        return bool(bindings[term.name] == value)
    bindings[term.name] = value
    return True


@dataclass(frozen=True)
class Atom:
    pred: str
    args: tuple[Term, ...]

    @property
    def arity(self) -> int:
        return len(self.args)

    @property
    def key(self) -> tuple[str, int]:
        return (self.pred, len(self.args))

    def vars(self) -> list[str]:
        seen: list[str] = []
        for a in self.args:
            if isinstance(a, Var) and a.name not in seen:
                seen.append(a.name)
        return seen

    def __str__(self) -> str:
        return f"{self.pred}({', '.join(map(str, self.args))})"


@dataclass(frozen=True)
class Positive:
    atom: Atom
    unless: str | None = None
    pos: Position | None = field(default=None, compare=False)

    def vars(self) -> list[str]:
        return self.atom.vars()

    def __str__(self) -> str:
        return str(self.atom)


@dataclass(frozen=True)
class Negative:
    atom: Atom
    unless: str | None = None
    pos: Position | None = field(default=None, compare=False)

    def vars(self) -> list[str]:
        return self.atom.vars()

    def __str__(self) -> str:
        return f"not {self.atom}"


@dataclass(frozen=True)
class Assign:
    var: Var
    expr: Expr
    unless: str | None = None
    pos: Position | None = field(default=None, compare=False)

    def vars(self) -> list[str]:
        return [self.var.name] + [v for v in expr_vars(self.expr) if v != self.var.name]

    def __str__(self) -> str:
        return f"{self.var} = {self.expr}"


@dataclass(frozen=True)
class Compare:
    op: str
    left: Expr
    right: Expr
    unless: str | None = None
    pos: Position | None = field(default=None, compare=False)

    def vars(self) -> list[str]:
        return expr_vars(self.left) + [v for v in expr_vars(self.right) if v not in expr_vars(self.left)]

    def __str__(self) -> str:
        return f"{self.left} {self.op} {self.right}"


Literal = Positive | Negative | Assign | Compare


@dataclass(frozen=True)
class Rule:
    """A clause with its legal metadata. A fact is a rule with an empty body."""

    id: str
    head: Atom
    body: tuple[Literal, ...]
    cites: tuple[str, ...]
    says: str
    grade: str = "S"
    note: str | None = None
    pos: Position | None = field(default=None, compare=False)

    @property
    def file(self) -> str:
        return self.pos.file if self.pos else "?"

    def text(self) -> str:
        """The clause as rule text (without its annotations)."""
        if not self.body:
            return f"{self.head}."
        return f"{self.head} :- " + ", ".join(map(str, self.body)) + "."


@dataclass(frozen=True)
class Declaration:
    """An extensional predicate: `input` facts come from a case, `base` facts from the ontology. `template` says
    one fact; `absent` (after `?`) names what is missing when no fact with the arguments asked for exists."""

    kind: str
    atom: Atom
    template: str
    pos: Position | None = field(default=None, compare=False)
    absent: str | None = None

    @property
    def key(self) -> tuple[str, int]:
        return self.atom.key


@dataclass(frozen=True)
class Program:
    """A checked set of declarations and rules: the rule registry every reader shares."""

    declarations: tuple[Declaration, ...]
    rules: tuple[Rule, ...]
    version: str = ""

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    def rules_for(self, pred: str, arity: int) -> list[Rule]:
        return self._index().get((pred, arity), [])

    def _index(self) -> dict[tuple[str, int], list[Rule]]:
        index: dict[tuple[str, int], list[Rule]] | None = self.__dict__.get("_rules_by_head")
        if index is None:
            index = {}
            for r in self.rules:
                index.setdefault(r.head.key, []).append(r)
            object.__setattr__(self, "_rules_by_head", index)
        return index

    def declaration(self, pred: str, arity: int) -> Declaration | None:
        for d in self.declarations:
            if d.key == (pred, arity):
                return d
        return None
