"""datalog-conformance programs through the project's own rule pipeline.

A suite program (facts + rule strings) is translated into the project's syntax trees (aidkb.kb.syntax), rewritten by
aidkb.kb.rewrite.rewrite_recursion, checked by aidkb.kb.checks.check, compiled to pyDatalog by aidkb.kb.compiler in a fresh
aidkb.kb.engine.Engine, and the relations the suite asks for are read back with Engine.ask.

The suite's rule syntax differs from the project's rule language, hence this translator instead of aidkb.kb.parser:
- an identifier followed by "(" is a predicate (any case: `Fib`, `edge`, `T (x, y)`); every other bare identifier
  is a variable, even a lower-case one (`n`, `x1`); `_` is an anonymous variable, a fresh one at each place;
- constants are quoted strings or numbers; facts are YAML scalars;
- arguments may be arithmetic (`A(a, b, a+b)`, `Fib(n - 1, x)`), comparisons may be parenthesised
  (`(n <= 25)`), negation is `not` (or `!`), the final "." is optional.

Every suite rule and fact becomes an aidkb.kb.syntax.Rule with synthesized metadata (id `suite_rule_<n>` or
`suite_fact_<n>`, cite "datalog-conformance", says "suite rule"/"suite fact"). Facts are fact rules (not base
declarations) so that aidkb.kb.checks sees them: an arity clash between two facts is the project's arity error. A
predicate that the program uses but neither defines nor gives facts is an empty relation in the suite's
semantics; it becomes a `base` declaration without facts.

Rejections: aidkb.kb.checks raises aidkb.kb.parser.RuleError; the adapter finds which check rejected the program (by running
the checks one by one, in check()'s order) and raises a SuiteRejection subclass carrying the suite's error code
(see ERROR_CODES). The runner accepts an exception whose class name or `.code` equals the expected error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aidkb.kb import checks
from aidkb.kb.engine import Engine
from aidkb.kb.parser import RuleError
from aidkb.kb.rewrite import rewrite_recursion
from aidkb.kb.syntax import Assign, Atom, BinOp, Compare, Const, Declaration, Negative, Positive, Program, Rule, Var

CITE = "datalog-conformance"


# --- rejections ----------------------------------------------------------------------------------------------


class SuiteRejection(Exception):
    """The project's checks rejected a suite program; `code` is the suite's name for the error."""

    code = "rejected"

    def __init__(self, message: str, code: str | None = None, check: str = ""):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.check = check


class SyntaxRejection(SuiteRejection):
    code = "syntax_error"


class ArityMismatchError(SuiteRejection):
    code = "arity_mismatch"


class SafetyViolationError(SuiteRejection):
    code = "unbound_variable"


class CyclicNegationError(SuiteRejection):
    code = "cyclic_negation"


class UnknownPredicateError(SuiteRejection):
    code = "unknown_predicate"


class DuplicateError(SuiteRejection):
    code = "duplicate_definition"


class InexactNumberError(SuiteRejection):
    code = "inexact_number"


class UnsupportedRecursionError(SuiteRejection):
    code = "unsupported_recursion"


REJECTIONS = {
    cls.__name__: cls
    for cls in (
        SuiteRejection,
        SyntaxRejection,
        ArityMismatchError,
        SafetyViolationError,
        CyclicNegationError,
        UnknownPredicateError,
        DuplicateError,
        InexactNumberError,
        UnsupportedRecursionError,
    )
}

# which aidkb.kb.checks function rejected the program -> the exception (class name and default code) the suite sees.
# The suite names the same mistake differently depending on where a case was harvested from: an unbound head
# or body variable is `unbound_variable` (scaffold, crepe) and `SafetyViolationError` (gunray, matched by class
# name); crepe calls an anonymous `_` in a rule head `safety_violations` (see _safety_code).
ERROR_CODES = {
    "check_ids": DuplicateError,
    "check_arity": ArityMismatchError,
    "check_defined": UnknownPredicateError,
    "check_safety": SafetyViolationError,
    "check_exact": InexactNumberError,
    "check_stratified": CyclicNegationError,
    "check_recursion_first": UnsupportedRecursionError,
}


# --- the suite's rule syntax ---------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>:-|<=|>=|==|!=|<|>|=|\+|-|\*|/|\(|\)|,|\.|!)
""",
    re.VERBOSE,
)

_COMPARATORS = {"<", ">", "<=", ">=", "==", "!=", "="}


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise SyntaxRejection(f"unexpected character {text[pos]!r} at column {pos + 1} in {text!r}")
        pos = m.end()
        if m.lastgroup != "ws":
            tokens.append((m.lastgroup, m.group()))
    return tokens + [("end", "")]


@dataclass
class _RawAtom:
    pred: str
    args: list  # expressions


class _Parser:
    """Recursive descent over one suite rule: head [":-" literal ("," literal)*] ["."]."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.anonymous = 0

    def peek(self, k: int = 0) -> tuple[str, str]:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        tkind, tvalue = self.peek()
        if (value is not None and tvalue != value) or (kind is not None and tkind != kind):
            raise SyntaxRejection(f"expected {value or kind}, found {tvalue or 'end of rule'!r} in {self.text!r}")
        self.i += 1
        return tvalue

    def rule(self):
        head = self.atom()
        body = []
        if self.peek()[1] == ":-":
            self.take(":-")
            body.append(self.literal())
            while self.peek()[1] == ",":
                self.take(",")
                body.append(self.literal())
        if self.peek()[1] == ".":
            self.take(".")
        self.take(kind="end")
        return head, body

    def atom(self) -> _RawAtom:
        pred = self.take(kind="name")
        self.take("(")
        args = []
        if self.peek()[1] != ")":
            args.append(self.expr())
            while self.peek()[1] == ",":
                self.take(",")
                args.append(self.expr())
        self.take(")")
        return _RawAtom(pred, args)

    def literal(self):
        kind, value = self.peek()
        if value in ("not", "!") and self.peek(1)[0] == "name" and self.peek(2)[1] == "(":
            self.take()
            return ("negative", self.atom())
        if kind == "name" and self.peek(1)[1] == "(":
            return ("positive", self.atom())
        if value == "(":  # a parenthesised comparison: (n <= 25)
            start = self.i
            try:
                self.take("(")
                lit = self.comparison()
                self.take(")")
                return lit
            except SyntaxRejection:
                self.i = start
        return self.comparison()

    def comparison(self):
        left = self.expr()
        op = self.take()
        if op not in _COMPARATORS:
            raise SyntaxRejection(f"expected a comparison, found {op!r} in {self.text!r}")
        return ("compare", "==" if op == "=" else op, left, self.expr())

    def expr(self):
        left = self.product()
        while self.peek()[1] in ("+", "-"):
            op = self.take()
            left = BinOp(op, left, self.product())
        return left

    def product(self):
        left = self.factor()
        while self.peek()[1] in ("*", "/"):
            op = self.take()
            left = BinOp(op, left, self.factor())
        return left

    def factor(self):
        kind, value = self.peek()
        if value == "(":
            self.take("(")
            inner = self.expr()
            self.take(")")
            return inner
        if value == "-":  # unary minus
            self.take("-")
            operand = self.factor()
            if isinstance(operand, Const) and not isinstance(operand.value, str):
                return Const(-operand.value)
            return BinOp("-", Const(0), operand)
        self.i += 1
        if kind == "number":
            return Const(float(value) if any(c in value for c in ".eE") else int(value))
        if kind == "string":
            return Const(bytes(value[1:-1], "utf-8").decode("unicode_escape"))
        if kind == "name":
            if value == "_":
                self.anonymous += 1
                return Var(f"_{self.anonymous}")
            return Var(value)
        raise SyntaxRejection(f"unexpected {value or 'end of rule'!r} in {self.text!r}")


def translate_rule(text: str, number: int) -> list[Rule]:
    """One suite rule string -> aidkb.kb.syntax.Rules: the rule, plus one projection rule for each negated atom with an
    anonymous variable.

    The suite's bodies are unordered; the project's are read left to right. So positive atoms come first (in
    their order), then comparisons and negations (in theirs), then the assignments that compute arithmetic head
    arguments. A body argument that is arithmetic (`Fib(n - 1, x)`) becomes a fresh variable tested right after
    the atom (`Fib(_B1, x), _B1 == n - 1`). `not p(X, _)` means "no p(X, anything)" (Souffle's reading), so it
    becomes `not p_proj1(X)` with `p_proj1(X) :- p(X, _)`; a *named* variable that occurs only in a negated
    atom stays as it is, and the project's safety check rejects it.
    """
    head, raw_body = _Parser(text).rule()
    rule_id = f"suite_rule_{number}"
    fresh = iter(range(1, 10_000))
    positives: list = []
    others: list = []
    extra: list[Rule] = []
    for item in raw_body:
        if item[0] == "compare":
            others.append(Compare(item[1], item[2], item[3]))
            continue
        atom, after = _flatten(item[1], fresh, "B")
        if item[0] == "positive":
            positives.append(Positive(atom))
        else:
            if any(_anonymous(a) for a in atom.args):
                named = tuple(dict.fromkeys(a for a in atom.args if isinstance(a, Var) and not _anonymous(a)))
                helper = Atom(f"{atom.pred}_proj{len(extra) + 1}_{number}", named)
                extra.append(
                    Rule(
                        f"{rule_id}_proj{len(extra) + 1}",
                        helper,
                        (Positive(atom),),
                        (CITE,),
                        "suite rule (projection of a negated atom)",
                    )
                )
                atom = helper
            others.append(Negative(atom))
        others.extend(Compare("==", var, expr) for var, expr in after)
    head_atom, computed = _flatten(head, fresh, "H")
    body = positives + others + [Assign(var, expr) for var, expr in computed]
    return [Rule(rule_id, head_atom, tuple(body), (CITE,), "suite rule"), *extra]


def _anonymous(term) -> bool:
    return isinstance(term, Var) and term.name.startswith("_") and term.name[1:].isdigit()


def _flatten(raw: _RawAtom, fresh, prefix: str) -> tuple[Atom, list[tuple[Var, object]]]:
    """Arithmetic arguments are replaced by fresh variables, returned with the expression each stands for."""
    args, computed = [], []
    for arg in raw.args:
        if isinstance(arg, BinOp):
            var = Var(f"_{prefix}{next(fresh)}")
            args.append(var)
            computed.append((var, arg))
        else:
            args.append(arg)
    return Atom(raw.pred, tuple(args)), computed


def translate(program) -> list:
    """A datalog_conformance Program -> the project's statements (declarations and rules)."""
    rules: list[Rule] = []
    n = 0
    for pred, rows in program.facts.items():
        for row in rows:
            n += 1
            rules.append(Rule(f"suite_fact_{n}", Atom(pred, tuple(Const(v) for v in row)), (), (CITE,), "suite fact"))
    for i, text in enumerate(program.rules, 1):
        rules.extend(translate_rule(text, i))
    defined = {r.head.pred for r in rules}
    declarations: dict[str, Declaration] = {}
    for rule in rules:
        for lit in rule.body:
            if (
                isinstance(lit, (Positive, Negative))
                and lit.atom.pred not in defined
                and lit.atom.pred not in declarations
            ):
                args = tuple(Var(f"A{k}") for k in range(lit.atom.arity))
                declarations[lit.atom.pred] = Declaration("base", Atom(lit.atom.pred, args), "suite relation")
    return [*declarations.values(), *rules]


# --- checking, evaluation ------------------------------------------------------------------------------------


def check_statements(statements: list) -> Program:
    """rewrite_recursion, then aidkb.kb.checks.check; a RuleError becomes the SuiteRejection the suite expects."""
    declarations = [s for s in statements if isinstance(s, Declaration)]
    rules = [s for s in statements if isinstance(s, Rule)]
    rules = rewrite_recursion(rules)
    try:
        return checks.check([*declarations, *rules], "datalog-conformance")
    except RuleError as error:
        raise classify(error, declarations, rules) from error


def classify(error: RuleError, declarations: list, rules: list) -> SuiteRejection:
    """Which check rejected the program (re-run one by one, in check()'s order) -> the suite's error."""

    def per_rule():  # check() runs check_safety then check_exact on each rule in turn
        for r in rules:
            try:
                checks.check_safety(r)
            except RuleError:
                raise RuleError("check_safety") from None
            if hasattr(checks, "check_exact"):
                checks.check_exact(r)

    steps = [
        ("check_ids", lambda: checks.check_ids(declarations, rules)),
        ("check_arity", lambda: checks.check_arity(declarations, rules)),
        ("check_defined", lambda: checks.check_defined(declarations, rules, checks.check_arity(declarations, rules))),
        ("check_exact", per_rule),  # a RuleError("check_safety") from it means check_safety
        ("check_stratified", lambda: checks.check_stratified(rules)),
        ("check_recursion_first", lambda: checks.check_recursion_first(rules)),
    ]
    for name, step in steps:
        try:
            step()
        except RuleError as found:
            if str(found) == "check_safety":
                name = "check_safety"
            cls = ERROR_CODES[name]
            code = _safety_code(rules) if cls is SafetyViolationError else None
            return cls(str(error), code, name)
    return SuiteRejection(str(error), None, "check")


def _safety_code(rules: list[Rule]) -> str:
    """crepe's `safety_violations`: an anonymous variable in a rule head; any other unbound variable is
    `unbound_variable`."""
    for rule in rules:
        try:
            checks.check_safety(rule)
        except RuleError:
            if any(_anonymous(a) for a in rule.head.args):
                return "safety_violations"
            return "unbound_variable"
    return "unbound_variable"


def load_program(program) -> Engine:
    """translate -> rewrite_recursion -> aidkb.kb.checks.check -> aidkb.kb.compiler (in a fresh aidkb.kb.engine.Engine)."""
    return Engine(check_statements(translate(program)), [])


def query_relations(engine: Engine, wanted=None) -> dict[str, set[tuple]]:
    """Every tuple of each wanted relation (all the program's relations if None); an unknown one is empty."""
    arities = dict(engine.arity)
    result: dict[str, set[tuple]] = {}
    for pred in wanted if wanted is not None else sorted(arities):
        result[pred] = set(engine.ask(pred, (None,) * arities[pred])) if pred in arities else set()
    return result


def evaluate_program(program, wanted=None) -> dict[str, set[tuple]]:
    """The relations of a suite program, computed by the project pipeline (all defined ones unless `wanted`)."""
    return query_relations(load_program(program), wanted)


class ProjectEvaluator:
    """datalog-conformance's DatalogEvaluator protocol, in-process (the test runs it in a subprocess)."""

    def __init__(self, wanted=None):
        self.wanted = wanted

    def evaluate(self, program) -> dict[str, set[tuple]]:
        return evaluate_program(program, self.wanted)


__all__ = [
    "ProjectEvaluator",
    "SuiteRejection",
    "REJECTIONS",
    "evaluate_program",
    "load_program",
    "query_relations",
    "translate",
    "translate_rule",
    "check_statements",
]
