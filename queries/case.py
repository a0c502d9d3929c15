"""A case file (shared/cases/README.md schema): validated, then turned into `input` facts for the rules.

Validation rejects what the rules could silently get wrong: unknown fields (typos), wrong types, unknown
countries or ECCNs, negative or absurd numbers, inconsistent VEU holdings, ownership chains that loop, and
what-if operations the engine does not support. Every error names the file and the field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn, overload

from aidkb import ontology
from aidkb.kb.errors import InputError, escape, show

from .reader import read_document, whole_number

if TYPE_CHECKING:
    from .reform import Operation

KINDS = ("export", "reexport", "transfer_in_country", "iaas_service")
MODES = ("as_published", "as_enforced")
END_USES = (
    "datacenter",
    "production",
    "storage",
    "development",
    "model_hosting",
    "ai_model_training_iaas",
    "consumer",
    "unknown",
)
VEU_TYPES = ("UVEU", "NVEU")
# Flags of the shared schema, then this project's compatible additions (README, "Case files").
FLAGS = (
    "unknown_end_user",
    "requests_model_weights",
    "non_datacenter_item",
    "nac_notified",
    "foreign_produced_direct_product",
    "foreign_produced",
    "government_end_user",
    "prc_designed_ic",
    "no_datacenter_footprint",
    "residential_or_warehouse_address",
    "refuses_end_use_information",
    "unverifiable_iaas_customer",
    "certified_91fr1684",
    "unauthorized_ic_designer",
    "onward_to_d5_or_macau",
)
CONFIDENCES = ("high", "medium", "low")
# Sanity bounds on inputs (not legal numbers): beyond them a figure is a typo, not a transaction.
MAX_QUANTITY = 10_000_000
MAX_TPP_PER_UNIT = 100_000_000
MAX_TPP_TOTAL = 10**15
MAX_TRAINING_OPS = 10**35
MAX_BANDWIDTH_GB_S = 10**7
MAX_CHAIN = 50  # owners in a parent chain
MAX_NAME = 200  # characters in an id, a name or a title
MAX_TEXT = 2_000  # characters in an expected explanation or reason
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2100, 12, 31)
CASE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:#-]*\Z")

TOP_FIELDS = {"id", "title", "as_of", "mode", "transaction", "what_if", "expected", "confidence"}
TRANSACTION_FIELDS = {
    "kind",
    "item",
    "quantity",
    "tpp_per_unit",
    "memory_bandwidth_gb_s",
    "model",
    "from_country",
    "destination_country",
    "end_user",
    "consignee_tpp_already_this_year",
    "country_tpp_already_allocated",
    "gov_to_gov_arrangement",
    "facts",
}
MODEL_FIELDS = {
    "training_ops",
    "weights_published",
    "open_weight_frontier_ops",
    "derived_from_published_model",
    "additional_training_ops",
}
EXPECTED_FIELDS = {
    "license_required",
    "authorized_by",
    "not_available",
    "red_flags",
    "citations",
    "explanation",
    "review_policy",
    "uncertain",
}
END_USER_FIELDS = {
    "name",
    "hq_country",
    "ultimate_parent_hq_country",
    "parent_chain",
    "veu",
    "veu_holdings",
    "nveu_authorization",
    "end_use",
}
HOLDINGS_FIELDS = {"global_tpp", "tier1_tpp", "us_tpp", "destination_tpp"}
NVEU_FIELDS = {"destination", "cumulative_tpp"}


# Where each `input` fact of kb/rules/base.dl comes from in a case file (the source of a fact in a proof).
INPUT_FIELDS = {
    "case": "id",
    "as_of": "as_of",
    "mode": "mode",
    "kind": "transaction.kind",
    "item": "transaction.item",
    "quantity": "transaction.quantity",
    "tpp_per_unit": "transaction.tpp_per_unit",
    "training_ops": "transaction.model.training_ops",
    "weights_published": "transaction.model.weights_published",
    "derived_from_published": "transaction.model.derived_from_published_model",
    "additional_training_ops": "transaction.model.additional_training_ops",
    "memory_bandwidth": "transaction.memory_bandwidth_gb_s",
    "frontier_ops_given": "transaction.model.open_weight_frontier_ops",
    "origin": "transaction.from_country",
    "destination": "transaction.destination_country",
    "end_user": "transaction.end_user.name",
    "hq": "transaction.end_user.hq_country",
    "declared_parent_hq": "transaction.end_user.ultimate_parent_hq_country",
    "controls": "transaction.end_user.parent_chain",
    "entity_hq": "transaction.end_user.parent_chain",
    "veu": "transaction.end_user.veu",
    "uveu_holdings": "transaction.end_user.veu_holdings",
    "nveu_authorization": "transaction.end_user.nveu_authorization",
    "end_use": "transaction.end_user.end_use",
    "consignee_ytd": "transaction.consignee_tpp_already_this_year",
    "country_allocated": "transaction.country_tpp_already_allocated",
    "g2g": "transaction.gov_to_gov_arrangement",
    "flag": "transaction.facts",
}


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
    memory_bandwidth: int | None = None
    training_ops: int | None = None
    weights_published: bool = False
    derived_from_published: bool = False
    additional_training_ops: int | None = None
    frontier_ops: int | None = None
    parent_chain: tuple[Party, ...] = ()
    veu: str | None = None
    uveu_holdings: tuple[int, int, int, int] | None = None
    nveu_authorization: tuple[str, int] | None = None
    consignee_ytd: int = 0
    country_allocated: int = 0
    g2g: bool = False
    flags: tuple[str, ...] = ()
    what_if: tuple[Operation, ...] = ()
    title: str = ""
    confidence: str | None = None
    expected: dict | None = None
    source: str = "<case>"

    def facts(self) -> list[tuple]:
        """The `input` facts of kb/rules/base.dl for this case."""
        c = self.id
        out: list[tuple] = [
            ("case", c),
            ("as_of", c, ontology.date_number(self.as_of)),
            ("mode", c, self.mode),
            ("kind", c, self.kind),
            ("item", c, self.item),
            ("origin", c, self.origin),
            ("destination", c, self.destination),
            ("end_user", c, self.end_user),
            ("end_use", c, self.end_use),
            ("consignee_ytd", c, self.consignee_ytd),
            ("country_allocated", c, self.country_allocated),
        ]
        if self.quantity is not None:
            out.append(("quantity", c, self.quantity))
        if self.tpp_per_unit is not None:
            out.append(("tpp_per_unit", c, self.tpp_per_unit))
        if self.training_ops is not None:
            out.append(("training_ops", c, self.training_ops))
        if self.memory_bandwidth is not None:
            out.append(("memory_bandwidth", c, self.memory_bandwidth))
        if self.weights_published:
            out.append(("weights_published", c))
        if self.derived_from_published:
            out.append(("derived_from_published", c))
        if self.additional_training_ops is not None:
            out.append(("additional_training_ops", c, self.additional_training_ops))
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
    """Strictly typed access to a mapping, reporting errors with the dotted field path. A wrong type is an
    error, never a default; values quoted in messages are escaped and cut (aidkb.kb.errors.show)."""

    def __init__(self, source: str, onto: ontology.Ontology):
        self.source, self.onto = source, onto

    def fail(self, path: str, message: str) -> NoReturn:
        raise CaseError(self.source, path, message)

    def mapping(self, value: Any, path: str, allowed: set[str]) -> dict:
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping, not {_kind(value)}")
        for key in value:
            if not isinstance(key, str) or key not in allowed:
                self.fail(
                    f"{path}.{escape(str(key))}" if path else escape(str(key)),
                    "unknown field (allowed: " + ", ".join(sorted(allowed)) + ")",
                )
        return value

    def required(self, m: dict, key: str, path: str):
        if key not in m:
            self.fail(f"{path}.{key}" if path else key, "missing required field")
        return m[key]

    @overload
    def string(
        self,
        value: Any,
        path: str,
        choices: Collection[str] | None = None,
        nullable: Literal[False] = False,
        limit: int = MAX_NAME,
    ) -> str: ...

    @overload
    def string(
        self, value: Any, path: str, choices: Collection[str] | None = None, *, nullable: bool, limit: int = MAX_NAME
    ) -> str | None: ...

    def string(
        self,
        value: Any,
        path: str,
        choices: Collection[str] | None = None,
        nullable: bool = False,
        limit: int = MAX_NAME,
    ) -> str | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(path, f"must be a non-empty string, not {show(value)}")
        if len(value) > limit:
            self.fail(path, f"is longer than {limit:,} characters")
        if escape(value) != value:
            self.fail(path, f"must not contain control characters: {show(value)}")
        if choices and value not in choices:
            self.fail(path, f"{show(value)} is not one of: {', '.join(choices)}")
        return value

    @overload
    def country(self, value: Any, path: str, nullable: Literal[False] = False) -> str: ...

    @overload
    def country(self, value: Any, path: str, nullable: bool) -> str | None: ...

    def country(self, value: Any, path: str, nullable: bool = False) -> str | None:
        if value is None and nullable:
            return None
        code = self.string(value, path)
        if code not in self.onto.countries:
            self.fail(path, f"unknown country code {show(code)} (ISO 3166-1 alpha-2 expected, e.g. MY)")
        return code

    def boolean(self, value: Any, path: str) -> bool:
        """true or false; null or absent is false."""
        if value is None:
            return False
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, not {show(value)}")
        return value

    @overload
    def integer(
        self, value: Any, path: str, maximum: int, nullable: Literal[False] = False, minimum: int = 0
    ) -> int: ...

    @overload
    def integer(self, value: Any, path: str, maximum: int, nullable: bool, minimum: int = 0) -> int | None: ...

    def integer(self, value: Any, path: str, maximum: int, nullable: bool = False, minimum: int = 0) -> int | None:
        if value is None:
            if nullable:
                return None
            self.fail(path, "must be a number, not null")
        number = self._exact(value, path)
        if number < minimum:
            self.fail(path, f"must not be less than {minimum}, not {show(value)}")
        if number > maximum:
            self.fail(path, f"{show(value)} is absurdly large (more than {maximum:,})")
        return number

    def _exact(self, value: Any, path: str) -> int:
        try:
            return whole_number(value)
        except (ValueError, ArithmeticError) as e:
            self.fail(path, f"{e}, not {show(value)}")

    def operations(self, value: Any, path: str) -> int | None:
        """A count of operations such as 2.0e+26, exact and positive (null or absent: not given)."""
        if value is None:
            return None
        number = self._exact(value, path)
        if number <= 0:
            self.fail(path, f"must be positive, not {show(value)}")
        if number > MAX_TRAINING_OPS:
            self.fail(path, f"{show(value)} is absurdly large (more than 1e35)")
        return number

    def date(self, value: Any, path: str) -> dt.date:
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                self.fail(path, f"{show(value)} is not a date of the calendar")
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            self.fail(path, f"must be a date YYYY-MM-DD, not {show(value)}")
        if not EARLIEST <= value <= LATEST:
            self.fail(path, f"{value} is outside {EARLIEST}..{LATEST}")
        return value

    def string_list(self, value: Any, path: str, choices: Collection[str] | None = None) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"must be a list, not {_kind(value)}")
        return [self.string(v, f"{path}[{i}]", choices, limit=MAX_TEXT) for i, v in enumerate(value)]


def _kind(value: Any) -> str:
    """What a wrongly typed value is, in words."""
    if isinstance(value, (int, Decimal, float)) and not isinstance(value, bool):
        return "a number"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "true or false", type(None): "null"}.get(
        type(value), f"a {type(value).__name__}"
    )


def parse_case(data: Any, source: str, onto: ontology.Ontology | None = None) -> Case:
    """Validate a case mapping (as loaded by aidkb.queries.reader) and return the Case."""
    from .reform import parse_operations

    onto = onto or ontology.load()
    r = _Reader(source, onto)
    top = r.mapping(data, "", TOP_FIELDS)
    case_id = r.string(r.required(top, "id", ""), "id")
    if not CASE_ID.match(case_id):
        r.fail("id", f"{show(case_id)} is not an id (letters, digits and . _ : # -, e.g. lpp-under-limit)")
    title = r.string(top.get("title"), "title", nullable=True) or ""
    confidence = r.string(top.get("confidence"), "confidence", CONFIDENCES, nullable=True)
    as_of = r.date(r.required(top, "as_of", ""), "as_of")
    mode = r.string(r.required(top, "mode", ""), "mode", MODES)
    t = r.mapping(r.required(top, "transaction", ""), "transaction", TRANSACTION_FIELDS)
    kind = r.string(r.required(t, "kind", "transaction"), "transaction.kind", KINDS)
    item = _item(r, r.string(r.required(t, "item", "transaction"), "transaction.item"))
    quantity = r.integer(t.get("quantity"), "transaction.quantity", MAX_QUANTITY, nullable=True, minimum=1)
    tpp = r.integer(t.get("tpp_per_unit"), "transaction.tpp_per_unit", MAX_TPP_PER_UNIT, nullable=True, minimum=1)
    bandwidth = r.integer(
        t.get("memory_bandwidth_gb_s"), "transaction.memory_bandwidth_gb_s", MAX_BANDWIDTH_GB_S, nullable=True
    )
    training_ops = frontier = additional = None
    published = derived = False
    if t.get("model") is not None:
        mp = "transaction.model"
        m = r.mapping(t["model"], mp, MODEL_FIELDS)
        training_ops = r.operations(m.get("training_ops"), f"{mp}.training_ops")
        published = r.boolean(m.get("weights_published"), f"{mp}.weights_published")
        frontier = r.operations(m.get("open_weight_frontier_ops"), f"{mp}.open_weight_frontier_ops")
        derived = r.boolean(m.get("derived_from_published_model"), f"{mp}.derived_from_published_model")
        additional = r.operations(m.get("additional_training_ops"), f"{mp}.additional_training_ops")
        model_consistency(r, training_ops, derived, additional)
    from_country = t.get("from_country")
    origin = "US" if from_country is None else r.country(from_country, "transaction.from_country")
    destination = r.country(r.required(t, "destination_country", "transaction"), "transaction.destination_country")
    eu = r.mapping(r.required(t, "end_user", "transaction"), "transaction.end_user", END_USER_FIELDS)
    p = "transaction.end_user"
    name = r.string(eu.get("name"), f"{p}.name", nullable=True) or "the end user"
    hq = r.country(r.required(eu, "hq_country", p), f"{p}.hq_country", nullable=True)
    parent_hq = r.country(
        r.required(eu, "ultimate_parent_hq_country", p), f"{p}.ultimate_parent_hq_country", nullable=True
    )
    chain = _parent_chain(r, eu.get("parent_chain"), name, parent_hq, f"{p}.parent_chain")
    veu = r.string(eu.get("veu"), f"{p}.veu", VEU_TYPES, nullable=True)
    holdings = nveu = None
    if eu.get("veu_holdings") is not None:
        if veu != "UVEU":
            r.fail(f"{p}.veu_holdings", "is only for a UVEU (veu: UVEU)")
        holdings = _holdings(r, eu["veu_holdings"], f"{p}.veu_holdings", destination)
    if eu.get("nveu_authorization") is not None:
        if veu != "NVEU":
            r.fail(f"{p}.nveu_authorization", "is only for an NVEU (veu: NVEU)")
        a = r.mapping(eu["nveu_authorization"], f"{p}.nveu_authorization", NVEU_FIELDS)
        cumulative = a.get("cumulative_tpp")
        nveu = (
            r.country(r.required(a, "destination", f"{p}.nveu_authorization"), f"{p}.nveu_authorization.destination"),
            r.integer(0 if cumulative is None else cumulative, f"{p}.nveu_authorization.cumulative_tpp", MAX_TPP_TOTAL),
        )
    end_use = r.string(r.required(eu, "end_use", p), f"{p}.end_use", END_USES)
    ytd = t.get("consignee_tpp_already_this_year")
    ytd = r.integer(0 if ytd is None else ytd, "transaction.consignee_tpp_already_this_year", MAX_TPP_TOTAL)
    allocated = t.get("country_tpp_already_allocated")
    allocated = r.integer(
        0 if allocated is None else allocated, "transaction.country_tpp_already_allocated", MAX_TPP_TOTAL
    )
    volume(r, quantity, tpp)
    flags = _flags(r, t.get("facts"), "transaction.facts")
    what_if = parse_operations(top.get("what_if"), source, "what_if", onto)
    expected = _expected(r, top.get("expected"), onto) if top.get("expected") is not None else None
    return Case(
        id=case_id,
        as_of=as_of,
        mode=mode,
        kind=kind,
        item=item,
        destination=destination,
        origin=origin,
        end_user=name,
        hq=hq,
        parent_hq=parent_hq,
        end_use=end_use,
        quantity=quantity,
        tpp_per_unit=tpp,
        memory_bandwidth=bandwidth,
        training_ops=training_ops,
        weights_published=published,
        derived_from_published=derived,
        additional_training_ops=additional,
        frontier_ops=frontier,
        parent_chain=chain,
        veu=veu,
        uveu_holdings=holdings,
        nveu_authorization=nveu,
        consignee_ytd=ytd,
        country_allocated=allocated,
        g2g=r.boolean(t.get("gov_to_gov_arrangement"), "transaction.gov_to_gov_arrangement"),
        flags=flags,
        what_if=what_if,
        title=title,
        confidence=confidence,
        expected=expected,
        source=source,
    )


def model_consistency(r: _Reader, training_ops: int | None, derived: bool, additional: int | None) -> None:
    """A model's training figures fit together (4E091 Note 1): shared with the column-wise portfolio check."""
    mp = "transaction.model"
    if additional is not None and not derived:
        r.fail(
            f"{mp}.additional_training_ops",
            "is only for a model derived from a published model (derived_from_published_model: true)",
        )
    if derived and additional is None:
        r.fail(
            f"{mp}.additional_training_ops",
            "is required when derived_from_published_model is true "
            "(4E091 Note 1 compares it with the training operations)",
        )
    if derived and training_ops is None:
        r.fail(f"{mp}.training_ops", "is required when derived_from_published_model is true")
    if additional is not None and training_ops is not None and additional > training_ops:
        r.fail(
            f"{mp}.additional_training_ops",
            f"{additional:,} is more than training_ops {training_ops:,} "
            "(the training operations include the additional training)",
        )


def volume(r: _Reader, quantity: int | None, tpp: int | None) -> None:
    """The shipment's total TPP within the sanity bound."""
    if quantity is not None and tpp is not None and quantity * tpp > MAX_TPP_TOTAL:
        r.fail("transaction.quantity", f"{quantity:,} units x {tpp:,} TPP is absurdly large")


def _item(r: _Reader, eccn: str) -> str:
    """An ECCN paragraph the knowledge base knows (ontology/src/items.ttl)."""
    if eccn not in r.onto.items:
        paragraphs = sorted(e for e in r.onto.items if e.startswith(eccn + "."))
        if paragraphs:
            r.fail(
                "transaction.item",
                f"{show(eccn)} has several paragraphs with different licence requirements: "
                f"name one of {', '.join(paragraphs)}",
            )
        entries = sorted({e.split(".")[0] for e in r.onto.items})
        r.fail(
            "transaction.item",
            f"unknown ECCN paragraph {show(eccn)} (the knowledge base covers the paragraphs "
            f"of {', '.join(entries)}, e.g. 3A090.a, 4A090.b, 5A992.z.1, 4E091)",
        )
    return eccn


def _parent_chain(r: _Reader, value: Any, end_user: str, parent_hq: str | None, path: str) -> tuple[Party, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        r.fail(path, "must be a non-empty list of {name, hq_country}")
    if len(value) > MAX_CHAIN:
        r.fail(path, f"has {len(value):,} owners; at most {MAX_CHAIN} are accepted")
    seen = {end_user}
    chain = []
    for i, entry in enumerate(value):
        e = r.mapping(entry, f"{path}[{i}]", {"name", "hq_country"})
        name = r.string(r.required(e, "name", f"{path}[{i}]"), f"{path}[{i}].name")
        if name in seen:
            r.fail(f"{path}[{i}].name", f"ownership chain loops: {show(name)} appears twice (counting the end user)")
        seen.add(name)
        chain.append(Party(name, r.country(r.required(e, "hq_country", f"{path}[{i}]"), f"{path}[{i}].hq_country")))
    if parent_hq is not None and chain[-1].hq_country != parent_hq:
        r.fail(
            path,
            f"the last owner ({show(chain[-1].name)}) is headquartered in {chain[-1].hq_country}, but "
            f"ultimate_parent_hq_country is {parent_hq}",
        )
    return tuple(chain)


def _holdings(r: _Reader, value: Any, path: str, destination: str) -> tuple[int, int, int, int]:
    """A UVEU's holdings before the shipment; the parts must fit in the whole (the US is part of Tier 1, and a
    destination outside the US holds none of the US figure). Whether the destination is in Tier 1 on the date
    is the rules' to say: kb/rules/inputs.dl checks the rest."""
    h = r.mapping(value, path, HOLDINGS_FIELDS)
    g, t1, us, d = (
        r.integer(r.required(h, k, path), f"{path}.{k}", MAX_TPP_TOTAL)
        for k in ("global_tpp", "tier1_tpp", "us_tpp", "destination_tpp")
    )
    if t1 > g:
        r.fail(f"{path}.tier1_tpp", f"{t1:,} is more than global_tpp {g:,}")
    if us > t1:
        r.fail(f"{path}.us_tpp", f"{us:,} is more than tier1_tpp {t1:,} (the US is part of Tier 1)")
    if d > g:
        r.fail(f"{path}.destination_tpp", f"{d:,} is more than global_tpp {g:,}")
    if destination == "US" and d != us:
        r.fail(f"{path}.destination_tpp", f"{d:,} differs from us_tpp {us:,}, but the destination is the US")
    if destination != "US" and us + d > g:
        r.fail(f"{path}.destination_tpp", f"{d:,} in {destination} plus {us:,} in the US is more than global_tpp {g:,}")
    return g, t1, us, d


def _flags(r: _Reader, value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        r.fail(path, f"must be a list of flags, not {_kind(value)}")
    out = []
    for i, flag in enumerate(value):
        if not isinstance(flag, str) or flag not in FLAGS:
            r.fail(f"{path}[{i}]", f"unknown fact {show(flag)} (known: {', '.join(FLAGS)})")
        out.append(flag)
    return tuple(dict.fromkeys(out))


def _expected(r: _Reader, value: Any, onto: ontology.Ontology) -> dict:
    """The `expected` block of a legal test, validated as strictly as the inputs (a typo must not pass)."""
    e = r.mapping(value, "expected", EXPECTED_FIELDS)
    routes = tuple(onto.authorizations)
    out: dict = {}
    if "license_required" in e:
        if not isinstance(e["license_required"], bool):
            r.fail("expected.license_required", f"must be true or false, not {show(e['license_required'])}")
        out["license_required"] = e["license_required"]
    if "authorized_by" in e:
        out["authorized_by"] = r.string_list(e["authorized_by"], "expected.authorized_by", routes)
    if "uncertain" in e:
        out["uncertain"] = r.string_list(e["uncertain"], "expected.uncertain", routes)
    if "red_flags" in e:
        out["red_flags"] = r.string_list(e["red_flags"], "expected.red_flags", tuple(onto.red_flags))
    if "citations" in e:
        out["citations"] = r.string_list(e["citations"], "expected.citations")
    if e.get("not_available") is not None:
        na = r.mapping(e["not_available"], "expected.not_available", set(routes))
        out["not_available"] = {k: r.string(v, f"expected.not_available.{k}", limit=MAX_TEXT) for k, v in na.items()}
    if "review_policy" in e:
        out["review_policy"] = r.string(e["review_policy"], "expected.review_policy", nullable=True, limit=MAX_TEXT)
    if "explanation" in e:
        out["explanation"] = r.string(e["explanation"], "expected.explanation", nullable=True, limit=MAX_TEXT)
    return out


def load_case(path: Path | str, onto: ontology.Ontology | None = None) -> Case:
    """Read and validate one case file (through the hardened reader: queries/reader.py)."""
    source = str(path)
    try:
        data = read_document(path, source)
    except InputError as e:
        raise CaseError(e.source, e.field, e.message) from None
    return parse_case(data, source, onto)
