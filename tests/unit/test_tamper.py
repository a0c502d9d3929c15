"""The tamper bar: the decision documents (`decide --json`, proof included) of every bundled case, and of cases
decided under every kind of reform, are valid; every harmful tampering of one of them is rejected.

Each tampering changes what a reader reads or what the proof rests on: a rule's sentence or citations, a binding,
a premise dropped or duplicated, a fact's source (citation, value, validity, field, IRI), a why-not text, a
refutation's reason, category, rules tried or deeper `because`, a comparison's operator or values, an
assignment's variable or value, the question (date, mode, case, an input, the reform) or an answer field of the
decision. Sites are drawn with a fixed seed per case and kind, so a run is repeatable.
"""

from __future__ import annotations

import copy
import json
import random
import zlib
from pathlib import Path

import pytest

from aidkb.queries.case import load_case
from aidkb.queries.checker import check_proof, check_text
from aidkb.queries.decide import decide
from aidkb.queries.proof import children

from ..conftest import OWN_CASES, SHARED_CASES

LPP_WITHOUT_LIMIT = """@rule lpp_conditions
@cite "15 CFR 740.29"
@says "LPP's own conditions are met: the {Kind} of {Eccn} goes to {Country}"
lpp_conditions_met(C) :-
    regime(C, "diffusion"),
    advanced_computing_item(C),
    kind(C, Kind),
    export_or_reexport(Kind),
    item(C, Eccn),
    item_exception(Eccn, "LPP", _),
    destination(C, Country),
    not d5_or_macau(C, Country)."""
EXTRA_FLAG = (
    '@rule extra_flag_for_malaysia @cite "15 CFR 744.6" @says "a test flag on {C}" '
    'red_flag(C, "unknown_end_user") :- case(C), destination(C, "MY").'
)
# Cases decided under each kind of reform (dated and undated), from a shared case.
REFORMS = {
    "dated-move": (
        "whatif-move-malaysia-to-tier1",
        [{"move_country": {"country": "MY", "to_tier": 1, "from": "2025-05-20"}}],
    ),
    "dated-set-parameter": (
        "lpp-over-annual-limit",
        [{"set_parameter": {"name": "lpp_annual_tpp_limit", "value": 40_000_000, "from": "2025-05-20"}}],
    ),
    "add-to-group": ("lpp-under-annual-limit", [{"add_to_group": {"country": "MY", "group": "D5"}}]),
    "remove-from-group": (
        "tier3-china-datacenter",
        [{"remove_from_group": {"country": "CN", "group": "D5", "from": "2025-01-01"}}],
    ),
    "add-rule": ("lpp-under-annual-limit", [{"add_rule": {"text": EXTRA_FLAG}}]),
    "replace-rule": ("lpp-over-annual-limit", [{"replace_rule": {"id": "lpp_conditions", "text": LPP_WITHOUT_LIMIT}}]),
    "disable-rule": ("lpp-under-annual-limit", [{"disable_rule": {"id": "lpp_authorizes"}}]),
}


def _reform_case(tmp: Path, name: str) -> Path:
    import yaml

    base, ops = REFORMS[name]
    data = yaml.safe_load((SHARED_CASES / f"{base}.yaml").read_text())
    data["id"], data["what_if"] = f"reform-{name}", ops
    data.pop("expected", None)
    path = tmp / f"reform-{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def decisions(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("reforms")
    paths = sorted(SHARED_CASES.glob("*.yaml")) + sorted(OWN_CASES.glob("*.yaml"))
    paths += [_reform_case(tmp, name) for name in REFORMS]
    return {p.stem: decide(load_case(p)) for p in paths}


@pytest.fixture(scope="module")
def written(decisions) -> dict[str, dict]:
    """The decision documents as `decide --json` prints them (decision.v2, the proof as proof.v2)."""
    return {name: json.loads(json.dumps(d.to_json())) for name, d in decisions.items()}


@pytest.fixture(scope="module")
def documents(decisions, written) -> dict[str, dict]:
    """The same decisions with the proof as its tree (queries/proof.py: the engine's values; decision.v1): what
    the tamperings below change, and what the checker reads a proof.v2 document as."""
    return {
        name: json.loads(json.dumps({**{k: v for k, v in written[name].items() if k != "obstacles"}, "proof": d.proof}))
        for name, d in decisions.items()
    }


def _as_v2(doc: dict, decision, written: dict) -> dict:
    """A (tampered) decision.v1 document written as decide --json writes decision.v2."""
    from aidkb import ontology
    from aidkb.queries.proof_v2 import to_v2

    proof = to_v2(doc["proof"], decision.program, ontology.load())
    return json.loads(json.dumps({**doc, "obstacles": written["obstacles"], "proof": proof}))


# ---- walking a proof


def _nodes(doc: dict) -> list[dict]:
    out = []

    def walk(n):
        out.append(n)
        for _, child in children(n):
            walk(child)

    for n in doc["proof"]["conclusions"] + doc["proof"]["refutations"]:
        walk(n)
    return out


def _reword(text: str) -> str:
    for a, b in (
        (" is not ", " is "),
        (" is ", " is not "),
        (" not ", " "),
        (" exceeds ", " is within "),
        (" within ", " beyond "),
        (" no ", " a "),
    ):
        if a in text:
            return text.replace(a, b, 1)
    return "not " + text


def _other(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 2 + 1
    return str(value) + "X"


OPS = ["<", "<=", ">", ">=", "==", "!="]


def _site(kind):
    """A tampering that changes one node matching `where`, drawn by the seed."""

    def decorator(change):
        def tamper(doc, rng):
            sites = [n for n in _nodes(doc) if kind(n)]
            if not sites:
                return None
            change(rng.choice(sites), rng, doc)
            return doc

        tamper.__name__ = change.__name__
        return tamper

    return decorator


def _rule(n):
    return n.get("kind") == "rule"


@_site(_rule)
def sentence(n, rng, doc):
    n["sentence"] = _reword(n["sentence"])


@_site(_rule)
def citation(n, rng, doc):
    n["citations"] = n["citations"][1:] if len(n["citations"]) > 1 else ["15 CFR 740.99"]


@_site(lambda n: _rule(n) and n["bindings"])
def binding(n, rng, doc):
    k = rng.choice(sorted(n["bindings"]))
    n["bindings"][k] = _other(n["bindings"][k])


@_site(lambda n: _rule(n) and n["premises"])
def dropped_premise(n, rng, doc):
    n["premises"].pop(rng.randrange(len(n["premises"])))


@_site(lambda n: _rule(n) and n["premises"])
def duplicated_premise(n, rng, doc):
    i = rng.randrange(len(n["premises"]))
    n["premises"].insert(i, copy.deepcopy(n["premises"][i]))


@_site(lambda n: n.get("kind") == "fact" and "citation" in n["source"])
def source_citation(n, rng, doc):
    n["source"]["citation"] = "15 CFR 999.1"


@_site(lambda n: n.get("kind") == "fact" and n["source"].get("type") == "parameter")
def source_value(n, rng, doc):
    n["source"]["value"] = _other(n["source"]["value"])


@_site(lambda n: n.get("kind") == "fact" and n["source"].get("type") == "parameter")
def source_validity(n, rng, doc):
    key = rng.choice(["valid_from", "valid_to"])
    n["source"][key] = 20250101 if n["source"][key] != 20250101 else 20240101


@_site(lambda n: n.get("kind") == "fact" and n["source"].get("type") == "parameter")
def source_grade(n, rng, doc):
    n["source"]["grade"] = "U" if n["source"].get("grade") != "U" else "A"


@_site(lambda n: n.get("kind") == "fact" and n["source"].get("type") == "case")
def source_field(n, rng, doc):
    n["source"]["field"] = "transaction.quantity" if n["source"]["field"] != "transaction.quantity" else "as_of"


@_site(lambda n: n.get("kind") == "fact" and "iri" in n["source"])
def source_iri(n, rng, doc):
    n["source"]["iri"] = n["source"]["iri"] + "_other"


@_site(lambda n: n.get("kind") == "fact")
def fact_atom(n, rng, doc):
    i = rng.randrange(1, len(n["atom"]))
    n["atom"][i] = _other(n["atom"][i])


@_site(lambda n: _rule(n) and any(p.get("kind") == "rule" and p["premises"] for p in n["premises"]))
def ref_cycle(n, rng, doc):
    inner = rng.choice([p for p in n["premises"] if p.get("kind") == "rule" and p["premises"]])
    inner["premises"][rng.randrange(len(inner["premises"]))] = {"kind": "ref", "atom": copy.deepcopy(n["atom"])}


@_site(lambda n: n.get("kind") == "not")
def why_not(n, rng, doc):
    n["why_not"] = _reword(n["why_not"])


@_site(lambda n: n.get("kind") == "refutation")
def reason(n, rng, doc):
    n["reason"] = _reword(n["reason"])


CATEGORIES = [
    "not in force or not enforced on that date",
    "threshold exceeded",
    "defeated by an exclusion",
    "missing fact",
    "not applicable",
]


@_site(lambda n: n.get("kind") == "refutation")
def category(n, rng, doc):
    n["category"] = rng.choice([c for c in CATEGORIES if c != n["category"]])


@_site(lambda n: n.get("kind") == "refutation" and n.get("tried"))
def tried(n, rng, doc):
    t = rng.choice(n["tried"])
    t["reason"] = _reword(t["reason"])


@_site(lambda n: n.get("kind") == "refutation" and n.get("obstacles"))
def obstacle(n, rng, doc):
    if len(n["obstacles"]) > 1 and rng.random() < 0.5:
        n["obstacles"].pop(rng.randrange(len(n["obstacles"])))
    else:
        o = rng.choice(n["obstacles"])
        o["reason"] = _reword(o["reason"])


@_site(lambda n: n.get("kind") == "refutation" and "failed_at" in n)
def failed_at(n, rng, doc):
    n["failed_at"] += 1


@_site(lambda n: n.get("kind") == "refutation" and "values" in n)
def values_op(n, rng, doc):
    n["values"]["op"] = rng.choice([o for o in OPS if o != n["values"]["op"]])


@_site(lambda n: n.get("kind") == "refutation" and "because" in n)
def because(n, rng, doc):
    others = [
        m
        for m in _nodes(doc)
        if m.get("kind") == "refutation"
        and m is not n
        and m is not n["because"]
        and m.get("atom") != n["because"].get("atom")
    ]
    n["because"] = (
        copy.deepcopy(rng.choice(others))
        if others
        else {"kind": "refutation", "atom": ["case", "x"], "reason": "x", "category": "not applicable"}
    )


@_site(lambda n: n.get("kind") == "compare")
def compare_op(n, rng, doc):
    n["op"] = rng.choice([o for o in OPS if o != n["op"]])


@_site(lambda n: n.get("kind") == "compare")
def compare_value(n, rng, doc):
    k = rng.choice(["left", "right"])
    n[k] = _other(n[k])


@_site(lambda n: n.get("kind") == "assign")
def assign_var(n, rng, doc):
    n["var"] = n["var"] + "2"


@_site(lambda n: n.get("kind") == "assign")
def assign_value(n, rng, doc):
    n["value"] = _other(n["value"])


def as_of(doc, rng):
    day = doc["proof"]["question"]["as_of"]
    doc["proof"]["question"]["as_of"] = day[:8] + ("02" if day[8:] != "02" else "03")
    return doc


def as_of_everywhere(doc, rng):
    q = doc["proof"]["question"]
    old = int(q["as_of"].replace("-", ""))
    q["as_of"] = q["as_of"][:8] + ("02" if q["as_of"][8:] != "02" else "03")
    new = int(q["as_of"].replace("-", ""))
    q["inputs"] = [[f[0], f[1], new] if f[0] == "as_of" else f for f in q["inputs"]]
    doc["as_of"] = q["as_of"]
    for n in _nodes(doc):
        if n.get("atom") == ["as_of", q["case"], old]:
            n["atom"] = ["as_of", q["case"], new]
    return doc


def mode(doc, rng):
    q = doc["proof"]["question"]
    q["mode"] = "as_enforced" if q["mode"] == "as_published" else "as_published"
    return doc


def case_id(doc, rng):
    doc["proof"]["question"]["case"] += "-other"
    return doc


def input_fact(doc, rng):
    """An input the proof uses, changed in the question only (an input no step reads can be changed: that is a
    true proof about another question, which only the case file could tell)."""
    used = {json.dumps(n["atom"]) for n in _nodes(doc) if n.get("kind") == "fact"}
    inputs = [
        f
        for f in doc["proof"]["question"]["inputs"]
        if len(f) > 2 and f[0] not in ("as_of", "mode") and json.dumps(f) in used
    ]
    if not inputs:
        return None
    f = rng.choice(inputs)
    i = rng.randrange(2, len(f))
    f[i] = _other(f[i])
    return doc


def dropped_reform(doc, rng):
    if not doc["proof"]["question"]["what_if"]:
        return None
    doc["proof"]["question"]["what_if"] = []
    return doc


def reform_args(doc, rng):
    ops = doc["proof"]["question"]["what_if"]
    candidates = [o for o in ops if o["op"] in ("move_country", "set_parameter", "add_to_group", "remove_from_group")]
    if not candidates:
        return None
    o = rng.choice(candidates)
    if "from" in o["args"]:
        o["args"]["from"] = "2025-07-01"
    elif o["op"] == "set_parameter":
        o["args"]["value"] += 1
    else:
        o["args"]["from"] = "2030-01-01"
    return doc


def reform_internal_form(doc, rng):
    ops = [o for o in doc["proof"]["question"]["what_if"] if "from" in o["args"]]
    if not ops:
        return None
    ops[0]["args"]["from"] = int(ops[0]["args"]["from"].replace("-", ""))
    return doc


def dropped_conclusion(doc, rng):
    c = doc["proof"]["conclusions"]
    if len(c) < 2:
        return None
    c.pop(rng.randrange(len(c)))
    return doc


def answer(field, change):
    def tamper(doc, rng):
        if change(doc, rng) is False:
            return None
        return doc

    tamper.__name__ = f"answer_{field}"
    return tamper


ROUTES = ["AIA", "ACM", "LPP", "ACA", "NAC", "UVEU", "NVEU"]


def _flip(doc, rng):
    doc["license_required"] = not doc["license_required"]


def _route(doc, rng):
    if doc["authorized_by"]:
        doc["authorized_by"].pop()
    else:
        doc["authorized_by"].append(rng.choice(ROUTES))


def _flag(doc, rng):
    doc["red_flags"] = doc["red_flags"][1:] if doc["red_flags"] else ["unknown_end_user"]


def _not_available(doc, rng):
    if not doc["not_available"]:
        return False
    k = rng.choice(sorted(doc["not_available"]))
    doc["not_available"][k] = _reword(doc["not_available"][k])


def _because(doc, rng):
    if doc["no_licence_because"] is None:
        doc["no_licence_because"] = "no licence is needed"
    else:
        doc["no_licence_because"] = _reword(doc["no_licence_because"])


def _status(doc, rng):
    doc["status"] = _reword(doc["status"])


def _reasons(doc, rng):
    if not doc["reasons"]:
        return False
    r = rng.choice(doc["reasons"])
    r["text"] = _reword(r["text"])


def _citations(doc, rng):
    if not doc["citations"]:
        return False
    doc["citations"].pop(rng.randrange(len(doc["citations"])))


def _review(doc, rng):
    doc["review_policy"] = None if doc["review_policy"] else "presumption of approval"


def _what_if(doc, rng):
    doc["what_if"] = doc["what_if"][1:] if doc["what_if"] else ["move CN to Tier 1"]


def _regime(doc, rng):
    doc["regime"] = "none" if doc["regime"] != "none" else "diffusion"


def _caveats(doc, rng):
    if not doc["caveats"]:
        doc["caveats"] = ["rule lpp_conditions rests on an unverified reading"]
    elif rng.random() < 0.5:
        doc["caveats"].pop(rng.randrange(len(doc["caveats"])))
    else:
        i = rng.randrange(len(doc["caveats"]))
        doc["caveats"][i] = _reword(doc["caveats"][i].replace("would differ", "is the same"))


def _as_of(doc, rng):
    doc["as_of"] = "2030-01-01"


TAMPERINGS = [
    sentence,
    citation,
    binding,
    dropped_premise,
    duplicated_premise,
    source_citation,
    source_value,
    source_validity,
    source_grade,
    source_field,
    source_iri,
    fact_atom,
    ref_cycle,
    why_not,
    reason,
    category,
    tried,
    obstacle,
    failed_at,
    values_op,
    because,
    compare_op,
    compare_value,
    assign_var,
    assign_value,
    as_of,
    as_of_everywhere,
    mode,
    case_id,
    input_fact,
    dropped_reform,
    reform_args,
    reform_internal_form,
    dropped_conclusion,
    answer("license_required", _flip),
    answer("authorized_by", _route),
    answer("red_flags", _flag),
    answer("not_available", _not_available),
    answer("no_licence_because", _because),
    answer("status", _status),
    answer("reasons", _reasons),
    answer("citations", _citations),
    answer("review_policy", _review),
    answer("what_if", _what_if),
    answer("regime", _regime),
    answer("as_of", _as_of),
    answer("caveats", _caveats),
]


# ---- tamperings of what only proof.v2 writes


def _typed(doc: dict, *keys: str) -> list[tuple]:
    """(container, key) of every typed value of the proof whose keys are `keys` (e.g. amount and unit)."""
    out: list[tuple] = []

    def walk(x):
        items = x.items() if isinstance(x, dict) else enumerate(x) if isinstance(x, list) else []
        for k, v in items:
            if isinstance(v, dict) and set(v) == set(keys):
                out.append((x, k))
            else:
                walk(v)

    walk(doc["proof"])
    return out


def _v2_site(*keys: str, where=lambda v: True):
    def decorator(change):
        def tamper(doc, rng):
            sites = [(c, k) for c, k in _typed(doc, *keys) if where(c[k])]
            if not sites:
                return None
            c, k = rng.choice(sites)
            c[k] = change(c[k])
            return doc

        tamper.__name__ = change.__name__
        return tamper

    return decorator


@_v2_site("amount", "unit")
def v2_unit(v):
    return {**v, "unit": "operations" if v["unit"] != "operations" else "TPP"}


@_v2_site("amount", "unit")
def v2_amount_as_decimal(v):
    return {"decimal": str(v["amount"]), "unit": v["unit"]}


@_v2_site("date", where=lambda v: v["date"] != "open")
def v2_date_as_number(v):
    return {"amount": int(v["date"].replace("-", "")), "unit": "number"}


@_v2_site("date", where=lambda v: v["date"] != "open")
def v2_date(v):
    import datetime as dt

    return {"date": (dt.date.fromisoformat(v["date"]) + dt.timedelta(days=1)).isoformat()}


@_v2_site("date", where=lambda v: v["date"] == "open")
def v2_open_as_sentinel(v):
    return {"date": "9999-12-31"}  # at a validity's end, the engine's sentinel; at its start, a wrong date


@_v2_site("country", "name")
def v2_country_name(v):
    return {**v, "name": v["name"] + "ia"}


def v2_conclusion_key(doc, rng):
    keys = list(doc["proof"]["conclusions"])
    k = rng.choice(keys)
    doc["proof"]["conclusions"] = {
        (key + " " if key == k else key): n for key, n in doc["proof"]["conclusions"].items()
    }
    return doc


def v2_words(doc, rng):
    doc["proof"]["words"] = "words.2"
    return doc


def answer_obstacles(doc, rng):
    """decision.v2's every reason per route: one reworded, dropped or moved before the reason given first."""
    routes = sorted(r for r, reasons in doc["obstacles"].items())
    if not routes:
        return None
    reasons = doc["obstacles"][rng.choice(routes)]
    i = rng.randrange(len(reasons))
    if len(reasons) > 1 and rng.random() < 0.5 and i:
        reasons.insert(0, reasons.pop(i))
    elif len(reasons) > 1 and rng.random() < 0.5:
        reasons.pop(rng.randrange(1, len(reasons)))
    else:
        reasons[i] = _reword(reasons[i])
    return doc


V2_TAMPERINGS = [
    answer_obstacles,
    v2_unit,
    v2_amount_as_decimal,
    v2_date_as_number,
    v2_date,
    v2_open_as_sentinel,
    v2_country_name,
    v2_conclusion_key,
    v2_words,
]


def test_untampered_documents_are_valid(documents, written):
    for name, doc in written.items():
        result = check_proof(doc)
        assert result.valid, f"{name}: {result.error}"
        assert bool(result.reform) == bool(doc["proof"]["question"]["what_if"]), name
        if result.reform:
            assert result.verdict().startswith("valid under reform: "), result.verdict()
        assert "proof.v1" not in result.verdict()
    for name, doc in documents.items():  # the previous format is checked as written, and says so
        result = check_proof(doc)
        assert result.valid and "a proof.v1 document (the previous format)" in result.verdict(), name


def test_reform_proofs_say_so(documents):
    assert (
        check_proof(documents["reform-dated-move"])
        .verdict()
        .startswith("valid under reform: move MY to Tier 1 from 2025-05-20")
    )
    assert "add rule extra_flag_for_malaysia" in check_proof(documents["reform-add-rule"]).verdict()
    replaced = check_proof(documents["reform-replace-rule"])
    assert replaced.valid and "replace rule lpp_conditions" in replaced.verdict()
    assert "LPP" in documents["reform-replace-rule"]["authorized_by"]  # the limit is gone under that rule
    proof_only = check_proof(documents["reform-replace-rule"]["proof"])
    assert proof_only.valid and "replace rule lpp_conditions" in proof_only.verdict()


def test_every_harmful_tampering_is_rejected(decisions, documents, written, capsys, monkeypatch):
    # Without the JSON Schema pass: it can only reject more, so what is rejected without it is rejected with it,
    # and the checks that follow are tested on their own (the schema pass costs ~35 ms a document).
    # Each tampering is made to the proof tree and the document then written as proof.v2 (what a reader gets);
    # the V2_TAMPERINGS change what only proof.v2 writes: a value's type or unit, a date, a key, the words.
    import aidkb.queries.checker

    monkeypatch.setattr(aidkb.queries.checker, "_SCHEMA", {"proof.v1": None, "proof.v2": None})
    tampered = rejected = 0
    accepted: list[str] = []
    by_kind: dict[str, int] = {}
    for name, doc in documents.items():
        for tamper in TAMPERINGS + V2_TAMPERINGS:
            rng = random.Random(zlib.crc32(f"{name}/{tamper.__name__}".encode()))
            if tamper in V2_TAMPERINGS:
                changed = tamper(copy.deepcopy(written[name]), rng)
                if changed is None or changed == written[name]:
                    continue
            else:
                changed = tamper(copy.deepcopy(doc), rng)
                if changed is None or changed == doc:
                    continue
                changed = _as_v2(changed, decisions[name], written[name])
            tampered += 1
            by_kind[tamper.__name__] = by_kind.get(tamper.__name__, 0) + 1
            result = check_proof(changed)
            if result.valid:
                accepted.append(f"{name}/{tamper.__name__}")
            else:
                rejected += 1
    with capsys.disabled():
        print(
            f"\ntamper bar: {len(documents)} documents, {len(by_kind)} kinds of tampering, "
            f"tampered {tampered}, rejected {rejected}"
        )
        print("  " + ", ".join(f"{k} {v}" for k, v in by_kind.items()))
    assert not accepted, f"{len(accepted)} tampered documents accepted: {accepted[:20]}"
    assert len(by_kind) == len(TAMPERINGS) + len(V2_TAMPERINGS) and tampered > 2000


# ---- exact reasons for a few tamperings


@pytest.fixture(scope="module")
def lpp(documents):
    return documents["lpp-under-annual-limit"]


def _error(doc) -> str:
    result = check_proof(doc)
    assert not result.valid
    return result.error


def _first(doc, where):
    return next(n for n in _nodes(doc) if where(n))


def test_reworded_sentence_names_the_rule_and_the_words(lpp):
    doc = copy.deepcopy(lpp)
    node = _first(doc, lambda n: n.get("rule") == "lpp_conditions")
    node["sentence"] = node["sentence"].replace("within", "beyond")
    error = _error(doc)
    assert ".sentence: rule lpp_conditions under these bindings says" in error and "beyond" in error


def test_changed_parameter_source_is_caught(lpp):
    doc = copy.deepcopy(lpp)
    node = _first(doc, lambda n: n.get("kind") == "fact" and n["source"].get("name") == "lpp_annual_tpp_limit")
    node["source"]["value"] = 50_000_000
    assert ".source: the source of param(lpp_annual_tpp_limit" in _error(doc)


def test_flipped_licence_answer_is_caught(lpp):
    doc = copy.deepcopy(lpp)
    doc["license_required"] = not doc["license_required"]
    assert _error(doc).startswith("license_required: the proof gives")


def test_changed_operator_and_variable_are_caught(lpp):
    doc = copy.deepcopy(lpp)
    _first(doc, lambda n: n.get("kind") == "compare" and n["op"] == "<=")["op"] = "<"
    assert "operator <=" in _error(doc)
    doc = copy.deepcopy(lpp)
    _first(doc, lambda n: n.get("kind") == "assign")["var"] = "Limit"
    assert "variable" in _error(doc)


def test_question_must_match_its_inputs(lpp):
    doc = copy.deepcopy(lpp)
    doc["proof"]["question"]["as_of"] = "2025-07-01"
    assert _error(doc).startswith("proof.question.as_of: the question says")
    doc = copy.deepcopy(lpp)
    doc["proof"]["question"]["mode"] = "as_enforced"
    assert _error(doc).startswith("proof.question.mode")


def test_dropped_reform_is_caught(documents):
    doc = copy.deepcopy(documents["reform-replace-rule"])
    doc["proof"]["question"]["what_if"] = []
    assert "ruleset_version" in _error(doc)
    doc = copy.deepcopy(documents["reform-dated-move"])
    doc["proof"]["question"]["what_if"] = []
    assert not check_proof(doc).valid


def test_contested_listing_caveat_is_decided_again(documents):
    doc = copy.deepcopy(documents["ethiopia-on-the-state-arms-embargo-list"])
    (contested,) = [c for c in doc["caveats"] if c.startswith("Contested listing: Ethiopia")]
    assert contested.endswith("Without that listing the answer would differ: licence required, authorized by LPP.")
    doc["caveats"] = [
        c.replace("would differ: licence required, authorized by LPP", "is the same") for c in doc["caveats"]
    ]
    assert _error(doc).startswith("caveats: the proof gives")


def test_swapped_because_is_caught(documents):
    doc = copy.deepcopy(documents["lpp-over-annual-limit"])
    nodes = [n for n in _nodes(doc) if n.get("kind") == "refutation" and "because" in n]
    assert len(nodes) >= 2
    nodes[0]["because"] = copy.deepcopy(nodes[-1]["because"])
    assert not check_proof(doc).valid


# ---- malformed documents: one error line, never a traceback


def _deep(n: int):
    doc: list = []
    for _ in range(n):
        doc = [doc]
    return doc


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["proof"].__setitem__("question", []),
        lambda d: d["proof"].__setitem__("question", None),
        lambda d: d["proof"]["question"].__setitem__("inputs", [[["case"], "x"]]),
        lambda d: d["proof"]["question"].__setitem__("inputs", "case"),
        lambda d: d["proof"]["question"].__setitem__("what_if", [{"op": "move_country", "args": []}]),
        lambda d: d["proof"]["question"].__setitem__("what_if", [{"op": ["x"], "args": {}}]),
        lambda d: d["proof"]["question"].__setitem__("as_of", 20250601),
        lambda d: d["proof"]["question"].__setitem__("as_of", "2025-13-45"),
        lambda d: d["proof"]["conclusions"][0].__setitem__("atom", [["status"], {"a": 1}]),
        lambda d: d["proof"]["conclusions"][0].__setitem__("atom", []),
        lambda d: d["proof"]["conclusions"][0].__setitem__("premises", {"kind": "fact"}),
        lambda d: d["proof"]["conclusions"][0].__setitem__("bindings", [1, 2]),
        lambda d: d["proof"]["conclusions"][0].__setitem__("bindings", {"C": [1]}),
        lambda d: d["proof"]["conclusions"][0].__setitem__("rule", 5),
        lambda d: d["proof"]["conclusions"][0].__setitem__("kind", "magic"),
        lambda d: d["proof"]["conclusions"].append(_deep(5000)),
        lambda d: d["proof"]["conclusions"][0]["bindings"].__setitem__("C", 10**5000),
        lambda d: d["proof"]["conclusions"][0]["bindings"].__setitem__("C", float("nan")),
        lambda d: d["proof"]["refutations"].append(
            {"kind": "refutation", "atom": ["authorized", None, None], "reason": "x", "category": "x"}
        ),
        lambda d: d["proof"]["refutations"].append(
            {
                "kind": "refutation",
                "atom": ["nonexistent_pred", 1],
                "reason": "x",
                "category": "x",
                "rule": "x",
                "citations": [],
                "bindings": {},
                "failed_at": True,
                "condition": "x",
                "premises": [],
            }
        ),
        lambda d: d["proof"].__setitem__("conclusions", [{"kind": "ref", "atom": ["status", "x", "y"]}]),
        lambda d: d.__setitem__("proof", "a string"),
        lambda d: d.__setitem__("license_required", "yes"),
    ],
)
def test_malformed_documents_get_one_error_line(lpp, change):
    doc = copy.deepcopy(lpp)
    change(doc)
    result = check_proof(doc)
    assert not result.valid and result.error and "\n" not in result.error and "Traceback" not in result.error


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000, '{"format": "proof.v1", "x": ' + "9" * 5000 + "}", "{", "[]", "null", '"proof"', '{"proof": {}}'],
)
def test_malformed_text_gets_one_error_line(text):
    result = check_text(text)
    assert not result.valid and "\n" not in result.error


def _version(doc) -> str:
    """The version of the rules a proof's what-if makes (so that a check gets as far as evaluating them)."""
    from aidkb import ontology
    from aidkb.queries.reform import Reform, parse_operations

    ops = parse_operations([{o["op"]: o["args"]} for o in doc["question"]["what_if"]], "t", "w", ontology.load())
    return Reform(ops).program().version


def test_a_runaway_reform_is_stopped():
    from aidkb.queries.checker import check_proof as check

    start = '@rule count_start @cite "15 CFR 740.99" @says "counting from 0" counter(C, 0) :- case(C).'
    counter = (
        '@rule count_forever @cite "15 CFR 740.99" @says "counting {N}" counter(C, M) :- counter(C, N), M = N + 1.'
    )
    doc = json.loads(json.dumps(decide(load_case(SHARED_CASES / "lpp-under-annual-limit.yaml")).proof))
    doc["question"]["what_if"] = [
        {"op": "add_rule", "args": {"text": start}},
        {"op": "add_rule", "args": {"text": counter}},
    ]
    doc["ruleset_version"] = _version(doc)
    result = check(doc)
    assert not result.valid and "more than 200,000 facts" in result.error, result.error


def test_a_reform_that_joins_for_ever_is_stopped_by_the_deadline():
    from aidkb.queries.checker import check_text

    join = (
        '@rule never_ends @cite "15 CFR 740.99" @says "joined {C}" stuck(C) :- case(C), '
        "group_member(A, G, F, T), group_member(B, H, F2, T2), group_member(D, I, F3, T3), "
        'group_member(E, J, F4, T4), A == "ZZ".'
    )
    doc = json.loads(json.dumps(decide(load_case(SHARED_CASES / "lpp-under-annual-limit.yaml")).proof))
    doc["question"]["what_if"] = [{"op": "add_rule", "args": {"text": join}}]
    doc["ruleset_version"] = _version(doc)
    result = check_text(json.dumps(doc), seconds=5)
    assert not result.valid and "did not finish within 5 s" in result.error, result.error


def test_every_reform_case_renders_in_every_format(documents, tmp_path):
    from aidkb.queries import render
    from aidkb.queries.explanation import explain
    from aidkb.queries.prov import proof_turtle

    for name in REFORMS:
        e = explain(load_case(_reform_case(tmp_path, name)), with_counterfactuals=False)
        assert render.explanation_text(e) and render.memo_markdown(e, "now") and render.memo_html(e, "now")
        assert render.proof_dot(e).startswith("digraph") and proof_turtle(e)
        assert check_proof(json.loads(json.dumps(e.document))).valid, name
