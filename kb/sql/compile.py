"""Pass 3b, compile to SQL: one SELECT per rule, built as a sqlglot syntax tree (never by pasting strings).

A rule body, read left to right as the checks made it safe, becomes:
- a positive atom: a table in FROM (the first) or an inner JOIN on the variables it shares with what came before
  (a CROSS JOIN if none); constants and repeated variables become conditions;
- a negated atom: NOT EXISTS (SELECT 1 FROM its table WHERE each column equals its bound value): an anti-join;
- a comparison: a WHERE condition;
- an assignment: a computed column, i.e. an expression substituted wherever the variable is used later. An
  assignment that nothing later uses (a share computed only for a rule's texts) is not computed, but a division
  by zero in it still drops the row, as it does in Python;
- the head: the selected columns, each cast to its relation's column type, SELECT DISTINCT.
A predicate's relation is the UNION of its rules' SELECTs. Constants reach SQL only through sqlglot's literals
(quoted and escaped for each dialect); facts reach it only as loaded tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from ..graph import components, dependency_graph
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
from .types import NUMBER, QUOTIENT, TEXT, SqlTypeError, Types

_COMPARE = {"<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE, "==": exp.EQ, "!=": exp.NEQ}
_ARITH = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}
UNIT = "u"  # the one column of a relation of arity 0 (always 1)


class SqlCompileError(Exception):
    """A rule the SQL engine cannot evaluate exactly."""


def column_names(arity: int) -> list[str]:
    return [f"c{i}" for i in range(arity)] or [UNIT]


@dataclass(frozen=True)
class Stratum:
    """Predicates evaluated together: one, or a recursive component (evaluated to a fixpoint)."""

    preds: tuple[str, ...]
    recursive: bool


def strata(program: Program, wanted: set[str] | None = None) -> list[Stratum]:
    """The program's strongly connected components in dependency order (a predicate after everything it uses,
    negated or not), restricted to what `wanted` needs (everything if None)."""
    rules = list(program.rules)
    graph = dependency_graph(rules)
    comp = components(rules)
    needed = set(graph) if wanted is None else _closure(graph, wanted)
    order: list[frozenset[str]] = []
    done: set[frozenset[str]] = set()

    def visit(c: frozenset[str]) -> None:  # iterative post-order over components
        stack = [(c, iter(sorted({q for p in c for q, _ in graph.get(p, ())})))]
        seen = {c}
        while stack:
            node, deps = stack[-1]
            for q in deps:
                qc = comp.get(q)
                if qc is not None and qc != node and qc not in done and qc not in seen and q in graph:
                    seen.add(qc)
                    stack.append((qc, iter(sorted({d for p in qc for d, _ in graph.get(p, ())}))))
                    break
            else:
                stack.pop()
                if node not in done:
                    done.add(node)
                    order.append(node)

    for pred in sorted(needed):
        if pred in graph and comp[pred] not in done:
            visit(comp[pred])
    out = []
    for c in order:
        preds = tuple(sorted(p for p in c if p in needed))
        if not preds:
            continue
        recursive = len(c) > 1 or any(q == preds[0] for q, _ in graph.get(preds[0], ()))
        out.append(Stratum(preds, recursive))
    return out


def _closure(graph: dict, wanted: set[str]) -> set[str]:
    out, todo = set(), list(wanted)
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.add(p)
        todo.extend(q for q, _ in graph.get(p, ()))
    return out


def relation(name: str, alias: str) -> exp.Table:
    """`name AS alias`, built as nodes (sqlglot's to_table and as_ would parse their strings each time)."""
    return exp.Table(this=exp.to_identifier(name), alias=exp.TableAlias(this=exp.to_identifier(alias)))


def named(expression: exp.Expression, name: str) -> exp.Alias:
    return exp.Alias(this=expression, alias=exp.to_identifier(name))


TableFor = Callable[[int, str], str]  # (body position, predicate) -> table name


class RuleCompiler:
    """SELECTs for the rules of one program under one typing; `sql_type` maps TEXT/NUMBER to a dialect's type."""

    def __init__(self, program: Program, types: Types, sql_type: Callable[[str], exp.DataType]):
        self.program, self.types, self.sql_type = program, types, sql_type
        self.index = {r: n for n, r in enumerate(program.rules)}
        self.cache: dict[str, exp.Expression] = {}  # predicate -> its statement (the engine's names are fixed)

    def literal(self, value, kind: str) -> exp.Expression:
        if kind == NUMBER:
            return exp.Cast(this=exp.Literal.number(str(value)), to=self.sql_type(NUMBER))
        return exp.Literal.string(value)

    def select(self, rule: Rule, table_for: TableFor) -> exp.Select:
        n = self.index[rule]
        bound: dict[str, exp.Expression] = {}
        where: list[exp.Expr] = []
        query: exp.Select = exp.select()
        first = True
        quotients: dict[str, Expr] = {}  # variables holding a quotient: never stored, only tested for definedness
        for i, lit in enumerate(rule.body):
            if isinstance(lit, Positive):
                alias = f"a{i}"
                table = relation(table_for(i, lit.atom.pred), alias)
                conds = self._match(lit.atom, alias, bound, bind=True)
                if first:
                    query = query.from_(table, copy=False)
                    where += conds
                    first = False
                else:  # built as nodes: the builder's join() would parse its join type each time
                    join = (
                        exp.Join(this=table, on=exp.and_(*conds, copy=False))
                        if conds
                        else exp.Join(this=table, kind="CROSS")
                    )
                    query.append("joins", join)
            elif isinstance(lit, Negative):
                alias = f"n{i}"
                conds = self._match(lit.atom, alias, bound, bind=False)
                sub = exp.select(exp.Literal.number(1)).from_(relation(table_for(i, lit.atom.pred), alias), copy=False)
                if conds:
                    sub = sub.where(exp.and_(*conds, copy=False), copy=False)
                where.append(exp.Not(this=exp.Exists(this=sub)))
            elif isinstance(lit, Assign):
                where += self.defined(lit.expr, bound, quotients)
                if self.types.variable(n, lit.var.name) == QUOTIENT:
                    quotients[lit.var.name] = lit.expr
                else:
                    bound[lit.var.name] = self.expr(lit.expr, bound)
            else:
                assert isinstance(lit, Compare)
                where += self.defined(lit.left, bound, quotients) + self.defined(lit.right, bound, quotients)
                where.append(_COMPARE[lit.op](this=self.expr(lit.left, bound), expression=self.expr(lit.right, bound)))
        head = rule.head
        names = column_names(head.arity)
        kinds = self.types.columns(head.pred, head.arity)
        if head.arity == 0:
            cols = [named(exp.Literal.number(1), UNIT)]
        else:
            cols = [
                named(exp.Cast(this=self.term(t, bound, kind), to=self.sql_type(kind)), name)
                for t, kind, name in zip(head.args, kinds, names)
            ]
        query = query.select(*cols, copy=False).distinct(copy=False)
        return query.where(exp.and_(*where, copy=False), copy=False) if where else query

    def signature(self, rule: Rule, table_for: TableFor) -> tuple:
        """Everything select(rule, table_for) reads: the rule, the column types of its atoms, the types of its
        assigned variables and the tables it reads. Equal signatures give equal statements, in any program."""
        n = self.index[rule]
        atoms = (rule.head,) + tuple(lit.atom for lit in rule.body if isinstance(lit, (Positive, Negative)))
        return (
            rule,
            tuple(tuple(self.types.columns(a.pred, a.arity)) for a in atoms),
            tuple(self.types.variable(n, lit.var.name) for lit in rule.body if isinstance(lit, Assign)),
            tuple(
                table_for(i, lit.atom.pred) for i, lit in enumerate(rule.body) if isinstance(lit, (Positive, Negative))
            ),
        )

    def term(self, t, bound: dict, kind: str) -> exp.Expression:
        return bound[t.name] if isinstance(t, Var) else self.literal(t.value, kind)

    def _match(self, atom, alias: str, bound: dict, bind: bool) -> list[exp.Expr]:
        conds: list[exp.Expr] = []
        kinds = self.types.columns(atom.pred, atom.arity)
        for j, t in enumerate(atom.args):
            col = exp.column(f"c{j}", alias)
            if isinstance(t, Const):
                conds.append(exp.EQ(this=col, expression=self.literal(t.value, kinds[j])))
            elif t.name in bound:
                conds.append(exp.EQ(this=col, expression=bound[t.name]))
            elif bind:
                bound[t.name] = col
            else:  # the checks make every variable of a negated atom bound before it
                raise SqlCompileError(f"unbound variable {t.name} in 'not {atom}'")
        return conds

    def expr(self, e: Expr, bound: dict) -> exp.Expression:
        if isinstance(e, Var):
            if e.name not in bound:
                raise SqlCompileError(f"{e.name} holds a quotient and is used; the SQL engine keeps numbers exact")
            return bound[e.name]
        if isinstance(e, Const):
            return self.literal(e.value, NUMBER if isinstance(e.value, int) else TEXT)
        if e.op == "/":
            raise SqlCompileError(f"the quotient {e} is used; the SQL engine keeps numbers exact")
        return exp.Paren(this=_ARITH[e.op](this=self.expr(e.left, bound), expression=self.expr(e.right, bound)))

    def defined(self, e: Expr, bound: dict, quotients: dict) -> list[exp.Expr]:
        """Conditions under which evaluating `e` raises no ZeroDivisionError (Python drops such a binding)."""
        if not isinstance(e, BinOp):
            return []
        out = self.defined(e.left, bound, quotients) + self.defined(e.right, bound, quotients)
        if e.op == "/":
            out.append(self.nonzero(e.right, bound, quotients))
        return out

    def nonzero(self, e: Expr, bound: dict, quotients: dict) -> exp.Expr:
        """`e != 0`, exactly, also where `e` holds a quotient (x / y is zero exactly when x is)."""
        if isinstance(e, Var) and e.name in quotients:
            return self.nonzero(quotients[e.name], bound, quotients)
        if isinstance(e, BinOp) and e.op == "/":
            return self.nonzero(e.left, bound, quotients)
        if isinstance(e, BinOp) and e.op == "*":
            return exp.and_(self.nonzero(e.left, bound, quotients), self.nonzero(e.right, bound, quotients))
        if _holds_quotient(e, quotients):
            raise SqlCompileError(f"cannot decide exactly whether {e} is zero (a sum with a quotient)")
        return exp.NEQ(this=self.expr(e, bound), expression=self.literal(0, NUMBER))


def _holds_quotient(e: Expr, quotients: dict) -> bool:
    if isinstance(e, Var):
        return e.name in quotients
    return isinstance(e, BinOp) and (
        e.op == "/" or _holds_quotient(e.left, quotients) or _holds_quotient(e.right, quotients)
    )


def check_types_exact(types: Types, program: Program) -> None:
    """Refuse a typing that would store a quotient in a relation."""
    for rule in program.rules:
        for atom in [rule.head] + [lit.atom for lit in rule.body if isinstance(lit, (Positive, Negative))]:
            for i in range(atom.arity):
                if types.column(atom.pred, i) == QUOTIENT:
                    raise SqlTypeError(
                        f"rule {rule.id}: column {i + 1} of {atom.pred} would hold a quotient; the SQL "
                        f"engine keeps numbers exact"
                    )
