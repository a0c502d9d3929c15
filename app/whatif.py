"""Helpers of the What-if page: the session's reform in its input form (one YAML text that the download, the
upload, the paste box and the share link all use), the link's strict encoding, the baseline grid kept once
per server process, and the impact's totals, flips and causes as tables.

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


def decode_link(token: str, source: str = "<link>") -> str:
    """The reform file a link carries, checked strictly (alphabet, length, size unpacked, UTF-8); a bad link is
    one ReformError naming the link's `reform` parameter, never a traceback. Nothing in it is executed."""
    if len(token) > MAX_LINK:
        raise ReformError(source, LINK_PARAM, f"longer than {MAX_LINK:,} characters")
    if not _LINK.match(token) or len(token) % 4 == 1:
        raise ReformError(source, LINK_PARAM, "not a reform link (it must be base64url text, as the page writes)")
    try:
        packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        unpack = zlib.decompressobj()
        data = unpack.decompress(packed, MAX_LINK_TEXT + 1)
        if len(data) > MAX_LINK_TEXT or not unpack.eof or unpack.unused_data:
            raise ReformError(source, LINK_PARAM, "not a reform link (truncated, padded or too large)")
    except (binascii.Error, zlib.error):
        raise ReformError(source, LINK_PARAM, "not a reform link (damaged: copy the whole link)") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ReformError(source, LINK_PARAM, "not a reform link (not UTF-8 text)") from None


# ---- the session's reform


def operations() -> list[dict]:
    """The session's reform operations, each in its input form (Operation.to_input)."""
    return st.session_state.setdefault("reform_ops", [])


def name() -> str:
    return st.session_state.get("reform_name") or "what-if"


def publish() -> None:
    """Write the session's reform where the other pages read it, and into the page's URL (the share link)."""
    ops = operations()
    text = dump(ops, name()) if ops else ""
    st.session_state["reform_yaml"] = text
    st.session_state["reform_name"] = name()
    token = encode_link(text) if ops else None
    if st.query_params.get(LINK_PARAM) != token:
        if token:
            st.query_params[LINK_PARAM] = token
        else:
            st.query_params.pop(LINK_PARAM, None)
    st.session_state["link_seen"] = token


def linked_document() -> dict | None:
    """The reform document of the page's link, when the link carries one this session has not loaded yet
    (a reload, or a shared link opened); ReformError for a bad link."""
    token = st.query_params.get(LINK_PARAM)
    if not token or token == st.session_state.get("link_seen"):
        return None
    st.session_state["link_seen"] = token  # a bad link is reported once, not on every rerun
    return read(decode_link(token), "<link>")


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
