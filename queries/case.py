"""A case file (shared/cases/README.md schema): validated, then turned into `input` facts for the rules.

Validation rejects what the rules could silently get wrong: unknown fields (typos), wrong types, unknown
countries or ECCNs, negative or absurd numbers, inconsistent VEU holdings, ownership chains that loop, and
what-if operations the engine does not support. Every error names the file and the field.
"""
from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import ontology

KINDS = ("export", "reexport", "transfer_in_country", "iaas_service")
MODES = ("as_published", "as_enforced")
END_USES = ("datacenter", "production", "storage", "development", "model_hosting", "ai_model_training_iaas",
            "consumer", "unknown")
VEU_TYPES = ("UVEU", "NVEU")
# Flags of the shared schema, then this project's compatible additions (README, "Case files").
FLAGS = ("unknown_end_user", "requests_model_weights", "non_datacenter_item", "nac_notified",
         "foreign_produced_direct_product",
         "foreign_produced", "government_end_user", "prc_designed_ic", "no_datacenter_footprint",
         "residential_or_warehouse_address", "refuses_end_use_information", "unverifiable_iaas_customer")
# Sanity bounds on inputs (not legal numbers): beyond them a figure is a typo, not a transaction.
MAX_QUANTITY = 10_000_000
MAX_TPP_PER_UNIT = 100_000_000
MAX_TPP_TOTAL = 10**15
MAX_TRAINING_OPS = 1e35
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2100, 12, 31)

TOP_FIELDS = {"id", "title", "as_of", "mode", "transaction", "what_if", "expected", "confidence"}
TRANSACTION_FIELDS = {"kind", "item", "quantity", "tpp_per_unit", "model", "from_country", "destination_country",
                      "end_user", "consignee_tpp_already_this_year", "country_tpp_already_allocated",
                      "gov_to_gov_arrangement", "facts"}
MODEL_FIELDS = {"training_ops", "weights_published", "open_weight_frontier_ops"}
END_USER_FIELDS = {"name", "hq_country", "ultimate_parent_hq_country", "parent_chain", "veu", "veu_holdings",
                   "nveu_authorization", "end_use"}
HOLDINGS_FIELDS = {"global_tpp", "tier1_tpp", "us_tpp", "destination_tpp"}
NVEU_FIELDS = {"destination", "cumulative_tpp"}


# Where each `input` fact of kb/rules/base.dl comes from in a case file (the source of a fact in a proof).
INPUT_FIELDS = {
    "case": "id", "as_of": "as_of", "mode": "mode", "kind": "transaction.kind", "item": "transaction.item",
    "quantity": "transaction.quantity", "tpp_per_unit": "transaction.tpp_per_unit",
    "training_ops": "transaction.model.training_ops", "weights_published": "transaction.model.weights_published",
    "frontier_ops_given": "transaction.model.open_weight_frontier_ops", "origin": "transaction.from_country",
    "destination": "transaction.destination_country", "end_user": "transaction.end_user.name",
    "hq": "transaction.end_user.hq_country",
    "declared_parent_hq": "transaction.end_user.ultimate_parent_hq_country",
    "controls": "transaction.end_user.parent_chain", "entity_hq": "transaction.end_user.parent_chain",
    "veu": "transaction.end_user.veu", "uveu_holdings": "transaction.end_user.veu_holdings",
    "nveu_authorization": "transaction.end_user.nveu_authorization", "end_use": "transaction.end_user.end_use",
    "consignee_ytd": "transaction.consignee_tpp_already_this_year",
    "country_allocated": "transaction.country_tpp_already_allocated",
    "g2g": "transaction.gov_to_gov_arrangement", "flag": "transaction.facts",
}


class InputError(Exception):
    """Bad input that gets no answer: names the file and the field."""

    def __init__(self, source: str, field_path: str, message: str):
        self.source, self.field, self.message = source, field_path, message
        super().__init__(f"{source}: {field_path}: {message}" if field_path else f"{source}: {message}")


class CaseError(InputError):
    """A case that cannot be decided."""


@dataclass(frozen=True)
class Party:
    name: str
    hq_country: str


@dataclass(frozen=True)
class Case:
    """One validated question. `source` is where it came from (a file path or '<form>')."""
    id: str
    as_of: dt.date
    mode: str
    kind: str
    item: str
    destination: str
    origin: str
    end_user: str
    hq: str | None
    parent_hq: str | None
    end_use: str
    quantity: int | None = None
    tpp_per_unit: int | None = None
    training_ops: int | None = None
    weights_published: bool = False
    frontier_ops: int | None = None
    parent_chain: tuple[Party, ...] = ()
    veu: str | None = None
    uveu_holdings: tuple[int, int, int, int] | None = None
    nveu_authorization: tuple[str, int] | None = None
    consignee_ytd: int = 0
    country_allocated: int = 0
    g2g: bool = False
    flags: tuple[str, ...] = ()
    what_if: tuple[dict, ...] = ()
    title: str = ""
    expected: dict | None = None
    source: str = "<case>"

    def facts(self) -> list[tuple]:
        """The `input` facts of kb/rules/base.dl for this case."""
        c = self.id
        out: list[tuple] = [("case", c), ("as_of", c, ontology.date_number(self.as_of)), ("mode", c, self.mode),
                            ("kind", c, self.kind), ("item", c, self.item), ("origin", c, self.origin),
                            ("destination", c, self.destination), ("end_user", c, self.end_user),
                            ("end_use", c, self.end_use), ("consignee_ytd", c, self.consignee_ytd),
                            ("country_allocated", c, self.country_allocated)]
        if self.quantity is not None:
            out.append(("quantity", c, self.quantity))
        if self.tpp_per_unit is not None:
            out.append(("tpp_per_unit", c, self.tpp_per_unit))
        if self.training_ops is not None:
            out.append(("training_ops", c, self.training_ops))
        if self.weights_published:
            out.append(("weights_published", c))
        if self.frontier_ops is not None:
            out.append(("frontier_ops_given", c, self.frontier_ops))
        if self.hq:
            out.append(("hq", c, self.hq))
        if self.parent_hq:
            out.append(("declared_parent_hq", c, self.parent_hq))
        child = self.end_user
        for party in self.parent_chain:
            out.append(("controls", c, party.name, child))
            out.append(("entity_hq", c, party.name, party.hq_country))
            child = party.name
        if self.veu:
            out.append(("veu", c, self.veu))
        if self.uveu_holdings:
            out.append(("uveu_holdings", c, *self.uveu_holdings))
        if self.nveu_authorization:
            out.append(("nveu_authorization", c, *self.nveu_authorization))
        if self.g2g:
            out.append(("g2g", c))
        out += [("flag", c, f) for f in self.flags]
        return out


class _Reader:
    """Typed access to a YAML mapping that reports errors with the dotted field path."""

    def __init__(self, source: str, onto: ontology.Ontology):
        self.source, self.onto = source, onto

    def fail(self, path: str, message: str):
        raise CaseError(self.source, path, message)

    def mapping(self, value: Any, path: str, allowed: set[str]) -> dict:
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping, not {type(value).__name__}")
        for key in value:
            if key not in allowed:
                self.fail(f"{path}.{key}" if path else str(key), "unknown field (allowed: " +
                          ", ".join(sorted(allowed)) + ")")
        return value

    def required(self, m: dict, key: str, path: str):
        if key not in m:
            self.fail(f"{path}.{key}" if path else key, "missing required field")
        return m[key]

    def string(self, value: Any, path: str, choices=None, nullable=False) -> str | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(path, f"must be a non-empty string, not {value!r}")
        if choices and value not in choices:
            self.fail(path, f"{value!r} is not one of: {', '.join(choices)}")
        return value

    def country(self, value: Any, path: str, nullable=False) -> str | None:
        if value is None and nullable:
            return None
        code = self.string(value, path)
        if code not in self.onto.countries:
            self.fail(path, f"unknown country code {code!r} (ISO 3166-1 alpha-2 expected, e.g. MY)")
        return code

    def boolean(self, value: Any, path: str) -> bool:
        if value is None:
            return False
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, not {value!r}")
        return value

    def integer(self, value: Any, path: str, maximum: float, nullable=False, minimum: int = 0) -> int | None:
        if value is None:
            if nullable:
                return None
            self.fail(path, "must be a number, not null")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(path, f"must be a number, not {value!r}")
        if value != int(value):
            self.fail(path, f"must be a whole number, not {value!r}")
        if value < minimum:
            self.fail(path, f"must not be less than {minimum}, not {value!r}")
        if value > maximum:
            self.fail(path, f"{value!r} is absurdly large (more than {maximum:,.0f})")
        return int(value)

    def operations(self, value: Any, path: str) -> int | None:
        """A count of operations such as 2.0e+26, as an exact whole number (10**26 stays 10**26)."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self.fail(path, f"must be a number, not {value!r}")
        try:
            number = Decimal(value if isinstance(value, str) else repr(value))
        except ArithmeticError:
            self.fail(path, f"must be a number, not {value!r}")
        if not number.is_finite() or number != number.to_integral_value():
            self.fail(path, f"must be a whole number of operations, not {value!r}")
        if number <= 0:
            self.fail(path, f"must be positive, not {value!r}")
        if number > MAX_TRAINING_OPS:
            self.fail(path, f"{value!r} is absurdly large (more than {MAX_TRAINING_OPS:g})")
        return int(number)

    def date(self, value: Any, path: str) -> dt.date:
        if isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                self.fail(path, f"must be a date YYYY-MM-DD, not {value!r}")
        if not isinstance(value, dt.date):
            self.fail(path, f"must be a date YYYY-MM-DD, not {value!r}")
        if not EARLIEST <= value <= LATEST:
            self.fail(path, f"{value} is outside {EARLIEST}..{LATEST}")
        return value


def parse_case(data: Any, source: str, onto: ontology.Ontology | None = None) -> Case:
    """Validate a case mapping (as loaded from YAML) and return the Case."""
    from .reform import parse_operations

    onto = onto or ontology.load()
    r = _Reader(source, onto)
    top = r.mapping(data, "", TOP_FIELDS)
    case_id = r.string(r.required(top, "id", ""), "id")
    as_of = r.date(r.required(top, "as_of", ""), "as_of")
    mode = r.string(r.required(top, "mode", ""), "mode", MODES)
    t = r.mapping(r.required(top, "transaction", ""), "transaction", TRANSACTION_FIELDS)
    kind = r.string(r.required(t, "kind", "transaction"), "transaction.kind", KINDS)
    item = r.string(r.required(t, "item", "transaction"), "transaction.item")
    if item not in onto.items:
        r.fail("transaction.item", f"unknown ECCN {item!r} (known: {', '.join(sorted(onto.items))})")
    quantity = r.integer(t.get("quantity"), "transaction.quantity", MAX_QUANTITY, nullable=True, minimum=1)
    tpp = r.integer(t.get("tpp_per_unit"), "transaction.tpp_per_unit", MAX_TPP_PER_UNIT, nullable=True, minimum=1)
    training_ops = frontier = None
    published = False
    if t.get("model") is not None:
        m = r.mapping(t["model"], "transaction.model", MODEL_FIELDS)
        training_ops = r.operations(m.get("training_ops"), "transaction.model.training_ops")
        published = r.boolean(m.get("weights_published"), "transaction.model.weights_published")
        frontier = r.operations(m.get("open_weight_frontier_ops"), "transaction.model.open_weight_frontier_ops")
    origin = r.country(t.get("from_country", "US") or "US", "transaction.from_country")
    destination = r.country(r.required(t, "destination_country", "transaction"), "transaction.destination_country")
    eu = r.mapping(r.required(t, "end_user", "transaction"), "transaction.end_user", END_USER_FIELDS)
    p = "transaction.end_user"
    name = r.string(eu.get("name") or "the end user", f"{p}.name")
    hq = r.country(r.required(eu, "hq_country", p), f"{p}.hq_country", nullable=True)
    parent_hq = r.country(r.required(eu, "ultimate_parent_hq_country", p), f"{p}.ultimate_parent_hq_country",
                          nullable=True)
    chain = _parent_chain(r, eu.get("parent_chain"), name, parent_hq, f"{p}.parent_chain")
    veu = r.string(eu.get("veu"), f"{p}.veu", VEU_TYPES, nullable=True)
    holdings = nveu = None
    if eu.get("veu_holdings") is not None:
        if veu != "UVEU":
            r.fail(f"{p}.veu_holdings", "is only for a UVEU (veu: UVEU)")
        holdings = _holdings(r, eu["veu_holdings"], f"{p}.veu_holdings")
    if eu.get("nveu_authorization") is not None:
        if veu != "NVEU":
            r.fail(f"{p}.nveu_authorization", "is only for an NVEU (veu: NVEU)")
        a = r.mapping(eu["nveu_authorization"], f"{p}.nveu_authorization", NVEU_FIELDS)
        nveu = (r.country(r.required(a, "destination", f"{p}.nveu_authorization"),
                          f"{p}.nveu_authorization.destination"),
                r.integer(a.get("cumulative_tpp", 0), f"{p}.nveu_authorization.cumulative_tpp", MAX_TPP_TOTAL))
    end_use = r.string(r.required(eu, "end_use", p), f"{p}.end_use", END_USES)
    ytd = r.integer(t.get("consignee_tpp_already_this_year", 0) or 0,
                    "transaction.consignee_tpp_already_this_year", MAX_TPP_TOTAL)
    allocated = r.integer(t.get("country_tpp_already_allocated", 0) or 0,
                          "transaction.country_tpp_already_allocated", MAX_TPP_TOTAL)
    if quantity is not None and tpp is not None and quantity * tpp > MAX_TPP_TOTAL:
        r.fail("transaction.quantity", f"{quantity:,} units x {tpp:,} TPP is absurdly large")
    flags = _flags(r, t.get("facts"), "transaction.facts")
    what_if = parse_operations(top.get("what_if"), source, "what_if", onto)
    expected = top.get("expected")
    if expected is not None and not isinstance(expected, dict):
        r.fail("expected", "must be a mapping")
    return Case(id=case_id, as_of=as_of, mode=mode, kind=kind, item=item, destination=destination, origin=origin,
                end_user=name, hq=hq, parent_hq=parent_hq, end_use=end_use, quantity=quantity, tpp_per_unit=tpp,
                training_ops=training_ops, weights_published=published, frontier_ops=frontier, parent_chain=chain,
                veu=veu, uveu_holdings=holdings, nveu_authorization=nveu, consignee_ytd=ytd,
                country_allocated=allocated, g2g=r.boolean(t.get("gov_to_gov_arrangement"),
                                                           "transaction.gov_to_gov_arrangement"),
                flags=flags, what_if=what_if, title=str(top.get("title") or ""), expected=expected,
                source=source)


def _parent_chain(r: _Reader, value: Any, end_user: str, parent_hq: str | None, path: str) -> tuple[Party, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        r.fail(path, "must be a non-empty list of {name, hq_country}")
    seen = {end_user}
    chain = []
    for i, entry in enumerate(value):
        e = r.mapping(entry, f"{path}[{i}]", {"name", "hq_country"})
        name = r.string(r.required(e, "name", f"{path}[{i}]"), f"{path}[{i}].name")
        if name in seen:
            r.fail(f"{path}[{i}].name", f"ownership chain loops: {name!r} appears twice (counting the end user)")
        seen.add(name)
        chain.append(Party(name, r.country(r.required(e, "hq_country", f"{path}[{i}]"), f"{path}[{i}].hq_country")))
    if parent_hq is not None and chain[-1].hq_country != parent_hq:
        r.fail(path, f"the last owner ({chain[-1].name}) is headquartered in {chain[-1].hq_country}, but "
                     f"ultimate_parent_hq_country is {parent_hq}")
    return tuple(chain)


def _holdings(r: _Reader, value: Any, path: str) -> tuple[int, int, int, int]:
    h = r.mapping(value, path, HOLDINGS_FIELDS)
    g, t1, us, d = (r.integer(r.required(h, k, path), f"{path}.{k}", MAX_TPP_TOTAL)
                    for k in ("global_tpp", "tier1_tpp", "us_tpp", "destination_tpp"))
    if t1 > g:
        r.fail(f"{path}.tier1_tpp", f"{t1:,} is more than global_tpp {g:,}")
    if us > t1:
        r.fail(f"{path}.us_tpp", f"{us:,} is more than tier1_tpp {t1:,} (the US is part of Tier 1)")
    if d > g:
        r.fail(f"{path}.destination_tpp", f"{d:,} is more than global_tpp {g:,}")
    return g, t1, us, d


def _flags(r: _Reader, value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        r.fail(path, "must be a list of flags")
    out = []
    for i, flag in enumerate(value):
        if not isinstance(flag, str) or flag not in FLAGS:
            r.fail(f"{path}[{i}]", f"unknown fact {flag!r} (known: {', '.join(FLAGS)})")
        out.append(flag)
    return tuple(dict.fromkeys(out))


def load_case(path: Path, onto: ontology.Ontology | None = None) -> Case:
    """Read and validate one case file."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CaseError(source, "", f"cannot read file: {e.strerror if isinstance(e, OSError) else e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise CaseError(source, "", f"malformed YAML: {where}{getattr(e, 'problem', None) or e}") from None
    return parse_case(data, source, onto)
