"""Helpers of the What-if page: the session's reform in its input form (one YAML text that the download, the
upload, the paste box and the share link all use), the share link (the reform, the reforms kept for comparison
and the sweep's settings, each in its own strictly decoded query parameter), the baseline grid kept once per
server process, and the impact's totals, flips and causes as tables.

The reform is shared with the other pages through st.session_state["reform_yaml"] (the YAML exactly as the
page downloads it; "" for no reform) and st.session_state["reform_name"]. Nothing here decides anything: the
reform is validated and run by queries/* in the session's worker (app/ui.py ask)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import difflib
import re
import threading
import zlib
from typing import Any

import pandas as pd
import streamlit as st
import yaml

from aidkb.app import ui
from aidkb.queries.impact import STATUSES, Baseline, baseline_classes, baseline_key, case_outcomes
from aidkb.queries.reader import decode, load_yaml
from aidkb.queries.reform import ReformError

LINK_PARAM = "reform"  # the URL query parameter of a shared reform
KEPT_PARAM = "kept"  # ... of the reforms kept for comparison (a list of reform files)
SWEEP_PARAM = "sweep"  # ... of the parameter sweep's settings
MAX_KEPT = 10  # reforms kept for comparison (and in a link)
SWEEP_KEYS = {"parameter": "sweep_name", "from": "sweep_low", "to": "sweep_high", "values": "sweep_steps"}
MAX_SWEEP_VALUE = 10**15  # the largest sweep bound a link may carry
MAX_SWEEP_STEPS = 25
MAX_LINK = 16_000  # characters of an encoded reform in a link
MAX_LINK_TEXT = 200_000  # bytes of the reform a link may unpack to
_LINK = re.compile(r"[A-Za-z0-9_-]+\Z")


# ---- the reform as text


class _Dumper(yaml.SafeDumper):
    """Safe YAML with rule text as literal blocks (as written, one line per line)."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump(operations: list[dict], name: str) -> str:
    """The reform file of the session's reform: what the page downloads, the link carries and the Ask page
    reads (st.session_state["reform_yaml"])."""
    return yaml.dump(
        {"title": name or "what-if", "operations": operations},
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )


def read(text: str, source: str) -> dict:
    """A reform document from text (a download, an upload, a paste or a link) through the hardened reader;
    a bare list is taken as the operations. Validation is parse_reform's (run in the worker)."""
    data = load_yaml(text, source)
    if isinstance(data, list):
        return {"operations": data}
    if not isinstance(data, dict):
        raise ReformError(source, "", "a reform is a mapping with title and operations (or a list of operations)")
    return data


def read_upload(data: bytes, source: str) -> dict:
    return read(decode(data, source), source)


def encode_link(text: str) -> str:
    """A reform file as a compact URL-safe token: zlib, then base64url without padding."""
    return base64.urlsafe_b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii").rstrip("=")


def decode_link(token: str, source: str = "<link>", param: str = LINK_PARAM) -> str:
    """The text a link's query parameter carries, checked strictly (alphabet, length, size unpacked, UTF-8); a
    bad link is one ReformError naming the parameter, never a traceback. Nothing in it is executed."""
    if len(token) > MAX_LINK:
        raise ReformError(source, param, f"longer than {MAX_LINK:,} characters")
    if not _LINK.match(token) or len(token) % 4 == 1:
        raise ReformError(source, param, "not a reform link (it must be base64url text, as the page writes)")
    try:
        packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        unpack = zlib.decompressobj()
        data = unpack.decompress(packed, MAX_LINK_TEXT + 1)
        if len(data) > MAX_LINK_TEXT or not unpack.eof or unpack.unused_data:
            raise ReformError(source, param, "not a reform link (truncated, padded or too large)")
    except (binascii.Error, zlib.error):
        raise ReformError(source, param, "not a reform link (damaged: copy the whole link)") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ReformError(source, param, "not a reform link (not UTF-8 text)") from None


# ---- the session's reform


def operations() -> list[dict]:
    """The session's reform operations, each in its input form (Operation.to_input)."""
    return st.session_state.setdefault("reform_ops", [])


def name() -> str:
    return st.session_state.get("reform_name") or "what-if"


def kept_text(kept: dict[str, str]) -> str:
    """The reforms kept for comparison (title -> reform file) as one YAML list of reform files."""
    documents = [yaml.safe_load(text) for text in kept.values()]  # the page's own dump() output
    return yaml.dump(documents, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def kept_sweep() -> dict:
    """The sweep's settings (parameter, from, to, values) as last chosen or loaded from a link. They are kept
    here, not only in the widgets' own state: Streamlit may drop a widget's state between two runs on a busy
    machine, and the controls are drawn again from this."""
    return st.session_state.setdefault("sweep_kept", {})


def sweep_settings() -> dict | None:
    """The sweep's settings as chosen on the page: a control's own state where it has one (it holds the user's
    latest change before the control is drawn again), else the kept value; None before the controls were drawn."""
    state, kept = st.session_state, kept_sweep()
    settings = {field: state[key] if key in state else kept.get(field) for field, key in SWEEP_KEYS.items()}
    return None if None in settings.values() else settings


def load_sweep(settings: dict) -> None:
    """Settings from a link become the sweep's: kept, and the widgets' own state dropped so that they are drawn
    from them."""
    kept_sweep().update(settings)
    for key in SWEEP_KEYS.values():
        st.session_state.pop(key, None)


def link_tokens() -> dict[str, str]:
    """The share link's query parameters: the reform, the kept reforms and the sweep settings, where set."""
    tokens = {}
    if operations():
        tokens[LINK_PARAM] = encode_link(dump(operations(), name()))
    if st.session_state.get("kept_reforms"):
        tokens[KEPT_PARAM] = encode_link(kept_text(st.session_state["kept_reforms"]))
    if (settings := sweep_settings()) is not None:
        tokens[SWEEP_PARAM] = encode_link(yaml.safe_dump(settings, sort_keys=False))
    return tokens


def publish() -> None:
    """Write the session's reform where the other pages read it, and the share link into the page's URL."""
    ops = operations()
    st.session_state["reform_yaml"] = dump(ops, name()) if ops else ""
    st.session_state["reform_name"] = name()
    tokens = link_tokens()
    for param in (LINK_PARAM, KEPT_PARAM, SWEEP_PARAM):
        token = tokens.get(param)
        if st.query_params.get(param) != token:
            if token:
                st.query_params[param] = token
            else:
                st.query_params.pop(param, None)
    st.session_state["links_seen"] = tokens


def _linked(param: str) -> str | None:
    """The text of a link's query parameter when this session has not loaded it yet (a reload, or a shared
    link opened); ReformError for a bad one (reported once, not on every rerun)."""
    token = st.query_params.get(param)
    seen = st.session_state.setdefault("links_seen", {})
    if not token or token == seen.get(param):
        return None
    seen[param] = token
    return decode_link(token, "<link>", param)


def linked_document() -> dict | None:
    """The reform document of the page's link, when it carries one not loaded yet; ReformError for a bad one."""
    text = _linked(LINK_PARAM)
    return None if text is None else read(text, "<link>")


def linked_kept() -> list[dict] | None:
    """The kept reforms' documents of the page's link (each still to be validated as a reform), when it carries
    them and they were not loaded yet; ReformError naming the `kept` parameter for a bad link."""
    text = _linked(KEPT_PARAM)
    if text is None:
        return None
    documents = load_yaml(text, "<link>")
    if not isinstance(documents, list) or not 0 < len(documents) <= MAX_KEPT:
        raise ReformError("<link>", KEPT_PARAM, f"a list of 1 to {MAX_KEPT} reform files")
    for i, document in enumerate(documents):
        if not isinstance(document, dict) or not isinstance(document.get("title"), str):
            raise ReformError("<link>", f"{KEPT_PARAM}[{i}]", "a reform file with its title and operations")
    return documents


def linked_sweep(numeric: list[str]) -> dict | None:
    """The sweep settings of the page's link (a numeric parameter, whole bounds from < to, 2 to 25 values),
    when it carries them and they were not loaded yet; ReformError naming the field for a bad link."""
    text = _linked(SWEEP_PARAM)
    if text is None:
        return None
    settings = load_yaml(text, "<link>")
    if not isinstance(settings, dict) or set(settings) != set(SWEEP_KEYS):
        raise ReformError("<link>", SWEEP_PARAM, f"the sweep's {', '.join(SWEEP_KEYS)}")
    if settings["parameter"] not in numeric:
        raise ReformError("<link>", f"{SWEEP_PARAM}.parameter", "not a numeric parameter of the rule")
    for field, top in (("from", MAX_SWEEP_VALUE), ("to", MAX_SWEEP_VALUE), ("values", MAX_SWEEP_STEPS)):
        value = settings[field]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise ReformError("<link>", f"{SWEEP_PARAM}.{field}", f"a whole number from 0 to {top:,}")
    if settings["values"] < 2 or settings["from"] >= settings["to"]:
        raise ReformError("<link>", SWEEP_PARAM, f"from < to, and 2 to {MAX_SWEEP_STEPS} values")
    return settings


# ---- the baseline grid, once per server process

_BASELINES: dict[tuple, Baseline] = {}
_BASELINES_LOCK = threading.Lock()


def shared_baseline(as_of: dt.date, mode: str, grid_name: str = "standard", progress=None) -> Baseline:
    """The baseline grid table for a date, reading and grid: computed in the first session's worker that asks,
    then kept read-only in this server process and sent to every session's worker with its reform."""
    key = baseline_key(as_of, mode, grid_name)
    with _BASELINES_LOCK:
        if key in _BASELINES:
            return _BASELINES[key]
    table = ui.ask(
        baseline_classes,
        as_of,
        mode,
        grid_name,
        progress=progress,
        seconds=600,
        note="Deciding the baseline grid (once per server)",
    )
    with _BASELINES_LOCK:
        _BASELINES[key] = table
        while len(_BASELINES) > 8:
            _BASELINES.pop(next(iter(_BASELINES)))
    return table


_CASE_BASELINES: dict[tuple, dict] = {}


def shared_case_baseline(cases: list) -> dict:
    """The bundled cases' baseline outcomes (each on its own date and reading), kept like the baseline grid."""
    key = (baseline_key()[:2], tuple(ui.case_key(c) for c in cases))
    with _BASELINES_LOCK:
        if key in _CASE_BASELINES:
            return _CASE_BASELINES[key]
    table = ui.ask(case_outcomes, cases, note="Deciding the bundled cases (once per server)")
    with _BASELINES_LOCK:
        _CASE_BASELINES.clear()  # one set of bundled cases per process
        _CASE_BASELINES[key] = table
    return table


# ---- results as tables


def status_frame(status_totals: dict, part: str) -> pd.DataFrame:
    """Outcomes by licence status before and after, for "all" or one breakdown (by_tier, by_item, by_country)."""
    rows: list[dict[str, Any]] = []
    before, after = status_totals["before"][part], status_totals["after"][part]
    if part == "all":
        return pd.DataFrame(
            [
                {"licence status": s, "before": before[s], "after": after[s], "change": after[s] - before[s]}
                for s in STATUSES
            ]
        )
    for group in sorted(set(before) | set(after)):
        b, a = before.get(group, dict.fromkeys(STATUSES, 0)), after.get(group, dict.fromkeys(STATUSES, 0))
        rows.append(
            {
                part.removeprefix("by_"): group,
                **{f"{s}: before": b[s] for s in STATUSES},
                **{f"{s}: after": a[s] for s in STATUSES},
            }
        )
    return pd.DataFrame(rows)


def long_status(status_totals: dict, part: str) -> pd.DataFrame:
    """The same counts in long form (group, status, when, outcomes) for a chart."""
    rows = []
    for when in ("before", "after"):
        table = status_totals[when][part]
        groups = {"all outcomes": table} if part == "all" else table
        for group, counts in groups.items():
            rows += [{"group": group, "licence status": s, "when": when, "outcomes": counts[s]} for s in STATUSES]
    return pd.DataFrame(rows)


def rule_diff(original: str, edited: str, rule_id: str) -> str:
    """An edited rule against the rule as published, as a unified diff."""
    return (
        "".join(
            difflib.unified_diff(
                original.splitlines(keepends=True),
                edited.splitlines(keepends=True),
                f"{rule_id} (as published)",
                f"{rule_id} (as edited)",
            )
        )
        or "(no change from the rule as published)"
    )
