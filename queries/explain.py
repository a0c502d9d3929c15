"""Why and why not, read off an evaluated scenario: which rules fired for a conclusion, and for a conclusion
that does not hold, the first failing condition of the best partial match.

pyDatalog keeps no provenance, so each rule body is re-walked left to right against the engine's answers:
a positive atom is a query with the bindings so far, a negated atom a check that no answer exists, `=` and
comparisons are evaluated here on the AST (no eval). The walk that gets furthest is the best partial match;
its first failing literal gives the reason, in the rule's own words (`? "..."`), with the values.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol

from aidkb import ontology
from aidkb.kb.syntax import (
    COMPARISONS,
    PLACEHOLDER,
    Assign,
    Atom,
    Compare,
    Const,
    Negative,
    Positive,
    Program,
    Rule,
    Var,
    bind,
    evaluate,
)

from . import proof_model as model

MAX_BINDINGS = 64
MAX_DEPTH = 24
BEGINNING, OPEN_END = 19000101, 99991231  # the sentinel dates of validity "from always" and "until further notice"


def format_value(name: str, value, onto: ontology.Ontology | None = None, is_date: bool = False) -> str:
    """A value as a lawyer reads it: 26,900,000; 2025-05-15; 8.25; 2e+26; Malaysia (MY); a country group, parameter
    or case value by its title in the ontology (ontology/src/terms.ttl); a sentinel date of validity as "the start
    of the record" or "further notice". A typed value (queries/proof_model.py) is
    formatted by its type; an engine value by its name (the renderers not yet on typed nodes)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, model.Open):  # where a declared FromDate or ToDate argument has no bound
        return "the start of the record" if name.startswith("From") else "further notice"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, model.Amount):
        return f"{value.value:,}"
    if isinstance(value, model.Country):
        return f"{value.name} ({value.code})"
    if isinstance(value, model.Share):
        return _decimal(value.value)
    if isinstance(value, int):
        if (is_date or name.endswith("Date") or name.endswith("_date")) and 19000101 <= value <= 99991231:
            if value == BEGINNING:
                return "the start of the record"
            if value == OPEN_END:
                return "further notice"
            return f"{value // 10000:04d}-{value // 100 % 100:02d}-{value % 100:02d}"
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) >= 1e9 else _decimal(Fraction(repr(value)))
    if onto and isinstance(value, str) and value in onto.countries and len(value) == 2:
        return f"{onto.countries[value]} ({value})"
    if onto and isinstance(value, str) and value in onto.terms:  # a group, parameter, case value: its title
        return onto.terms[value].title
    return str(value)


SHOWN_PLACES = 10


def _decimal(x: Fraction) -> str:
    """A computed number (a share in percent) in words: exact when it has at most SHOWN_PLACES decimals ("8.25",
    "7.00000001"), else "about" it to two places, or to more where two would make it look whole: a share just over
    a limit never reads as the limit ("7.00000001", not "7")."""
    if x.denominator == 1:
        return f"{x.numerator:,}"
    exact = next((p for p in range(1, SHOWN_PLACES + 1) if (x * 10**p).denominator == 1), None)
    places = exact or 2
    while exact is None and places < SHOWN_PLACES and round(x, places) == round(x):
        places += 1
    whole, fraction = divmod(int(abs(round(x, places)) * 10**places), 10**places)
    return f"{'' if exact else 'about '}{'-' if x < 0 else ''}{whole:,}.{fraction:0{places}d}"


_ARTICLE = re.compile(r"\b([Aa])n? \{([A-Za-z_][A-Za-z0-9_]*)\}")


_OPEN_CLAUSE = re.compile(r" from \{([A-Za-z_][A-Za-z0-9_]*)\}(?: until \{([A-Za-z_][A-Za-z0-9_]*)\})?")


def _words(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").lower()


def fill(template: str, b: dict, onto: ontology.Ontology | None = None) -> str:
    """The template with each {Var} replaced by its formatted value ("?" if not bound; "any ..." if bound to no
    value, as in the why-not of a fact with an open argument); a parameter whose name ends in _date is shown as a
    date; "a {Var}" takes the article its value needs ("an export")."""
    dated = str(b.get("Name", "")).endswith("_date")

    def value(name: str, after: str) -> str:
        if name not in b:
            return "?"
        if b[name] is None:
            words = _words(name)
            following = after.lstrip().split(" ", 1)[0].lower()
            return "any" if following[:2] == words[:2] else f"any {words}"
        return format_value(name, b[name], onto, dated and name == "Value")

    def article(m: re.Match) -> str:
        text = value(m.group(2), template[m.end() :])
        a = m.group(1) + ("n" if text[:1].lower() in "aeiou" and text[:1] else "")
        return f"{a} {{{m.group(2)}}}"

    def open_clause(m: re.Match) -> str:  # "from {From} until {To}" with neither given says nothing
        names = [n for n in m.groups() if n]
        return "" if all(n in b and b[n] is None for n in names) else m.group(0)

    template = _OPEN_CLAUSE.sub(open_clause, template)
    template = _ARTICLE.sub(article, template)
    return PLACEHOLDER.sub(lambda m: value(m.group(1), template[m.end() :]), template)


@dataclass
class Application:
    """A rule that fired, with one set of bindings under which its whole body holds."""

    rule: Rule
    bindings: dict

    def sentence(self, onto=None) -> str:
        return fill(self.rule.says, self.bindings, onto)


@dataclass
class Failure:
    """Why a goal does not hold: the best partial match and its first failing condition."""

    goal: str
    text: str
    rule: Rule | None = None
    index: int = 0
    bindings: dict = field(default_factory=dict)
    child: Failure | None = None
    blocking: Application | None = None
    # every rule tried: (rule, index, bindings)
    alternatives: list[tuple[Rule, int, dict]] = field(default_factory=list)

    def rules(self) -> list[Rule]:
        out = [self.rule] if self.rule else []
        if self.blocking:
            out.append(self.blocking.rule)
        if self.child:
            out += self.child.rules()
        return out


class Model(Protocol):
    """What the Explainer asks of an evaluated model: aidkb.kb.engine.Engine (pyDatalog),
    aidkb.kb.sqlengine.Answers (SQL) and the checker's bottom-up model all answer it."""

    arity: dict[str, int]

    def ask(self, pred: str, args: tuple) -> list[tuple]: ...


class Explainer:
    """Re-walks rule bodies against one engine, while the case's facts are asserted in it."""

    def __init__(self, engine: Model, program: Program, onto: ontology.Ontology):
        self.engine, self.program, self.onto = engine, program, onto
        self._answers: dict[tuple, list[tuple]] = {}
        self._inputs = {d.atom.pred for d in program.declarations if d.kind == "input"}
        # Where the walk was cut short (MAX_BINDINGS bindings kept at a step, or MAX_DEPTH levels of why-not):
        # the explanation is then partial and says so (a proof's "truncated" list).
        self.truncated: set[str] = set()

    def ask(self, pred: str, args: tuple) -> list[tuple]:
        """The engine's answers, remembered for this question (the facts do not change while it is asked).

        A case's input facts are fetched once per predicate (only the case bound) and later questions about
        them are answered by filtering those rows: fewer round trips to pyDatalog. Derived predicates are
        asked as posed (asking them for every value can be costly, e.g. Tier 2 for every country).
        """
        if pred in self._inputs and args and args[0] is not None and any(a is not None for a in args[1:]):
            rows = self.ask(pred, (args[0],) + (None,) * (len(args) - 1))
            return [r for r in rows if all(a is None or a == v for a, v in zip(args, r))]
        key = (pred, args)
        if key not in self._answers:
            self._answers[key] = self.engine.ask(pred, args)
        return self._answers[key]

    def args(self, atom: Atom, b: dict) -> tuple:
        return tuple(b.get(t.name) if isinstance(t, Var) else t.value for t in atom.args)

    def _step(self, lit, frontier: list[dict]) -> list[dict]:
        out: list[dict] = []
        for k, b in enumerate(frontier):
            if isinstance(lit, Positive):
                for answer in self.ask(lit.atom.pred, self.args(lit.atom, b)):
                    nb = dict(b)
                    if all(bind(nb, t, v) for t, v in zip(lit.atom.args, answer)):
                        out.append(nb)
            elif isinstance(lit, Negative):
                if not self.ask(lit.atom.pred, self.args(lit.atom, b)):
                    out.append(b)
            elif isinstance(lit, Assign):
                try:
                    value = evaluate(lit.expr, b)
                except ZeroDivisionError:
                    continue
                if lit.var.name not in b:
                    out.append({**b, lit.var.name: value})
                elif b[lit.var.name] == value:  # a bound variable: `=` is a test, never an overwrite
                    out.append(b)
            else:
                try:
                    if COMPARISONS[lit.op](evaluate(lit.left, b), evaluate(lit.right, b)):
                        out.append(b)
                except ZeroDivisionError:
                    pass
            if len(out) >= MAX_BINDINGS:
                if k + 1 < len(frontier):
                    self.truncated.add(f"at most {MAX_BINDINGS} ways to meet a condition are followed ({lit})")
                break
        return out

    def _walk(self, rule: Rule, args: tuple) -> tuple[int, list[dict]]:
        """How far the body gets (index of the first failing literal, or len(body)) and the bindings there."""
        head: dict = {}
        if not all(bind(head, t, v) for t, v in zip(rule.head.args, args) if v is not None):
            return -1, []
        frontier = [head]
        for i, lit in enumerate(rule.body):
            nxt = self._step(lit, frontier)
            if not nxt:
                return i, frontier
            frontier = nxt
        return len(rule.body), frontier

    def fired(self, pred: str, args: tuple) -> list[Application]:
        """Every rule for pred that derives pred(args), with the first bindings that make its body hold."""
        out = []
        for rule in self.program.rules_for(pred, len(args)):
            reached, frontier = self._walk(rule, args)
            if reached == len(rule.body):
                out.append(Application(rule, frontier[0]))
        return out

    def why_not(self, pred: str, args: tuple, depth: int = 0) -> Failure:
        goal = f"{pred}({', '.join('_' if a is None else str(a) for a in args)})"
        rules = self.program.rules_for(pred, len(args))
        if not rules:
            decl = self.program.declaration(pred, len(args))
            names = [str(t) for t in decl.atom.args] if decl else []  # a declaration's arguments are variables
            said_of = decl.absent if decl and decl.absent and None in args else decl.template if decl else None
            text = fill(said_of, dict(zip(names, args)), self.onto) if said_of else goal
            said = "the knowledge base does not record that" if decl and decl.kind == "base" else "not given:"
            return Failure(goal, f"{said} {text}")
        best_rule, best_index, best_frontier = None, -2, []
        tried = []
        for rule in rules:
            reached, frontier = self._walk(rule, args)
            if reached == len(rule.body):
                raise ValueError(f"{goal} holds; there is no why-not")
            if reached >= 0:
                tried.append((rule, reached, frontier[0]))
            if reached > best_index:
                best_rule, best_index, best_frontier = rule, reached, frontier
        if best_index < 0 or best_rule is None:
            return Failure(goal, f"no rule can conclude {goal}")
        lit = best_rule.body[best_index]
        b = best_frontier[0]
        failure = Failure(goal, "", best_rule, best_index, b, alternatives=tried)
        if isinstance(lit, Negative):
            blockers = self.fired(lit.atom.pred, self.args(lit.atom, b))
            if blockers:
                failure.blocking = blockers[0]
        if lit.unless:
            failure.text = fill(lit.unless, b, self.onto)
        elif isinstance(lit, Positive) and depth >= MAX_DEPTH:
            self.truncated.add(f"why-not is followed {MAX_DEPTH} levels deep, no deeper")
            failure.text = self.condition_text(lit, b)
        elif isinstance(lit, Positive):
            failure.child = self.why_not(lit.atom.pred, self.args(lit.atom, b), depth + 1)
            failure.text = failure.child.text
        elif isinstance(lit, Negative) and failure.blocking:
            failure.text = failure.blocking.sentence(self.onto)
        else:
            failure.text = self.condition_text(lit, b)
        return failure

    def obstacles(self, pred: str, args: tuple, depth: int = 0, memo: dict | None = None) -> list[tuple]:
        """Every failing condition of every rule that could derive pred(args), as (rule id, condition index,
        condition, reason) in rule order. A body is walked past a failing condition as if it held; conditions
        that use a variable only the failed one would have bound are not judged. A failing condition on a derived
        fact is followed into the rules for that fact (its own obstacles stand for it)."""
        memo = {} if memo is None else memo
        key = (pred, args)
        if key in memo:
            return memo[key]
        memo[key] = []  # a goal met again below itself adds nothing
        out: list[tuple] = []
        for rule in self.program.rules_for(pred, len(args)):
            head: dict = {}
            if not all(bind(head, t, v) for t, v in zip(rule.head.args, args) if v is not None):
                continue
            frontier, unjudged = [head], set[str]()
            for i, lit in enumerate(rule.body):
                if unjudged & set(lit.vars()):
                    unjudged |= {v for v in lit.vars() if v not in frontier[0]}
                    continue
                try:
                    nxt = self._step(lit, frontier)
                except (KeyError, TypeError, ArithmeticError):
                    nxt = None
                if nxt:
                    frontier = nxt
                    continue
                b = frontier[0]
                unjudged |= {v for v in lit.vars() if v not in b}
                if nxt is None:
                    continue
                sub = self.args(lit.atom, b) if isinstance(lit, (Positive, Negative)) else ()
                if (
                    isinstance(lit, Positive)
                    and not lit.unless
                    and depth < MAX_DEPTH
                    and self.program.rules_for(lit.atom.pred, len(sub))
                ):
                    deeper = self.obstacles(lit.atom.pred, sub, depth + 1, memo)
                    if deeper:
                        out += deeper
                        continue
                out.append((rule.id, i, str(lit), self.failing_reason(lit, b)))
        out = list(dict.fromkeys(out))
        memo[key] = out
        return out

    def failing_reason(self, lit, b: dict) -> str:
        """Why a failing condition fails, in the words a reader reads: its own failure text; for a fact the rules
        derive, why that fact does not hold; for a negation, the sentence of the rule that concludes what it
        denies; else the condition with its values."""
        if not lit.unless and isinstance(lit, (Positive, Negative)):
            args = self.args(lit.atom, b)
            if isinstance(lit, Positive):
                return self.why_not(lit.atom.pred, args).text
            blockers = self.fired(lit.atom.pred, args) if None not in args else []
            if blockers:
                return blockers[0].sentence(self.onto)
        return self.condition_text(lit, b)

    def condition_text(self, lit, b: dict) -> str:
        """A failing condition in words: its own failure text, else the condition with the values."""
        if lit.unless:
            return fill(lit.unless, b, self.onto)
        if isinstance(lit, Compare):
            return f"{_show(lit.left, b, self.onto)} {lit.op} {_show(lit.right, b, self.onto)} does not hold"
        if isinstance(lit, (Positive, Negative)):
            shown = (_show(t, b, self.onto) if not isinstance(t, Var) or t.name in b else "_" for t in lit.atom.args)
            atom = f"{lit.atom.pred}({', '.join(shown)})"
            return f"{atom} {'does not hold' if isinstance(lit, Positive) else 'holds'}"
        return f"condition {lit} does not hold"


def _show(expr, b: dict, onto) -> str:
    if isinstance(expr, Var):
        return format_value(expr.name, b[expr.name], onto)
    if isinstance(expr, Const):
        return format_value("", expr.value, onto)
    return f"({_show(expr.left, b, onto)} {expr.op} {_show(expr.right, b, onto)})"
