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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import ontology
from kb.checks import check
from kb.parser import RuleError, parse_text
from kb.syntax import Program, Rule

from .case import InputError

BEGINNING = 19000101
GROUPS = ("A5", "A6", "D1", "D4", "D5", "Supp5A", "Macau")
TIER_GROUPS = {1: ("Supp5A",), 3: ("D5",)}          # what listing puts a country in a tier
CLEARED_BY_MOVE = ("Supp5A", "D5", "Macau")         # listings a move to another tier ends
FACT_OPS = ("move_country", "add_to_group", "remove_from_group", "set_parameter")
RULE_OPS = ("disable_rule", "replace_rule", "add_rule")
REFORM_FIELDS = {"title", "description", "operations"}


class ReformError(InputError):
    """A reform (file, what-if or API call) that cannot be applied."""


@dataclass(frozen=True)
class Operation:
    op: str
    args: tuple  # sorted (key, value) pairs, values plain JSON types

    def get(self, key: str):
        return dict(self.args).get(key)

    def describe(self) -> str:
        a = dict(self.args)
        since = f" from {_iso(a['from'])}" if a.get("from") else ""
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
        return f"add rule {a['id']}"

    def countries(self) -> set[str]:
        return {self.get("country")} - {None}


def _iso(n: int) -> str:
    return f"{n // 10000:04d}-{n // 100 % 100:02d}-{n % 100:02d}"


# ---- validation

def parse_operations(value: Any, source: str, path: str, onto: ontology.Ontology,
                     program: Program | None = None) -> tuple[Operation, ...]:
    if value is None:
        return ()
    entries = value if isinstance(value, list) else [value]
    ops: list[Operation] = []
    for i, entry in enumerate(entries):
        where = f"{path}[{i}]" if isinstance(value, list) else path
        if not isinstance(entry, dict) or not entry:
            raise ReformError(source, where, "must be a mapping of operations, e.g. {move_country: {country: MY, "
                                             "to_tier: 1}}")
        for op, args in entry.items():
            at = f"{where}.{op}"
            if op == "move_country":
                ops.append(_move(args, source, at, onto))
            elif op in ("add_to_group", "remove_from_group"):
                ops.append(_group(op, args, source, at, onto))
            elif op == "set_parameter":
                ops.append(_set(args, source, at, onto))
            elif op in RULE_OPS:
                ops.append(_rule_op(op, args, source, at, program))
            else:
                raise ReformError(source, at, f"unsupported what-if operation (supported: "
                                              f"{', '.join(FACT_OPS + RULE_OPS)})")
    reform = Reform(tuple(ops))
    if reform.rule_operations():
        reform.program(program, source, path)  # checks the amended rule set as a whole now
    return reform.operations


def _fields(args: Any, source: str, path: str, required: set[str], optional: set[str] = frozenset()) -> dict:
    if not isinstance(args, dict):
        raise ReformError(source, path, "must be a mapping")
    for key in args:
        if key not in required | optional:
            raise ReformError(source, f"{path}.{key}", "unknown field (allowed: " +
                              ", ".join(sorted(required | optional)) + ")")
    for key in sorted(required):
        if key not in args:
            raise ReformError(source, f"{path}.{key}", "missing required field")
    return args


def _date(value: Any, source: str, path: str) -> int:
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise ReformError(source, path, f"must be a date YYYY-MM-DD, not {value!r}") from None
    if not isinstance(value, dt.date):
        raise ReformError(source, path, f"must be a date YYYY-MM-DD, not {value!r}")
    return ontology.date_number(value)


def _since(a: dict, source: str, path: str) -> int | None:
    return _date(a["from"], source, f"{path}.from") if a.get("from") is not None else None


def _country(a: dict, source: str, path: str, onto: ontology.Ontology) -> str:
    country = a["country"]
    if not isinstance(country, str) or country not in onto.countries:
        raise ReformError(source, f"{path}.country", f"unknown country code {country!r}")
    if country == "US":
        raise ReformError(source, f"{path}.country", "the United States is Tier 1 by definition and is in no group")
    return country


def _op(op_name: str, /, **args) -> Operation:
    return Operation(op_name, tuple(sorted(args.items())))


def _move(args: Any, source: str, path: str, onto: ontology.Ontology) -> Operation:
    a = _fields(args, source, path, {"country", "to_tier"}, {"from"})
    country = _country(a, source, path, onto)
    if a["to_tier"] not in (1, 2, 3) or isinstance(a["to_tier"], bool):
        raise ReformError(source, f"{path}.to_tier", f"must be 1, 2 or 3, not {a['to_tier']!r}")
    return _op("move_country", country=country, to_tier=a["to_tier"], **{"from": _since(a, source, path)})


def _group(op: str, args: Any, source: str, path: str, onto: ontology.Ontology) -> Operation:
    a = _fields(args, source, path, {"country", "group"}, {"from"})
    country = _country(a, source, path, onto)
    if a["group"] not in GROUPS:
        raise ReformError(source, f"{path}.group", f"unknown group {a['group']!r} (groups: {', '.join(GROUPS)})")
    return _op(op, country=country, group=a["group"], **{"from": _since(a, source, path)})


def _set(args: Any, source: str, path: str, onto: ontology.Ontology) -> Operation:
    a = _fields(args, source, path, {"name", "value"}, {"from"})
    name = a["name"]
    known = {p.name: p for p in onto.parameters}
    if name not in known:
        raise ReformError(source, f"{path}.name", f"unknown parameter {name!r} (known: {', '.join(sorted(known))})")
    value = a["value"]
    if known[name].unit == "date":
        value = _date(value, source, f"{path}.value")
    elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
        raise ReformError(source, f"{path}.value", f"must be a non-negative number, not {value!r}")
    elif isinstance(value, float):
        try:
            value = ontology.exact(value)
        except ValueError:
            raise ReformError(source, f"{path}.value", f"must be a whole number (legal numbers are exact), "
                                                       f"not {value!r}") from None
    return _op("set_parameter", name=name, value=value, **{"from": _since(a, source, path)})


def _rule_op(op: str, args: Any, source: str, path: str, program: Program | None) -> Operation:
    from kb.program import baseline_program

    program = program or baseline_program()
    if op == "disable_rule":
        a = _fields(args, source, path, {"id"})
    elif op == "replace_rule":
        a = _fields(args, source, path, {"id", "text"})
    else:
        a = _fields(args, source, path, {"text"})
    if op != "add_rule" and a["id"] not in {r.id for r in program.rules}:
        raise ReformError(source, f"{path}.id", f"no rule {a['id']!r} in the rule set")
    if op == "disable_rule":
        return _op(op, id=a["id"])
    if not isinstance(a["text"], str):
        raise ReformError(source, f"{path}.text", "must be rule text")
    try:
        statements = parse_text(a["text"], f"{source}:{path}.text")
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
    return _op(op, id=rule.id, text=a["text"])


def load_reform(path: Path, onto: ontology.Ontology | None = None) -> "Reform":
    """Read and validate a reform file."""
    onto = onto or ontology.load()
    source = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ReformError(source, "", f"cannot read file: {e}") from None
    except yaml.YAMLError as e:
        raise ReformError(source, "", f"malformed YAML: {getattr(e, 'problem', None) or e}") from None
    if not isinstance(data, dict):
        raise ReformError(source, "", "a reform file is a mapping with title and operations")
    for key in data:
        if key not in REFORM_FIELDS:
            raise ReformError(source, str(key), f"unknown field (allowed: {', '.join(sorted(REFORM_FIELDS))})")
    if not isinstance(data.get("operations"), list) or not data["operations"]:
        raise ReformError(source, "operations", "missing or empty list of operations")
    ops = parse_operations(data["operations"], source, "operations", onto)
    return Reform(ops, str(data.get("title") or Path(path).stem))


# ---- the reform

@dataclass(frozen=True)
class Reform:
    """An ordered set of operations over the baseline; a value, hashable, safe to share between threads."""
    operations: tuple[Operation, ...] = ()
    title: str = ""

    # the Python API: each method returns a new Reform, validated like the YAML form
    def _with(self, name: str, args: dict) -> "Reform":
        ops = parse_operations([{name: args}], "<api>", "operation", ontology.load(), self._program_or_none())
        return Reform(self.operations + ops, self.title)

    def move_country(self, country: str, to_tier: int, since: str | None = None) -> "Reform":
        return self._with("move_country", {"country": country, "to_tier": to_tier, "from": since})

    def add_to_group(self, country: str, group: str, since: str | None = None) -> "Reform":
        return self._with("add_to_group", {"country": country, "group": group, "from": since})

    def remove_from_group(self, country: str, group: str, since: str | None = None) -> "Reform":
        return self._with("remove_from_group", {"country": country, "group": group, "from": since})

    def set_parameter(self, name: str, value, since: str | None = None) -> "Reform":
        return self._with("set_parameter", {"name": name, "value": value, "from": since})

    def disable_rule(self, rule_id: str) -> "Reform":
        return self._with("disable_rule", {"id": rule_id})

    def replace_rule(self, rule_id: str, text: str) -> "Reform":
        return self._with("replace_rule", {"id": rule_id, "text": text})

    def add_rule(self, text: str) -> "Reform":
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
            start = a.get("from") or BEGINNING
            if o.op == "move_country":
                out = _clip(out, lambda f: f[0] == "group_member" and f[1] == a["country"]
                            and f[2] in CLEARED_BY_MOVE, start)
                out += [("group_member", a["country"], g, start, ontology.OPEN_END)
                        for g in TIER_GROUPS.get(a["to_tier"], ())]
            elif o.op == "add_to_group":
                out.append(("group_member", a["country"], a["group"], start, ontology.OPEN_END))
            elif o.op == "remove_from_group":
                out = _clip(out, lambda f: f[0] == "group_member" and f[1] == a["country"] and f[2] == a["group"],
                            start)
            elif o.op == "set_parameter":
                out = _apply_set(out, a["name"], a["value"], a.get("from"))
        return out

    def program(self, base: Program | None = None, source: str = "<reform>", path: str = "what_if") -> Program:
        """The rule set under this reform's rule operations, checked as a whole (base is unchanged)."""
        from kb.program import baseline_program

        base = base or baseline_program()
        ops = self.rule_operations()
        if not ops:
            return base
        rules = list(base.rules)
        for o in ops:
            if o.op == "disable_rule":
                rules = [r for r in rules if r.id != o.get("id")]
            else:
                (new,) = parse_text(o.get("text"), f"{source}:{path}")
                rules = [new if r.id == new.id else r for r in rules] if o.op == "replace_rule" else rules + [new]
        digest = hashlib.sha256(json.dumps([[o.op, list(o.args)] for o in ops]).encode()).hexdigest()[:8]
        try:
            return check(list(base.declarations) + rules, f"{base.version}+{digest}",
                         may_be_empty={r.head.pred for r in base.rules})
        except RuleError as e:
            raise ReformError(source, path, f"the amended rules do not check: {e}") from None


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

