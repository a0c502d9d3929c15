"""The ontology: Turtle sources under ontology/src, read with rdflib; facts leave it only through the
SPARQL queries kept in queries/sparql."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import rdflib
import rdflib.query

HERE = Path(__file__).parent
SOURCES = HERE / "src"
BUILT = HERE / "aidkb.owl"
FACTS = HERE / "facts.json"
SHAPES = HERE / "shapes.ttl"
SPARQL = HERE.parent / "queries" / "sparql"
log = logging.getLogger(__name__)
AID = rdflib.Namespace("https://w3id.org/aidkb/ontology#")
OPEN_END = 99991231


def date_number(value) -> int:
    """A date as the yyyymmdd integer the rules compare (2025-05-15 -> 20250515)."""
    if isinstance(value, rdflib.Literal):
        value = value.toPython()
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    return value.year * 10000 + value.month * 100 + value.day


def exact(value: float) -> int:
    """A whole number given as a float (1.0e26), as the exact integer its decimal form names (10**26)."""
    d = Decimal(repr(value))
    if d != d.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number")
    return int(d)


def source_graph() -> rdflib.Graph:
    graph = rdflib.Graph()
    for path in sorted(SOURCES.glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


def select(graph: rdflib.Graph, name: str) -> list[dict]:
    """Run queries/sparql/<name>.rq and return its rows as dicts of Python values."""
    rows = graph.query((SPARQL / f"{name}.rq").read_text())
    out = []
    for row in rows:
        assert isinstance(row, rdflib.query.ResultRow)  # a SELECT query's rows
        out.append(
            {
                str(k): (v.toPython() if isinstance(v, rdflib.Literal) else (str(v) if v is not None else None))
                for k, v in row.asdict().items()
            }
            | {str(k): None for k in rows.vars or () if row[k] is None}
        )
    return out


@dataclass(frozen=True)
class Parameter:
    name: str
    value: int | float
    valid_from: int
    valid_to: int
    citation: str
    grade: str
    unit: str
    note: str
    iri: str = ""


class Membership(NamedTuple):
    """A dated listing of a country in a group, with its source (a U grade marks a contested listing)."""

    code: str
    group: str
    valid_from: int
    valid_to: int
    grade: str
    citation: str
    iri: str
    note: str | None = None


@dataclass(frozen=True)
class Provision:
    citation: str
    title: str
    url: str
    grade: str
    iri: str = ""
    text: str | None = None  # the provision's words, where they were read (public-domain US text)
    text_source: str | None = None  # where: eCFR issue date and paragraph, or FR citation


@dataclass(frozen=True)
class Term:
    """A value of the case files, decisions or reforms in words: its title and a one-line help (terms.rq)."""

    id: str
    kind: str  # transaction kind, end use, case fact, obligation, parameter, country group or red flag
    title: str
    help: str


@dataclass
class Ontology:
    """What the rules and the answers need from the ontology, extracted once by SPARQL."""

    countries: dict[str, str] = field(default_factory=dict)  # code -> English name
    memberships: list[Membership] = field(default_factory=list)
    parameters: list[Parameter] = field(default_factory=list)
    items: dict[str, dict] = field(default_factory=dict)  # eccn -> {class, kind, from, level, exceptions, ...}
    authorizations: dict[str, dict] = field(default_factory=dict)  # id -> {kind, name, citation}
    provisions: dict[str, Provision] = field(default_factory=dict)  # citation -> Provision
    red_flags: dict[str, dict] = field(default_factory=dict)  # id -> {source, label, citation}
    rule_versions: list[dict] = field(default_factory=list)  # the dated texts, oldest first (rule_versions.rq)
    terms: dict[str, Term] = field(default_factory=dict)  # value -> its title and help (terms.rq)

    @classmethod
    def from_graph(cls, graph: rdflib.Graph) -> Ontology:
        o = cls()
        o.countries = {r["code"]: r["name"] for r in select(graph, "countries")}
        o.memberships = [
            Membership(
                r["code"],
                r["group"],
                date_number(r["from"]),
                date_number(r["to"]) if r["to"] else OPEN_END,
                r["grade"],
                r["citation"],
                r["m"],
                r["note"],
            )
            for r in select(graph, "group_members")
        ]
        for r in select(graph, "parameters"):
            value = r["value"]
            if isinstance(value, dt.date):
                value = date_number(value)
            elif isinstance(value, float):
                value = exact(value)
            o.parameters.append(
                Parameter(
                    r["name"],
                    value,
                    date_number(r["from"]),
                    date_number(r["to"]) if r["to"] else OPEN_END,
                    r["citation"],
                    r["grade"],
                    r["unit"],
                    r["note"],
                    r["p"],
                )
            )
        for r in select(graph, "items"):
            item = o.items.setdefault(
                r["eccn"],
                {
                    "class": r["class"],
                    "kind": r["kind"],
                    "from": date_number(r["from"]),
                    "citation": r["citation"],
                    "level": r["level"],
                    "licence": r["licence"],
                    "exceptions": [],
                    "read_as": r["read_as"],
                    "label": r["label"],
                    "text": r["text"],
                    "exception_text": r["exception_text"],
                    "source": r["source"],
                    "grade": r["grade"],
                },
            )
            if r["exception"]:
                item["exceptions"].append(r["exception"].split(" ", 1))
        o.authorizations = {
            r["id"]: {"kind": r["kind"], "name": r["name"], "citation": r["citation"]}
            for r in select(graph, "authorizations")
        }
        o.provisions = {
            r["citation"]: Provision(r["citation"], r["title"], r["url"], r["grade"], r["p"], r["text"], r["source"])
            for r in select(graph, "provisions")
        }
        o.red_flags = {
            r["id"]: {"source": r["source"], "label": r["label"], "citation": r["citation"]}
            for r in select(graph, "red_flags")
        }
        o.rule_versions = [
            {
                "citation": r["citation"],
                "title": r["title"],
                "grade": r["grade"],
                "encodes": r["encodes"],
                **{k: r[k].date().isoformat() if r[k] else None for k in ("published", "effective", "compliance")},
            }
            for r in select(graph, "rule_versions")
        ]
        o.terms = {r["id"]: Term(r["id"], r["kind"], r["title"], r["help"]) for r in select(graph, "terms")}
        return o

    def facts(self) -> list[tuple]:
        """The base facts the rules declare with `base` (see kb/rules/base.dl)."""
        out: list[tuple] = [("country", code) for code in self.countries]
        out += [("group_member", m.code, m.group, m.valid_from, m.valid_to) for m in self.memberships]
        out += [("param", p.name, p.value, p.valid_from, p.valid_to) for p in self.parameters]
        out += [("item_class", eccn, i["class"], i["from"]) for eccn, i in self.items.items()]
        out += [("item_kind", eccn, i["kind"]) for eccn, i in self.items.items()]
        out += [("item_level", eccn, i["level"]) for eccn, i in self.items.items()]
        out += [
            ("item_exception", eccn, route, condition)
            for eccn, i in self.items.items()
            for route, condition in i["exceptions"]
        ]
        out += [("item_read_as", eccn, i["read_as"]) for eccn, i in self.items.items() if i["read_as"]]
        out += [("authorization", a) for a in self.authorizations]
        return out

    def title(self, value: str) -> str:
        """A case-file value, obligation, parameter or red flag by its title (the value itself where it has none)."""
        term = self.terms.get(value)
        return term.title if term else value

    def titled(self, value: str) -> str:
        """A value as an answer names it: its title with the value beside it ("LPP consignee certification
        (lpp_consignee_certification)"), the value alone where it has no other title."""
        title = self.title(value)
        return value if title == value else f"{title} ({value})"

    def parameter(self, name: str, on: int) -> Parameter | None:
        for p in self.parameters:
            if p.name == name and p.valid_from <= on < p.valid_to:
                return p
        return None


def source_hash() -> str:
    """A hash of everything the extracted facts depend on: the Turtle sources and the SPARQL queries."""
    h = hashlib.sha256()
    for path in sorted(SOURCES.glob("*.ttl")) + sorted(SPARQL.glob("*.rq")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def to_json(o: Ontology) -> dict:
    data = asdict(o)
    data["source_hash"] = source_hash()
    return data


def from_json(data: dict) -> Ontology:
    return Ontology(
        countries=data["countries"],
        memberships=[Membership(*m) for m in data["memberships"]],
        parameters=[Parameter(**p) for p in data["parameters"]],
        items=data["items"],
        authorizations=data["authorizations"],
        provisions={k: Provision(**v) for k, v in data["provisions"].items()},
        red_flags=data["red_flags"],
        rule_versions=data["rule_versions"],
        terms={k: Term(**v) for k, v in data["terms"].items()},
    )


@lru_cache(maxsize=1)
def load() -> Ontology:
    """The embedded ontology, read once per process: from facts.json (written by `aidkb ontology` from the
    same SPARQL queries) when it matches the sources, else straight from the sources through SPARQL."""
    if FACTS.exists():
        data = json.loads(FACTS.read_text(encoding="utf-8"))
        if data.get("source_hash") == source_hash():
            return from_json(data)
        log.warning("%s does not match ontology/src (run `aidkb ontology`): reading the sources through SPARQL", FACTS)
    else:
        log.warning("%s is missing (run `aidkb ontology`): reading the sources through SPARQL", FACTS)
    return Ontology.from_graph(source_graph())
