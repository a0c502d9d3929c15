"""Reforms: declarative amendments applied to a copy of the baseline (facts and rules), never in place.

A reform file (YAML):

    title: Move Malaysia to Tier 1 and raise the LPP limit
    operations:
      - move_country: {country: MY, to_tier: 1, from: 2025-06-01}      # `from` optional everywhere
      - add_to_group: {country: VN, group: D5}                           # groups: A5 A6 D1 D4 D5 Supp5A Macau
      - remove_from_group: {country: CN, group: D1}
      - set_parameter: {name: lpp_annual_tpp_limit, value: 40000000}
      - disable_rule: {id: acm_supply_chain}
      - replace_rule: {id: lpp_conditions, text: "@rule lpp_conditions ... ."}   # rule language, parsed + checked
      - add_rule: {text: "@rule my_rule @cite ... ."}

A case's `what_if` takes the same operations: one mapping (several keys allowed) or a list, applied in order.
Rule text goes through the project's parser and checks (never exec); every error names the file and field.
The Python API has the same operations: Reform().move_country("MY", 1).set_parameter("lpp_annual_tpp_limit", 4e7).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aidkb import ontology
from aidkb.kb.checks import check, domain_errors
from aidkb.kb.errors import InputError, escape, show
from aidkb.kb.graph import components
from aidkb.kb.parser import RuleError, parse_text
from aidkb.kb.syntax import Program, Rule

from .case import EARLIEST, FLAGS, LATEST, MODES
from .reader import read_document, whole_number

GROUPS = ("A5", "A6", "D1", "D4", "D5", "Supp5A", "Macau", "PRC", "NamedB")
TIER_GROUPS = {1: ("Supp5A",), 3: ("D5",)}  # what listing puts a country in a tier
CLEARED_BY_MOVE = ("Supp5A", "D5", "Macau")  # listings a move to another tier ends
BEGINNING = 19000101  # the first day of every base fact (ontology/src)
FACT_OPS = ("move_country", "add_to_group", "remove_from_group", "set_parameter")
RULE_OPS = ("disable_rule", "replace_rule", "add_rule")
REFORM_FIELDS = {"title", "description", "operations"}


class ReformError(InputError):
    """A reform (file, what-if or API call) that cannot be applied."""


@dataclass(frozen=True)
class Operation:
    """One reform operation, kept in its input form (what a reform file says: dates as YYYY-MM-DD, rule text as
    written), so that it re-parses wherever it is stored (a proof, a download, a link)."""

    op: str
    args: tuple  # sorted (key, value) pairs, plain JSON values

    def get(self, key: str):
        return dict(self.args).get(key)

    def since(self) -> int | None:
        """The `from` date as the yyyymmdd number the facts carry (None: from the beginning)."""
        value = self.get("from")
        return ontology.date_number(value) if value else None

    def to_input(self) -> dict:
        """The operation as a reform file writes it: {op: {field: value}}."""
        return {self.op: {k: v for k, v in self.args if v is not None}}

    def rule_id(self) -> str | None:
        if self.op in ("disable_rule", "replace_rule"):
            return self.get("id")
        if self.op == "add_rule":
            return _the_rule(self.get("text"), "<add_rule>").id
        return None

    def describe(self) -> str:
        a = dict(self.args)
        since = f" from {a['from']}" if a.get("from") else ""
        if self.op == "move_country":
            return f"move {a['country']} to Tier {a['to_tier']}{since}"
        if self.op == "add_to_group":
            return f"add {a['country']} to {a['group']}{since}"
        if self.op == "remove_from_group":
            return f"remove {a['country']} from {a['group']}{since}"
        if self.op == "set_parameter":
            return f"set {a['name']} to {a['value']}{since}"
        if self.op == "disable_rule":
            return f"disable rule {a['id']}"
        if self.op == "replace_rule":
            return f"replace rule {a['id']}"
        return f"add rule {self.rule_id()}"

    def countries(self) -> set[str]:
        return {self.get("country")} - {None}


# Input sanity bounds on parameter values, by unit (not legal numbers: a value beyond them is a typo).
PARAMETER_BOUNDS = {"percent": 100, "factor": 100, "operations": 10**35, "GB/s": 10**7}
DEFAULT_BOUND = 10**15  # TPP
MAX_OPERATIONS = 200
MAX_RULE_TEXT = 20_000


# ---- validation


def parse_operations(
    value: Any, source: str, path: str, onto: ontology.Ontology, program: Program | None = None
) -> tuple[Operation, ...]:
    if value is None:
        return ()
    entries = value if isinstance(value, list) else [value]
    if len(entries) > MAX_OPERATIONS:
        raise ReformError(source, path, f"{len(entries):,} operations; at most {MAX_OPERATIONS} are accepted")
    ops: list[Operation] = []
    for i, entry in enumerate(entries):
        where = f"{path}[{i}]" if isinstance(value, list) else path
        if not isinstance(entry, dict) or not entry:
            raise ReformError(
                source, where, "must be a mapping of operations, e.g. {move_country: {country: MY, to_tier: 1}}"
            )
        for op, args in entry.items():
            at = f"{where}.{escape(str(op))}"
            if op == "move_country":
                ops.append(_move(args, source, at, onto))
            elif op in ("add_to_group", "remove_from_group"):
                ops.append(_group(op, args, source, at, onto))
            elif op == "set_parameter":
                ops.append(_set(args, source, at, onto))
            elif op in RULE_OPS:
                ops.append(_rule_op(op, args, source, at, program))
            else:
                raise ReformError(
                    source, at, f"unsupported what-if operation (supported: {', '.join(FACT_OPS + RULE_OPS)})"
                )
    _check_conflicts(ops, source, path)
    reform = Reform(tuple(ops))
    if reform.rule_operations():
        reform.program(program, source, path)  # checks the amended rule set as a whole now
    return reform.operations


def _check_conflicts(ops: list[Operation], source: str, path: str) -> None:
    """Two rule operations on one rule id contradict each other (disable twice, disable then replace, ...)."""
    touched: dict[str, str] = {}
    for o in ops:
        rule_id = o.rule_id()
        if rule_id is None:
            continue
        if rule_id in touched:
            raise ReformError(
                source,
                path,
                f"conflicting operations on rule {rule_id!r}: {touched[rule_id]} and "
                f"{o.op}; give one operation per rule",
            )
        touched[rule_id] = o.op


def _the_rule(text: str, where: str) -> Rule:
    """The one rule of an operation's text (validated when the operation was read)."""
    (rule,) = parse_text(text, where)
    assert isinstance(rule, Rule)
    return rule


def _fields(
    args: Any, source: str, path: str, required: AbstractSet[str], optional: AbstractSet[str] = frozenset()
) -> dict:
    if not isinstance(args, dict):
        raise ReformError(source, path, f"must be a mapping, not {show(args)}")
    for key in args:
        if not isinstance(key, str) or key not in required | optional:
            raise ReformError(
                source,
                f"{path}.{escape(str(key))}",
                "unknown field (allowed: " + ", ".join(sorted(required | optional)) + ")",
            )
    for key in sorted(required):
        if key not in args:
            raise ReformError(source, f"{path}.{key}", "missing required field")
    return args


def _date(value: Any, source: str, path: str) -> str:
    """A date in input form (YYYY-MM-DD), checked."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = value.isoformat()
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise ReformError(source, path, f"{show(value)} is not a date of the calendar") from None
        if not EARLIEST <= day <= LATEST:
            raise ReformError(source, path, f"{value} is outside {EARLIEST}..{LATEST}")
        return value
    raise ReformError(source, path, f"must be a date YYYY-MM-DD, not {show(value)}")


def _since(a: dict, source: str, path: str) -> str | None:
    return _date(a["from"], source, f"{path}.from") if a.get("from") is not None else None


def _country(a: dict, source: str, path: str, onto: ontology.Ontology) -> str:
    country = a["country"]
    if not isinstance(country, str) or country not in onto.countries:
        raise ReformError(source, f"{path}.country", f"unknown country code {show(country)}")
    if country == "US":
        raise ReformError(source, f"{path}.country", "the United States is Tier 1 by definition and is in no group")
    return country


def _op(op_name: str, /, **args) -> Operation:
    return Operation(op_name, tuple(sorted(args.items())))


def _move(args: Any, source: str, path: str, onto: ontology.Ontology) -> Operation:
    a = _fields(args, source, path, {"country", "to_tier"}, {"from"})
    country = _country(a, source, path, onto)
    if isinstance(a["to_tier"], bool) or a["to_tier"] not in (1, 2, 3):
        raise ReformError(source, f"{path}.to_tier", f"must be 1, 2 or 3, not {show(a['to_tier'])}")
    return _op("move_country", country=country, to_tier=int(a["to_tier"]), **{"from": _since(a, source, path)})


def _group(op: str, args: Any, source: str, path: str, onto: ontology.Ontology) -> Operation:
    a = _fields(args, source, path, {"country", "group"}, {"from"})
    country = _country(a, source, path, onto)
    if not isinstance(a["group"], str) or a["group"] not in GROUPS:
        raise ReformError(source, f"{path}.group", f"unknown group {show(a['group'])} (groups: {', '.join(GROUPS)})")
    return _op(op, country=country, group=a["group"], **{"from": _since(a, source, path)})


def _set(args: Any, source: str, path: str, onto: ontology.Ontology) -> Operation:
    a = _fields(args, source, path, {"name", "value"}, {"from"})
    name = a["name"]
    known = {p.name: p for p in onto.parameters}
    if not isinstance(name, str) or name not in known:
        raise ReformError(source, f"{path}.name", f"unknown parameter {show(name)} (known: {', '.join(sorted(known))})")
    unit = known[name].unit
    if unit == "date":
        value: Any = _date(a["value"], source, f"{path}.value")
    else:
        try:
            value = whole_number(a["value"])
        except (ValueError, ArithmeticError) as e:
            raise ReformError(source, f"{path}.value", f"{e}, not {show(a['value'])}") from None
        bound = PARAMETER_BOUNDS.get(unit, DEFAULT_BOUND)
        if not 0 <= value <= bound:
            raise ReformError(
                source, f"{path}.value", f"must be non-negative and at most {bound:,} ({unit}), not {value:,}"
            )
    return _op("set_parameter", name=name, value=value, **{"from": _since(a, source, path)})


def _rule_op(op: str, args: Any, source: str, path: str, program: Program | None) -> Operation:
    from aidkb.kb.program import baseline_program

    program = program or baseline_program()
    if op == "disable_rule":
        a = _fields(args, source, path, {"id"})
    elif op == "replace_rule":
        a = _fields(args, source, path, {"id", "text"})
    else:
        a = _fields(args, source, path, {"text"})
    if op != "add_rule" and (not isinstance(a["id"], str) or a["id"] not in {r.id for r in program.rules}):
        raise ReformError(source, f"{path}.id", f"no rule {show(a['id'])} in the rule set")
    if op == "disable_rule":
        return _op(op, id=a["id"])
    text = a["text"]
    if not isinstance(text, str):
        raise ReformError(source, f"{path}.text", f"must be rule text, not {show(text)}")
    if len(text) > MAX_RULE_TEXT:
        raise ReformError(source, f"{path}.text", f"is longer than {MAX_RULE_TEXT:,} characters")
    try:
        statements = parse_text(text, f"{source}:{path}.text")
    except RuleError as e:
        raise ReformError(source, f"{path}.text", str(e)) from None
    rules = [s for s in statements if isinstance(s, Rule)]
    if len(rules) != 1 or len(statements) != 1:
        raise ReformError(source, f"{path}.text", "must be exactly one rule (with @rule, @cite and @says)")
    rule = rules[0]
    if op == "replace_rule" and rule.id != a["id"]:
        raise ReformError(source, f"{path}.text", f"the replacement's @rule is {rule.id!r}, not {a['id']!r}")
    if op == "add_rule" and rule.id in {r.id for r in program.rules}:
        raise ReformError(source, f"{path}.text", f"rule id {rule.id!r} is already used; use replace_rule")
    amended = [r for r in program.rules if r.id != rule.id] + [rule]
    errors = domain_errors(amended, rule_domains(ontology.load()), checked=[rule])
    if errors:
        raise ReformError(source, f"{path}.text", str(errors[0]))
    return _op(op, id=a["id"], text=text) if op == "replace_rule" else _op(op, text=text)


def rule_domains(onto: ontology.Ontology) -> dict[str, set[str]]:
    """The names a rule's constants may give, by kind (kb/checks.py DOMAIN_ARGUMENTS): the ontology's groups,
    items and routes, the case contract's flags and modes."""
    listed = {route for item in onto.items.values() for route, _ in item["exceptions"]}  # e.g. NAC_ACA
    return {
        "group": {m.group for m in onto.memberships},
        "item": set(onto.items),
        "route": set(onto.authorizations) | listed,
        "flag": set(FLAGS),
        "mode": set(MODES),
    }


def load_reform(path: Path, onto: ontology.Ontology | None = None) -> Reform:
    """Read and validate a reform file (through the hardened reader: queries/reader.py)."""
    onto = onto or ontology.load()
    source = str(path)
    try:
        data = read_document(path, source)
    except InputError as e:
        raise ReformError(e.source, e.field, e.message) from None
    return parse_reform(data, source, onto, Path(path).stem)


def parse_reform(
    data: Any, source: str, onto: ontology.Ontology | None = None, default_title: str = "what-if"
) -> Reform:
    """A reform document ({title, description, operations}), as a file, an upload or an HTTP body holds it."""
    onto = onto or ontology.load()
    if not isinstance(data, dict):
        raise ReformError(source, "", "a reform file is a mapping with title and operations")
    for key in data:
        if key not in REFORM_FIELDS:
            raise ReformError(source, escape(str(key)), f"unknown field (allowed: {', '.join(sorted(REFORM_FIELDS))})")
    for key in ("title", "description"):
        value = data.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > 300 or escape(value) != value):
            raise ReformError(source, key, "must be one line of text (at most 300 characters)")
    if not isinstance(data.get("operations"), list) or not data["operations"]:
        raise ReformError(source, "operations", "missing or empty list of operations")
    ops = parse_operations(data["operations"], source, "operations", onto)
    return Reform(ops, str(data.get("title") or default_title))


# ---- the reform


@dataclass(frozen=True)
class Reform:
    """An ordered set of operations over the baseline; a value, hashable, safe to share between threads."""

    operations: tuple[Operation, ...] = ()
    title: str = ""

    # the Python API: each method returns a new Reform, validated like the YAML form
    def _with(self, name: str, args: dict) -> Reform:
        ops = parse_operations([{name: args}], "<api>", "operation", ontology.load(), self._program_or_none())
        return Reform(self.operations + ops, self.title)

    def move_country(self, country: str, to_tier: int, since: str | None = None) -> Reform:
        return self._with("move_country", {"country": country, "to_tier": to_tier, "from": since})

    def add_to_group(self, country: str, group: str, since: str | None = None) -> Reform:
        return self._with("add_to_group", {"country": country, "group": group, "from": since})

    def remove_from_group(self, country: str, group: str, since: str | None = None) -> Reform:
        return self._with("remove_from_group", {"country": country, "group": group, "from": since})

    def set_parameter(self, name: str, value, since: str | None = None) -> Reform:
        return self._with("set_parameter", {"name": name, "value": value, "from": since})

    def disable_rule(self, rule_id: str) -> Reform:
        return self._with("disable_rule", {"id": rule_id})

    def replace_rule(self, rule_id: str, text: str) -> Reform:
        return self._with("replace_rule", {"id": rule_id, "text": text})

    def add_rule(self, text: str) -> Reform:
        return self._with("add_rule", {"text": text})

    def _program_or_none(self) -> Program | None:
        return self.program() if self.rule_operations() else None

    @property
    def key(self) -> str:
        return json.dumps([[o.op, list(o.args)] for o in self.operations])

    def describe(self) -> list[str]:
        return [o.describe() for o in self.operations]

    def rule_operations(self) -> list[Operation]:
        return [o for o in self.operations if o.op in RULE_OPS]

    def countries(self) -> set[str]:
        return set().union(*(o.countries() for o in self.operations)) if self.operations else set()

    def apply(self, facts: list[tuple]) -> list[tuple]:
        """A new list of base facts with every fact operation applied in order."""
        out = list(facts)
        for o in self.operations:
            a = dict(o.args)
            start = o.since() or BEGINNING
            if o.op == "move_country":
                out = _clip(
                    out, lambda f: f[0] == "group_member" and f[1] == a["country"] and f[2] in CLEARED_BY_MOVE, start
                )
                out += [
                    ("group_member", a["country"], g, start, ontology.OPEN_END)
                    for g in TIER_GROUPS.get(a["to_tier"], ())
                ]
            elif o.op == "add_to_group":
                out.append(("group_member", a["country"], a["group"], start, ontology.OPEN_END))
            elif o.op == "remove_from_group":
                out = _clip(
                    out, lambda f: f[0] == "group_member" and f[1] == a["country"] and f[2] == a["group"], start
                )
            elif o.op == "set_parameter":
                value = ontology.date_number(a["value"]) if isinstance(a["value"], str) else a["value"]
                out = _apply_set(out, a["name"], value, o.since())
        return out

    def program(self, base: Program | None = None, source: str = "<reform>", path: str = "what_if") -> Program:
        """The rule set under this reform's rule operations, checked as a whole (base is unchanged)."""
        from aidkb.kb.program import baseline_program

        base = base or baseline_program()
        ops = self.rule_operations()
        if not ops:
            return base
        rules = list(base.rules)
        for o in ops:
            if o.op == "disable_rule":
                rules = [r for r in rules if r.id != o.get("id")]
            else:
                new = _the_rule(o.get("text"), f"{source}:{path}")
                rules = [new if r.id == new.id else r for r in rules] if o.op == "replace_rule" else rules + [new]
        digest = hashlib.sha256(json.dumps([[o.op, list(o.args)] for o in ops]).encode()).hexdigest()[:8]
        try:
            amended = check(
                list(base.declarations) + rules,
                f"{base.version}+{digest}",
                may_be_empty={r.head.pred for r in base.rules},
            )
        except RuleError as e:
            raise ReformError(source, path, f"the amended rules do not check: {e}") from None
        _refuse_new_mutual_recursion(base, amended, source, path)
        return amended


def _refuse_new_mutual_recursion(base: Program, amended: Program, source: str, path: str) -> None:
    """pyDatalog may never return on recursion through several predicates (shared/engine-notes.md), so a reform
    may not create it: recursion in a reform stays within one predicate."""
    before = {c for c in components(list(base.rules)).values() if len(c) > 1}
    for component in set(components(list(amended.rules)).values()):
        if len(component) > 1 and component not in before:
            raise ReformError(
                source,
                path,
                "the amended rules recurse through several predicates ("
                + ", ".join(sorted(component))
                + "); a reform may only add recursion within one "
                "predicate, which the engine can evaluate safely",
            )


def _clip(facts: list[tuple], match, start: int) -> list[tuple]:
    """End the facts that `match` on the day before `start` (drop those that begin on or after it)."""
    out = []
    for f in facts:
        if match(f):
            frm, to = f[-2], f[-1]
            if frm >= start:
                continue
            if to > start:
                f = f[:-1] + (start,)
        out.append(f)
    return out


def _apply_set(facts: list[tuple], name: str, value, start: int | None) -> list[tuple]:
    out = []
    for f in facts:
        if f[0] == "param" and f[1] == name:
            frm, to = f[3], f[4]
            if start is None or frm >= start:
                f = ("param", name, value, frm, to)
            elif to > start:  # split the interval that spans the start
                out.append(("param", name, f[2], frm, start))
                f = ("param", name, value, start, to)
        out.append(f)
    return out
