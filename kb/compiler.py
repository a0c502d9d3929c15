"""Pass 3, compile: checked syntax trees to pyDatalog clauses, through pyDatalog's Python API only.

No rule text ever reaches pyDatalog's text loader, nor Python's exec or eval: each atom becomes a
pyParser.Query, each variable a pyParser.Term, each constant a Term forced to be a constant (pyDatalog would
otherwise read an upper-case string such as "MY", or one with a dot such as "3A090.a", as a variable).
"""

from __future__ import annotations

from pyDatalog import pyParser

from .syntax import Assign, Atom, BinOp, Compare, Const, Negative, Positive, Program, Rule, Var

_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}


def constant(value) -> pyParser.Term:
    if isinstance(value, float):  # pyDatalog would keep it as a 32-bit float: 2e26 becomes 2.0000000046e26
        raise ValueError(f"inexact number {value!r}: give pyDatalog whole numbers only")
    return pyParser.Term(value, forced_type="constant")


def variable(name: str) -> pyParser.Term:
    # prefix so that no rule variable can clash with pyDatalog's own names (_pyD_...)
    return pyParser.Term("V" + name)


def term(t):
    return variable(t.name) if isinstance(t, Var) else constant(t.value)


def expression(e):
    if isinstance(e, BinOp):
        left, right = expression(e.left), expression(e.right)
        if e.op == "+":
            return left + right
        if e.op == "-":
            return left - right
        if e.op == "*":
            return left * right
        return left / right
    return term(e)


def query(atom: Atom) -> pyParser.Query:
    return pyParser.Query(atom.pred, [term(a) for a in atom.args])


def _compare(op: str, left, right):
    if op == "<":
        return left < right
    if op == ">":
        return left > right
    if op == "<=":
        return left <= right
    if op == ">=":
        return left >= right
    if op == "==":
        return left == right
    return left != right


def literal(lit):
    if isinstance(lit, Positive):
        return query(lit.atom)
    if isinstance(lit, Negative):
        return ~query(lit.atom)
    if isinstance(lit, Assign):
        return variable(lit.var.name) == expression(lit.expr)
    assert isinstance(lit, Compare)
    left, right, op = lit.left, lit.right, lit.op
    if isinstance(left, Const):  # pyDatalog needs a bound expression on the left
        left, right, op = right, left, _FLIP[op]
    return _compare(op, expression(left), expression(right))


def compile_rule(rule: Rule) -> None:
    """Add one clause (or fact) to the current thread's pyDatalog logic."""
    head = pyParser.Query(rule.head.pred, [term(a) for a in rule.head.args])
    if not rule.body:
        +head
        return
    body = literal(rule.body[0])
    for lit in rule.body[1:]:
        body = body & literal(lit)
    head <= body


def compile_program(program: Program) -> None:
    """Add every clause of the program to the current thread's logic, and define every predicate it uses."""
    for rule in program.rules:
        compile_rule(rule)
    for pred, arity in used_predicates(program):
        define(pred, arity)


def used_predicates(program: Program) -> set[tuple[str, int]]:
    keys = {d.key for d in program.declarations}
    for rule in program.rules:
        keys.add(rule.head.key)
        keys.update(lit.atom.key for lit in rule.body if isinstance(lit, (Positive, Negative)))
    return keys


_PLACEHOLDER = "__aidkb_undefined__"


def define(pred: str, arity: int) -> None:
    """Make pyDatalog know a predicate that has no facts yet (it raises on undefined predicates)."""
    fact = pyParser.Query(pred, [constant(_PLACEHOLDER)] * arity)
    +fact
    -fact
