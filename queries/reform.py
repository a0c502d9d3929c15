"""Reforms: declarative changes to the baseline facts (a case's `what_if`), applied to a copy, never in place.

Supported operations (each validated, with the file and field named in any error):
  {move_country: {country: MY, to_tier: 1, from: 2025-06-01}}   -- `from` optional
  {set_parameter: {name: lpp_annual_tpp_limit, value: 30000000, from: 2026-01-01}}   -- `from` optional
A `what_if` is one such mapping (several keys allowed) or a list of them, applied in order.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import ontology

BEGINNING = 19000101
TIER_GROUPS = {1: ("Supp5A",), 3: ("D5",)}          # what listing puts a country in a tier
CLEARED_BY_MOVE = ("Supp5A", "D5", "Macau")         # listings a move to another tier ends


class ReformError(Exception):
    def __init__(self, source: str, field_path: str, message: str):
        self.source, self.field, self.message = source, field_path, message
        super().__init__(f"{source}: {field_path}: {message}")


@dataclass(frozen=True)
class Operation:
    op: str
    args: tuple  # sorted (key, value) pairs, values plain JSON types

    def describe(self) -> str:
        a = dict(self.args)
        if self.op == "move_country":
            return f"move {a['country']} to Tier {a['to_tier']}" + (f" from {_iso(a['from'])}" if a.get("from") else "")
        return f"set {a['name']} to {a['value']}" + (f" from {_iso(a['from'])}" if a.get("from") else "")


def _iso(n: int) -> str:
    return f"{n // 10000:04d}-{n // 100 % 100:02d}-{n % 100:02d}"


def parse_operations(value: Any, source: str, path: str, onto: ontology.Ontology) -> tuple[Operation, ...]:
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
            if op == "move_country":
                ops.append(_move(args, source, f"{where}.move_country", onto))
            elif op == "set_parameter":
                ops.append(_set(args, source, f"{where}.set_parameter", onto))
            else:
                raise ReformError(source, f"{where}.{op}", "unsupported what-if operation (supported: move_country, "
                                                           "set_parameter)")
    return tuple(ops)


def _fields(args: Any, source: str, path: str, required: set[str], optional: set[str]) -> dict:
    if not isinstance(args, dict):
        raise ReformError(source, path, "must be a mapping")
    for key in args:
        if key not in required | optional:
            raise ReformError(source, f"{path}.{key}", "unknown field (allowed: " +
                              ", ".join(sorted(required | optional)) + ")")
    for key in required:
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


def _move(args: Any, source: str, path: str, onto: ontology.Ontology) -> Operation:
    a = _fields(args, source, path, {"country", "to_tier"}, {"from"})
    country = a["country"]
    if not isinstance(country, str) or country not in onto.countries:
        raise ReformError(source, f"{path}.country", f"unknown country code {country!r}")
    if country == "US":
        raise ReformError(source, f"{path}.country", "the United States is Tier 1 by definition and cannot be moved")
    if a["to_tier"] not in (1, 2, 3) or isinstance(a["to_tier"], bool):
        raise ReformError(source, f"{path}.to_tier", f"must be 1, 2 or 3, not {a['to_tier']!r}")
    start = _date(a["from"], source, f"{path}.from") if a.get("from") is not None else None
    return Operation("move_country", tuple(sorted({"country": country, "to_tier": a["to_tier"],
                                                   "from": start}.items())))


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
    start = _date(a["from"], source, f"{path}.from") if a.get("from") is not None else None
    return Operation("set_parameter", tuple(sorted({"name": name, "value": value, "from": start}.items())))


@dataclass(frozen=True)
class Reform:
    """An ordered set of operations over the baseline facts; a value, hashable, safe to share."""
    operations: tuple[Operation, ...] = ()

    @property
    def key(self) -> str:
        return json.dumps([[o.op, list(o.args)] for o in self.operations])

    def describe(self) -> list[str]:
        return [o.describe() for o in self.operations]

    def apply(self, facts: list[tuple]) -> list[tuple]:
        """Return a new list of base facts with every operation applied in order."""
        out = list(facts)
        for o in self.operations:
            a = dict(o.args)
            if o.op == "move_country":
                out = _apply_move(out, a["country"], a["to_tier"], a["from"] or BEGINNING)
            else:
                out = _apply_set(out, a["name"], a["value"], a["from"])
        return out


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


def _apply_move(facts: list[tuple], country: str, tier: int, start: int) -> list[tuple]:
    out = _clip(facts, lambda f: f[0] == "group_member" and f[1] == country and f[2] in CLEARED_BY_MOVE, start)
    for group in TIER_GROUPS.get(tier, ()):
        out.append(("group_member", country, group, start, ontology.OPEN_END))
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
