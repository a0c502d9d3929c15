"""Shared helpers of the Streamlit explorer: the chosen date and reading, the legal-status banner, case
files, proof trees and maps. They format what queries/* return; every legal answer comes from queries/*.

Engine work (deciding, explaining, tier maps, impact, checking a reform) never runs in the Streamlit server
process: `ask` sends it to the session's deadline worker (kb/deadline.py), so that rules which loop or explode
stop that session's question, never the server or the other sessions. User text shown through Markdown goes
through `md` first."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import re
import threading
from collections import OrderedDict
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import altair as alt
import streamlit as st
import yaml

from aidkb import ontology
from aidkb.kb.deadline import Worker, idle_seconds_from_env
from aidkb.kb.program import baseline_program
from aidkb.queries import proof_model as model
from aidkb.queries import service
from aidkb.queries.case import EARLIEST, LATEST, Case, CaseError, load_case, parse_case
from aidkb.queries.decide import Decision
from aidkb.queries.impact import tier_of_countries
from aidkb.queries.reader import read_document
from aidkb.queries.reform import Reform
from aidkb.queries.render import failing_point, node_lines

ROOT = Path(__file__).resolve().parent.parent
CASE_DIRS = (ROOT / "tests" / "cases", ROOT / "tests" / "shared_cases")
WORLD = Path(__file__).resolve().parent / "data" / "world-110m.geojson"
MODES = ("as_published", "as_enforced")
TIER_COLOURS = {"Tier 1": "#2b8a3e", "Tier 2": "#f08c00", "Tier 3": "#c92a2a"}


# ---- questions run in this session's worker process, with a deadline

IDLE_SECONDS = 60.0  # an idle session's worker ends after this long (AIDKB_WORKER_IDLE); the next question starts one


def worker() -> Worker:
    """This session's worker process (started at its first question; it ends when idle or with the session)."""
    w = st.session_state.get("worker")
    if w is None:
        w = st.session_state["worker"] = Worker(idle_seconds=idle_seconds_from_env(IDLE_SECONDS), import_main=False)
    return w


def ask(fn, *args, progress=None, seconds: float | None = None, note: str = "The engine is working"):
    """fn(*args) in this session's worker process (kb/deadline.py): a question that overruns its budget is
    stopped and reported (DeadlineExceeded), never a frozen page. Each session has its own worker.

    While it waits, a line on the page says how long it has waited; writing it is also where Streamlit stops
    this run when the user clicks elsewhere or switches pages, and then the worker is killed (its answer would
    belong to a question nobody is asking any more)."""
    placeholder = st.empty()
    shown = [0]

    def waiting(seconds_waited: float) -> None:
        if int(seconds_waited) > shown[0]:
            shown[0] = int(seconds_waited)
            placeholder.caption(f"⏳ {md(note)}… {shown[0]} s")

    try:
        return worker().call(fn, *args, progress=progress, seconds=seconds, waiting=waiting)
    finally:
        if shown[0]:
            placeholder.empty()


_RESULTS: OrderedDict = OrderedDict()  # answers that depend only on their key, shared by the sessions
_RESULTS_LOCK = threading.Lock()
_RESULTS_KEPT = 256


def remembered(key, fn, *args, **options):
    """ask(fn, *args), remembered in this server process under `key` (for answers that depend on nothing else:
    the banner's status, tier maps, the cases' rule usage). Failures are not remembered."""
    with _RESULTS_LOCK:
        if key in _RESULTS:
            _RESULTS.move_to_end(key)
            return _RESULTS[key]
    value = ask(fn, *args, **options)
    with _RESULTS_LOCK:
        _RESULTS[key] = value
        while len(_RESULTS) > _RESULTS_KEPT:
            _RESULTS.popitem(last=False)
    return value


# ---- user text through Markdown

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=^])")


def md(text: object) -> str:
    """Text made inert for st.markdown (and st.error, st.header, labels ...): every Markdown, HTML and
    Streamlit directive character (links, images, emphasis, raw HTML, :colour[...], $maths$) backslash-escaped,
    so it shows as typed."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


# ---- the date and reading chosen in the sidebar, and the banner every page shows

# Where the sidebar overlays the page (Streamlit's narrow layout), close it; the app's own markup, no user text.
CLOSE_SIDEBAR_ON_A_PHONE = """<script>
if (window.innerWidth < 768) {
  const open = document.querySelector('[data-testid="stSidebar"][data-collapsed="false"]');
  const button = open && open.querySelector('[data-testid="stSidebarCollapseButton"] button');
  if (button) button.click();
}
</script>"""
TWINS = ("sidebar", "main")  # the same two controls in the sidebar and, for narrow screens, atop the main area


def page_setup(title: str) -> tuple[dt.date, str]:
    """Start a page: its title, the date and reading (kept across pages), the banner. The controls are in the
    sidebar and again in a popover atop the page (reachable on a phone with the sidebar closed); both show
    the one choice kept in session_state["chosen"]."""
    _through_the_navigation()
    st.set_page_config(page_title=title, page_icon="⚖️", layout="wide")
    state = st.session_state
    as_of, mode = state.setdefault("chosen", (dt.date(2025, 6, 1), "as_published"))
    for twin in TWINS:  # widgets forget their value on a page switch: both are set from the kept choice
        state[f"{twin}_as_of"], state[f"{twin}_mode"] = as_of, mode
    with st.sidebar:
        _date_and_reading("sidebar")
    if state.get("shown_page") != title:  # a page was chosen: on a phone the sidebar covers it, so it closes
        state["shown_page"] = title
        st.html(CLOSE_SIDEBAR_ON_A_PHONE, unsafe_allow_javascript=True, width="content")
    with st.popover(f"📅 {as_of.isoformat()} · {mode.replace('_', ' ')}", help="The date and reading of every answer"):
        _date_and_reading("main")
    banner(as_of, mode)
    return as_of, mode


def _through_the_navigation() -> None:
    """Run this page through app/streamlit_app.py's st.navigation (titles, order, Home). Streamlit reads app/pages/
    the old way (file names as titles, "streamlit app" first) until some session has run st.navigation in this
    server process, so a first visit straight to a page's URL would get that list: it is rerun the new way."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and not st.session_state.get("navigation_rerun"):
        PagesManager.uses_pages_directory = False
        st.session_state["navigation_rerun"] = True  # once per session: AppTest sets the flag again each run
        st.rerun()


def _date_and_reading(twin: str) -> None:
    st.date_input(
        "Date of the question",
        min_value=EARLIEST,
        max_value=LATEST,
        key=f"{twin}_as_of",
        on_change=_choose,
        args=(twin,),
    )
    st.radio(
        "Reading",
        MODES,
        key=f"{twin}_mode",
        format_func=lambda m: m.replace("_", " "),
        on_change=_choose,
        args=(twin,),
        help="as published: the rule as printed; as enforced: what BIS enforces (it announced "
        "on 13 May 2025 that it would not enforce the rule)",
    )


def _choose(twin: str) -> None:
    """A control changed: its value becomes the session's choice (the other twin follows on this run)."""
    state = st.session_state
    state["chosen"] = (state[f"{twin}_as_of"] or state["chosen"][0], state[f"{twin}_mode"])


def choose(as_of: dt.date, mode: str) -> None:
    """Set the session's date and reading (from a callback, before the page's widgets are drawn)."""
    st.session_state["chosen"] = (as_of, mode)


def chosen() -> tuple[dt.date, str]:
    """The date and reading chosen in the sidebar."""
    return st.session_state["chosen"]


def status_on(as_of: dt.date, mode: str) -> str:
    """The rule's legal status on a date, in the status rules' words (decided for a neutral probe case)."""
    probe = {
        "id": "status-probe",
        "as_of": as_of,
        "mode": mode,
        "transaction": {
            "kind": "export",
            "item": "3A090.a",
            "quantity": 1,
            "tpp_per_unit": 1,
            "destination_country": "DE",
            "end_user": {"hq_country": "DE", "ultimate_parent_hq_country": "DE", "end_use": "unknown"},
        },
    }
    return remembered(
        ("status", as_of, mode), service.decide, parse_case(probe, "<status>"), note="Reading the rule's status"
    ).status


def banner(as_of: dt.date, mode: str) -> None:
    from aidkb.kb.errors import AidkbError

    try:
        status = md(status_on(as_of, mode))
    except AidkbError as error:
        status = f"(the status could not be read: {md(error)})"
    st.warning(
        f"**Legal status on {as_of.isoformat()} ({mode.replace('_', ' ')}).** {status} "
        "Research tool, not legal advice.",
        icon="⚖️",
    )


# ---- countries, citations


def onto() -> ontology.Ontology:
    return ontology.load()


def term_help(value: str) -> str:
    """The one-line help the ontology gives a case-file value, parameter, obligation or red flag ("" if none)."""
    term = onto().terms.get(value)
    return term.help if term else ""


def explain_choice(values, where=st) -> None:
    """The help of the chosen value(s) of a control, in a caption under it."""
    chosen = [values] if isinstance(values, str) else list(values or [])
    lines = [f"{onto().titled(v)}: {term_help(v)}" for v in chosen if term_help(v)]
    if lines:
        where.caption(md("; ".join(lines)))


def glossary(kinds: tuple[str, ...]) -> None:
    """Every term of these kinds with its title and help, as the ontology gives them."""
    import pandas as pd

    rows = [
        {"kind": t.kind, "value": t.id, "title": t.title, "help": t.help}
        for t in onto().terms.values()
        if t.kind in kinds
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def country_label(code: str | None) -> str:
    return "unknown" if code is None else f"{code} · {onto().countries.get(code, code)}"


def cite_link(cite: str) -> str:
    """A citation as a Markdown link to its eCFR page (plain text when the ontology has no URL)."""
    p = onto().provisions.get(cite)
    return f"[{md(cite)}]({p.url})" if p else md(cite)


def cite_html(cite: str) -> str:
    p = onto().provisions.get(cite)
    return f'<a href="{html.escape(p.url)}" target="_blank">{html.escape(cite)}</a>' if p else html.escape(cite)


# ---- the Ask form's question as a case mapping (the Compare page asks it too)

NO_VEU = "none"
HOLDINGS = ("global_tpp", "tier1_tpp", "us_tpp", "destination_tpp")
# The form's fields (widget keys) and their first values; the case-file field each one fills is in form_case.
FORM: dict[str, Any] = {
    "f_title": "question from the form",
    "f_kind": "export",
    "f_item": "3A090.a",
    "f_quantity": 1000,
    "f_tpp": 15832,
    "f_bandwidth": None,
    "f_from": "US",
    "f_destination": "MY",
    "f_end_user": "the end user",
    "f_hq": "MY",
    "f_parent": "MY",
    "f_end_use": "datacenter",
    "f_ytd": 0,
    "f_allocated": 0,
    "f_g2g": False,
    "f_flags": [],
    "f_veu": NO_VEU,
    **{f"f_{k}": 0 for k in HOLDINGS},
    "f_nveu_dest": "IN",
    "f_nveu_cum": 0,
    "f_ops": "",
    "f_frontier": "",
    "f_published": False,
}
# Case-file fields the form has no control for: a case that uses them is loaded without them, and says so.
NOT_IN_FORM = (
    "what_if",
    "transaction.end_user.parent_chain",
    "transaction.model.derived_from_published_model",
    "transaction.model.additional_training_ops",
)


def form_case(v: dict, as_of, mode: str) -> dict:
    """The form's values as a case mapping (the shared case schema, as `aidkb decide` reads it)."""
    end_user: dict[str, Any] = {
        "name": v["f_end_user"] or "the end user",
        "hq_country": v["f_hq"],
        "ultimate_parent_hq_country": v["f_parent"],
        "end_use": v["f_end_use"],
        "veu": None if v["f_veu"] == NO_VEU else v["f_veu"],
    }
    if v["f_veu"] == "UVEU":
        end_user["veu_holdings"] = {k: v[f"f_{k}"] for k in HOLDINGS}
    if v["f_veu"] == "NVEU":
        end_user["nveu_authorization"] = {"destination": v["f_nveu_dest"], "cumulative_tpp": v["f_nveu_cum"]}
    model = None
    if v["f_ops"].strip() or v["f_frontier"].strip():
        model = {
            "training_ops": _number(v["f_ops"]),
            "weights_published": v["f_published"],
            "open_weight_frontier_ops": _number(v["f_frontier"]),
        }
    return {
        "id": "form-question",
        "title": v["f_title"] or "question from the form",
        "as_of": as_of,
        "mode": mode,
        "transaction": {
            "kind": v["f_kind"],
            "item": v["f_item"],
            "quantity": v["f_quantity"],
            "tpp_per_unit": v["f_tpp"],
            "memory_bandwidth_gb_s": v["f_bandwidth"],
            "model": model,
            "from_country": v["f_from"],
            "destination_country": v["f_destination"],
            "end_user": end_user,
            "consignee_tpp_already_this_year": v["f_ytd"],
            "country_tpp_already_allocated": v["f_allocated"],
            "gov_to_gov_arrangement": v["f_g2g"],
            "facts": list(v["f_flags"]),
        },
    }


def form_values(data: dict) -> tuple[dict, list[str]]:
    """A case mapping (a validated case file's) as the form's values, and the fields the form cannot hold."""
    t = data.get("transaction") or {}
    eu, m = t.get("end_user") or {}, t.get("model") or {}
    holdings, nveu = eu.get("veu_holdings") or {}, eu.get("nveu_authorization") or {}
    v = dict(
        FORM,
        f_title=data.get("title") or data.get("id") or FORM["f_title"],
        f_kind=t.get("kind"),
        f_item=t.get("item"),
        f_quantity=t.get("quantity"),
        f_tpp=t.get("tpp_per_unit"),
        f_bandwidth=t.get("memory_bandwidth_gb_s"),
        f_from=t.get("from_country") or "US",
        f_destination=t.get("destination_country"),
        f_end_user=eu.get("name") or FORM["f_end_user"],
        f_hq=eu.get("hq_country"),
        f_parent=eu.get("ultimate_parent_hq_country"),
        f_end_use=eu.get("end_use"),
        f_ytd=t.get("consignee_tpp_already_this_year") or 0,
        f_allocated=t.get("country_tpp_already_allocated") or 0,
        f_g2g=bool(t.get("gov_to_gov_arrangement")),
        f_flags=list(t.get("facts") or []),
        f_veu=eu.get("veu") or NO_VEU,
        f_ops=_text(m.get("training_ops")),
        f_frontier=_text(m.get("open_weight_frontier_ops")),
        f_published=bool(m.get("weights_published")),
    )
    v.update({f"f_{k}": holdings.get(k, 0) for k in HOLDINGS})
    if nveu:
        v.update(f_nveu_dest=nveu.get("destination"), f_nveu_cum=nveu.get("cumulative_tpp") or 0)
    left_out = [f for f in NOT_IN_FORM if _field(data, f) not in (None, [], {}, False)]
    return v, left_out


def _text(value) -> str:
    return "" if value is None else str(value)


def _number(text: str) -> int | str | None:
    """A count typed as text (2.0e26) as the exact whole number it writes; other text as typed, for the case
    reader to refuse naming its field; None when empty."""
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return text.strip() or None
    return int(number) if number.is_finite() and number == number.to_integral_value() else text.strip()


def _field(data: dict, path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def case_yaml(data: dict) -> str:
    """A case mapping as a case file (YAML), the form `aidkb decide` reads."""
    return yaml.safe_dump(_plain(data), sort_keys=False, allow_unicode=True)


def _plain(value: Any) -> Any:
    """A mapping as the case reader gave it (exact Decimals, ECCNs such as 4E091 kept as text) in plain YAML types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    return str(value) if isinstance(value, str) else value


# ---- case files


def case_files() -> list[Path]:
    """The bundled case files: tests/cases, then tests/shared_cases (the team's worked cases)."""
    return [p for d in CASE_DIRS if d.is_dir() for p in sorted(d.glob("*.yaml"))]


def case_key(case: Case) -> str:
    """What identifies a question: its input facts and what-if operations."""
    return repr((case.facts(), case.what_if))


@st.cache_data(show_spinner=False)
def case_data(path: Path) -> dict:
    """A bundled case file's mapping, read as `aidkb decide` reads it (exact numbers; validated when asked)."""
    data = read_document(path)
    return data if isinstance(data, dict) else {}


def case_title(path: Path) -> str:
    """A bundled case as the picker lists it: its title (its file name when it has none)."""
    data = case_data(path)
    return str(data.get("title") or data.get("id") or path.stem)


def case_name(path: Path) -> str:
    return str(path.relative_to(ROOT.parent)) if path.is_relative_to(ROOT.parent) else str(path)


def rule_usage() -> dict[str, dict[str, list[str]]]:
    """Rule id -> {"used": the bundled cases whose decision proofs apply the rule, "refuted": those whose proofs
    show it failing} (baseline, decided once, each case in the session's worker)."""
    with _RESULTS_LOCK:
        if "rule_usage" in _RESULTS:
            return _RESULTS["rule_usage"]
    usage: dict[str, dict[str, list[str]]] = {}
    for path in case_files():
        try:
            case = load_case(path)
        except CaseError:
            continue
        proof = ask(service.decide, case, note=f"Deciding {path.stem}").document()
        for how, proved in (("used", True), ("refuted", False)):
            for rule_id in sorted(set(rule_ids(proof, proved))):
                usage.setdefault(rule_id, {"used": [], "refuted": []})[how].append(str(path))
    with _RESULTS_LOCK:
        _RESULTS["rule_usage"] = usage
    return usage


def rule_source(rule) -> str:
    """A rule as written in its file, annotations included: the lines from its @rule to the next blank line."""
    lines = (ROOT / rule.file).read_text(encoding="utf-8").splitlines()[rule.pos.line - 1 :]
    return "\n".join(lines[: next((i for i, line in enumerate(lines) if not line.strip()), len(lines))])


# ---- proof trees: the only readers of a proof's nodes in the explorer (node_label, node_children, rule_ids),
# all on the typed nodes of queries/proof_model.py


def node_children(node: model.Node) -> list[model.Node]:
    """A proof node's premises, then what it rests on (because) and what blocks it (blocked_by)."""
    return [child for _, child in model.children(node)]


def rule_ids(node: model.Node | model.ProofDocument | list, proved: bool | None = None) -> list[str]:
    """The rule ids in a proof (a node, a list or a whole proof document): of the rules applied (proved=True),
    of the rules shown failing (proved=False), or both (None)."""
    if isinstance(node, list):
        return [r for v in node for r in rule_ids(v, proved)]
    if isinstance(node, model.ProofDocument):
        return rule_ids([*node.conclusions.values(), *node.refutations.values()], proved)
    own = []
    if isinstance(node, model.RuleApplication) and proved in (None, True):
        own = [node.rule]
    elif isinstance(node, model.Refutation) and node.rule is not None and proved in (None, False):
        own = [node.rule]
    return own + [r for child in node_children(node) for r in rule_ids(child, proved)]


def _shallow(node: model.Node) -> model.Node:
    """A node without its subtrees (what one line of the tree says of it)."""
    if isinstance(node, model.RuleApplication):
        return dataclasses.replace(node, premises=())
    if isinstance(node, model.Refutation):
        return dataclasses.replace(node, premises=(), tried=(), because=None, blocked_by=None)
    return node


def node_label(node: model.Node, details: bool = False) -> str:
    """One proof node in the sentences of the rules; with details, in the engine's terms too (atoms, rule ids,
    failing conditions), as the text renderer writes it."""
    if details or isinstance(node, (model.Fact, model.Ref, model.Negation)):
        lines = node_lines(_shallow(node), baseline_program(), onto())
        return " ".join(line.strip().removeprefix("- ") for line in lines)
    if isinstance(node, (model.Comparison, model.Assignment)):  # the values checked, without the rule's variables
        line = node_lines(node, baseline_program(), onto())[0].strip().removeprefix("- ")
        return line.split(": ", 1)[-1]
    cites = f" [{'; '.join(node.citations)}]" if node.citations else ""
    if isinstance(node, model.RuleApplication):
        return node.sentence + cites
    return f"does not hold: {node.reason}{cites}"


def proof_roots(d: Decision) -> list[model.Node]:
    """A decision's proof: its conclusions, then its refutations (the routes and requirements that fail)."""
    proof = d.document()
    return [*proof.conclusions.values(), *proof.refutations.values()]


def refutation(node: model.Refutation) -> dict:
    """Why a goal fails, in the proof's own words: its category and reason, every obstacle (reason, rule id,
    condition number from 1), and the first failing point (rule id, citations, condition number, condition)."""
    point = failing_point(node)
    return {
        "category": node.category,
        "reason": node.reason,
        "obstacles": [(o.reason, o.rule, o.failed_at + 1) for o in node.obstacles or ()],
        "point": (point.rule, list(point.citations), (point.failed_at or 0) + 1, point.condition)
        if point.rule
        else None,
    }


def tree_html(node: model.Node, details: bool = False, depth: int = 0) -> str:
    """A proof node and its premises as nested <details> (collapsible), citations linked to the eCFR."""
    label = html.escape(node_label(node, details))
    for cite in getattr(node, "citations", ()):
        label = label.replace(html.escape(cite), cite_html(cite), 1)
    kids = node_children(node)
    if not kids:
        return f'<div class="leaf">{label}</div>'
    inner = "".join(tree_html(k, details, depth + 1) for k in kids)
    return f"<details{' open' if depth < 1 else ''}><summary>{label}</summary>{inner}</details>"


TREE_STYLE = (
    "<style>.proof details{margin-left:1.1em}.proof summary{cursor:pointer}"
    ".proof .leaf{margin-left:2.2em;color:#444}.proof{overflow-wrap:anywhere}</style>"
)


def proof_tree(node: model.Node, details: bool = False) -> None:
    st.html(f'{TREE_STYLE}<div class="proof">{tree_html(node, details)}</div>')


# ---- tiers and maps


def tiers(reform: Reform, as_of: dt.date) -> dict[str, str]:
    """Country code -> "Tier n" on a date under a reform, as the tier rules say (in the session's worker)."""
    found = remembered(
        ("tiers", reform.key, as_of), tier_of_countries, reform, as_of, note="Placing the countries in their tiers"
    )
    return {c: f"Tier {n}" for c, n in found.items()}


@st.cache_data(show_spinner=False)
def world() -> dict:
    return json.loads(WORLD.read_text(encoding="utf-8"))


def map_chart(values: dict[str, str], colours: dict[str, str], title: str) -> alt.Chart:
    """A world map (Natural Earth 1:110m, shipped with the app: nothing is fetched) coloured by a value per
    country code; countries too small for the map's scale are only in the tables."""
    geo = world()
    features = [
        dict(
            f,
            properties=dict(
                f["properties"], value=values.get(f["id"], "not in the knowledge base"), label=country_label(f["id"])
            ),
        )
        for f in geo["features"]
    ]
    domain = list(colours) + ["not in the knowledge base"]
    return (
        alt.Chart(alt.Data(values=features), title=title)
        .mark_geoshape(stroke="white", strokeWidth=0.4)
        .encode(
            color=alt.Color(
                "properties.value:N",
                title=None,
                scale=alt.Scale(domain=domain, range=list(colours.values()) + ["#dddddd"]),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[alt.Tooltip("properties.label:N", title="country"), alt.Tooltip("properties.value:N", title="")],
        )
        .project("equalEarth")
        .properties(height=320)
    )
