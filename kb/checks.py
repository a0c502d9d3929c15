"""Pass 2, check: reject rule sets pyDatalog would silently get wrong (or hang on) before it sees them.

Checks, each raising RuleError at the offending place:
- ids: every rule id is unique; declarations are not repeated, and their texts name only their arguments;
- arity: a predicate is used with one arity everywhere;
- unknown predicates: every body predicate is declared (input/base) or defined by a clause;
- inputs: declared predicates are not also defined by clauses;
- safety, read left to right: a negated atom, a comparison or the right side of `=` only uses variables
  bound by earlier positive atoms or assignments; `=` binds a fresh variable; the head's variables are bound;
- templates: the placeholders of @says and `? "..."` name variables bound at that point;
- stratification: no predicate depends on itself through negation;
- exact numbers: no fractional constants, no comparison of a value computed by division (pyDatalog keeps
  floats in 32 bits);
- recursion: after aidkb.kb.rewrite.rewrite_recursion (which moves the recursive atom first and linearizes transitive
  rules), a recursive atom must come first in its body (left recursion), because right recursion over
  cyclic data never returns in pyDatalog (shared/engine-notes.md).
- domains (`domain_errors`, given the names the law's data declares): a constant that names a country group,
  a case flag, a route, a mode or an item must be one of them ("D6" for "D5" is an error at its position).
`check` raises the first error; `check_all` reports every one (`aidkb rules`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet

from .graph import components
from .parser import RuleError
from .rewrite import rewrite_recursion
from .syntax import (
    PLACEHOLDER,
    Assign,
    BinOp,
    Compare,
    Const,
    Declaration,
    Negative,
    Positive,
    Program,
    Rule,
    expr_vars,
)


def check(statements: list, version: str = "", may_be_empty: AbstractSet[str] = frozenset()) -> Program:
    """Run every check and return the Program, or raise the first RuleError found. `may_be_empty` names derived
    predicates that may be left without rules (a reform that disables the only rule for one)."""
    declarations = [s for s in statements if isinstance(s, Declaration)]
    rules = [s for s in statements if isinstance(s, Rule)]
    check_ids(declarations, rules)
    arities = check_arity(declarations, rules)
    check_defined(declarations, rules, arities, may_be_empty)
    for rule in rules:
        check_safety(rule)
        check_exact(rule)
    check_stratified(rules)
    rewritten = rewrite_recursion(rules)  # recursive atom first, transitive rules linearized (kb/rewrite.py)
    unchanged = {id(rule) for rule in rules}
    for rule in rewritten:
        if id(rule) not in unchanged:
            check_safety(rule)  # a reordered body must still bind every variable before it is read
    rules = rewritten
    check_recursion_first(rules)
    return Program(tuple(declarations), tuple(rules), version)


def check_all(
    statements: list,
    domains: Mapping[str, AbstractSet[str]] | None = None,
    may_be_empty: AbstractSet[str] = frozenset(),
) -> list[RuleError]:
    """Every error the checks find, not only the first: each check once over the whole rule set, and each rule's
    own checks for every rule; then the constants against the domains, when given."""
    errors: list[RuleError] = []

    def attempt(f: Callable, *args):
        try:
            return f(*args)
        except RuleError as e:
            errors.append(e)
            return None

    declarations = [s for s in statements if isinstance(s, Declaration)]
    rules = [s for s in statements if isinstance(s, Rule)]
    attempt(check_ids, declarations, rules)
    arities = attempt(check_arity, declarations, rules)
    if arities is not None:
        attempt(check_defined, declarations, rules, arities, may_be_empty)
    for rule in rules:
        attempt(check_safety, rule)
        attempt(check_exact, rule)
    attempt(check_stratified, rules)
    if not errors:  # the rewrite assumes rules that pass the checks above
        rewritten = attempt(rewrite_recursion, rules)
        if rewritten is not None:
            attempt(check_recursion_first, rewritten)
    if domains is not None:
        errors += domain_errors(rules, domains)
    return errors


def problems_in(paths: list, root=None, domains: Mapping[str, AbstractSet[str]] | None = None) -> list[RuleError]:
    """Every error in a set of rule files: each file's syntax errors (a file that does not parse is left out of
    the checks that follow), then every error of check_all."""
    from .parser import parse_files

    statements: list = []
    errors: list[RuleError] = []
    for path in paths:
        try:
            statements += parse_files([path], root)
        except RuleError as e:
            errors.append(e)
    return errors + check_all(statements, domains)


# The arguments of input and base facts whose constants name something the law's data declares, by kind; the
# kinds follow a variable into the heads of the rules that pass it on (listed(C, Country, Group) names a group).
DOMAIN_ARGUMENTS = {
    ("group_member", 1): "group",
    ("flag", 1): "flag",
    ("mode", 1): "mode",
    ("item", 1): "item",
    ("item_class", 0): "item",
    ("item_kind", 0): "item",
    ("item_level", 0): "item",
    ("item_exception", 0): "item",
    ("item_read_as", 0): "item",
    ("item_exception", 1): "route",
    ("authorization", 0): "route",
    ("veu", 1): "route",
}


def domain_kinds(rules: list[Rule]) -> dict[tuple[str, int], str]:
    """The kind of every argument position that carries a declared kind, derived predicates included."""
    kinds = dict(DOMAIN_ARGUMENTS)
    changed = True
    while changed:
        changed = False
        for rule in rules:
            of_var: dict[str, str] = {}
            for lit in rule.body:
                if isinstance(lit, (Positive, Negative)):
                    for i, a in enumerate(lit.atom.args):
                        if hasattr(a, "name") and (lit.atom.pred, i) in kinds:
                            of_var.setdefault(a.name, kinds[(lit.atom.pred, i)])
            for i, a in enumerate(rule.head.args):
                key = (rule.head.pred, i)
                if hasattr(a, "name") and a.name in of_var and key not in kinds:
                    kinds[key] = of_var[a.name]
                    changed = True
    return kinds


def domain_errors(
    rules: list[Rule], domains: Mapping[str, AbstractSet[str]], checked: list[Rule] | None = None
) -> list[RuleError]:
    """Each constant in a rule body at an argument of a declared kind that is not a name of that kind (nor one
    that a rule's head gives, as a rule that adds a route does); `checked`: only these of the rules (a reform's)."""
    kinds = domain_kinds(rules)
    given: dict[tuple[str, int], set] = {}
    for rule in rules:
        for i, a in enumerate(rule.head.args):
            if isinstance(a, Const):
                given.setdefault((rule.head.pred, i), set()).add(a.value)
    errors = []
    for rule in rules if checked is None else checked:
        for lit in rule.body:
            if not isinstance(lit, (Positive, Negative)):
                continue
            for i, a in enumerate(lit.atom.args):
                kind = kinds.get((lit.atom.pred, i))
                if not isinstance(a, Const) or kind is None or kind not in domains:
                    continue
                names = domains[kind]
                if a.value not in names and a.value not in given.get((lit.atom.pred, i), set()):
                    near = difflib.get_close_matches(str(a.value), sorted(map(str, names)), n=1, cutoff=0.5)
                    hint = f" (did you mean {near[0]!r}?)" if near else ""
                    errors.append(
                        RuleError(
                            f"rule {rule.id}: {a} in {lit.atom.pred}(...) is not "
                            f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} the knowledge base "
                            f"declares{hint}",
                            lit.pos or rule.pos,
                        )
                    )
    return errors


def check_ids(declarations: list[Declaration], rules: list[Rule]) -> None:
    seen: dict[str, Rule] = {}
    for rule in rules:
        if rule.id in seen:
            raise RuleError(f"rule id {rule.id!r} is already used at {seen[rule.id].pos}", rule.pos)
        seen[rule.id] = rule
    declared: dict[str, Declaration] = {}
    for d in declarations:
        if d.atom.pred in declared:
            raise RuleError(f"predicate {d.atom.pred} is declared twice (first at {declared[d.atom.pred].pos})", d.pos)
        if any(not hasattr(a, "name") for a in d.atom.args):
            raise RuleError(f"declaration of {d.atom.pred} must name its arguments with variables", d.pos)
        names = {str(a) for a in d.atom.args}  # variables, checked just above
        for text in (d.template, d.absent or ""):
            if unknown := sorted(_placeholders(text) - names):
                raise RuleError(f"the text of {d.atom.pred} names {', '.join(unknown)}, not among its arguments", d.pos)
        declared[d.atom.pred] = d


def _atoms(rule: Rule):
    yield rule.head, rule.pos
    for lit in rule.body:
        if isinstance(lit, (Positive, Negative)):
            yield lit.atom, lit.pos or rule.pos


def check_arity(declarations: list[Declaration], rules: list[Rule]) -> dict[str, int]:
    arity: dict[str, tuple[int, object]] = {}
    for d in declarations:
        arity[d.atom.pred] = (d.atom.arity, d.pos)
    for rule in rules:
        for atom, pos in _atoms(rule):
            if atom.pred in arity and arity[atom.pred][0] != atom.arity:
                n, where = arity[atom.pred]
                raise RuleError(f"{atom.pred} is used with {atom.arity} arguments here but with {n} at {where}", pos)
            arity.setdefault(atom.pred, (atom.arity, pos))
    return {p: n for p, (n, _) in arity.items()}


def check_defined(
    declarations: list[Declaration],
    rules: list[Rule],
    arities: dict[str, int],
    may_be_empty: AbstractSet[str] = frozenset(),
) -> None:
    declared = {d.atom.pred: d for d in declarations}
    defined = {r.head.pred for r in rules} | set(may_be_empty)
    for rule in rules:
        if rule.head.pred in declared:
            raise RuleError(
                f"{rule.head.pred} is declared as {declared[rule.head.pred].kind} data and cannot be defined by a rule",
                rule.pos,
            )
        for atom, pos in _atoms(rule):
            if atom.pred not in declared and atom.pred not in defined:
                raise RuleError(
                    f"unknown predicate {atom.pred}/{atom.arity}: not declared and not defined by any rule", pos
                )


def _placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def _has_division(expr) -> bool:
    return isinstance(expr, BinOp) and (expr.op == "/" or _has_division(expr.left) or _has_division(expr.right))


def _float_constants(expr) -> list[float]:
    if isinstance(expr, Const):
        return [expr.value] if isinstance(expr.value, float) else []
    if isinstance(expr, BinOp):
        return _float_constants(expr.left) + _float_constants(expr.right)
    return []


def check_exact(rule: Rule) -> None:
    """pyDatalog keeps floats as 32-bit floats (0.07 becomes 0.0700000003), so legal numbers must be exact:
    no fractional constants, and no comparison may use a value computed by division."""
    inexact: set[str] = set()
    for lit in rule.body:
        where = lit.pos or rule.pos
        exprs = (
            [lit.expr]
            if isinstance(lit, Assign)
            else [lit.left, lit.right]
            if isinstance(lit, Compare)
            else list(lit.atom.args)
        )
        for expr in exprs:
            for value in _float_constants(expr):
                raise RuleError(
                    f"fractional constant {value} would lose precision in pyDatalog (32-bit floats); "
                    f"scale it to a whole number (e.g. percent x 100)",
                    where,
                )
        if isinstance(lit, Assign) and (_has_division(lit.expr) or set(expr_vars(lit.expr)) & inexact):
            inexact.add(lit.var.name)
        if isinstance(lit, Compare) and (
            _has_division(lit.left) or _has_division(lit.right) or set(lit.vars()) & inexact
        ):
            raise RuleError(
                f"'{lit}' compares a value computed by division, which pyDatalog rounds to a 32-bit "
                f"float; compare by cross-multiplication instead",
                where,
            )


def check_safety(rule: Rule) -> None:
    bound: set[str] = set()
    for lit in rule.body:
        where = lit.pos or rule.pos
        if isinstance(lit, Positive):
            if lit.unless:
                _check_template(lit.unless, bound, where, "the failure text of a positive atom")
            bound.update(lit.vars())
            continue
        if isinstance(lit, Negative):
            free = [v for v in lit.vars() if v not in bound]
            if free:
                raise RuleError(
                    f"unsafe negation: variable {free[0]} in 'not {lit.atom}' is not bound by an earlier positive atom",
                    where,
                )
        elif isinstance(lit, Compare):
            free = [v for v in lit.vars() if v not in bound]
            if free:
                raise RuleError(
                    f"unsafe comparison: variable {free[0]} in '{lit}' is not bound by an earlier positive atom", where
                )
        elif isinstance(lit, Assign):
            free = [v for v in expr_vars(lit.expr) if v not in bound]
            if free:
                raise RuleError(
                    f"unsafe assignment: variable {free[0]} in '{lit}' is not bound by an earlier positive atom", where
                )
            if lit.var.name in bound:
                raise RuleError(
                    f"'{lit}' assigns {lit.var.name}, which is already bound; compare with == instead", where
                )
            bound.add(lit.var.name)
        if lit.unless:
            _check_template(lit.unless, bound, where, "the failure text")
    free = [v for v in rule.head.vars() if v not in bound]
    if free:
        kind = "fact" if not rule.body else "rule"
        raise RuleError(
            f"unsafe {kind} {rule.id}: head variable {free[0]} is not bound by a positive atom of the body", rule.pos
        )
    _check_template(rule.says, bound, rule.pos, "@says")


def _check_template(text: str, bound: set[str], where, what: str) -> None:
    unknown = sorted(_placeholders(text) - bound)
    if unknown:
        raise RuleError(f"{what} uses {{{unknown[0]}}}, which is not a variable bound at that point", where)


def check_stratified(rules: list[Rule]) -> None:
    comp = components(rules)
    for rule in rules:
        for lit in rule.body:
            if isinstance(lit, Negative) and comp.get(lit.atom.pred) == comp.get(rule.head.pred):
                raise RuleError(
                    f"negation through recursion: {rule.head.pred} depends on 'not {lit.atom.pred}' "
                    f"which depends on {rule.head.pred} again (the rules are not stratifiable)",
                    lit.pos or rule.pos,
                )


def check_recursion_first(rules: list[Rule]) -> None:
    comp = components(rules)
    for rule in rules:
        head_comp = comp.get(rule.head.pred)
        positives = [lit for lit in rule.body if isinstance(lit, Positive)]
        recursive = [lit for lit in positives if comp.get(lit.atom.pred) == head_comp]
        if recursive and rule.body[0] is not recursive[0]:
            raise RuleError(
                f"right recursion in {rule.id}: put the recursive atom {recursive[0].atom} first in the "
                f"body (pyDatalog never returns on right recursion over a cycle)",
                recursive[0].pos or rule.pos,
            )
        if len(recursive) > 1:
            raise RuleError(
                f"{rule.id} has {len(recursive)} recursive atoms; only linear left recursion is supported",
                recursive[1].pos or rule.pos,
            )
