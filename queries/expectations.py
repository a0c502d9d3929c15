"""Legal tests: compare a Decision with a case file's `expected` block (as `aidkb test` and pytest do)."""

from __future__ import annotations

import re

from .decide import Decision

_REMARK = re.compile(r"\s+\([^)]*\s[^)]*\)$")  # a trailing remark such as " (pre-rule text)"


def normalize_citation(cite: str) -> str:
    return _REMARK.sub("", cite.strip())


def mismatches(decision: Decision, expected: dict) -> list[str]:
    """What differs from the expected outcome; empty when the decision passes.

    Compared: license_required; the set of authorized_by; the set of red_flags; every route the case lists
    as not available is reported not available; every expected citation is among the decision's citations
    (a trailing remark in parentheses is ignored, and a more specific pinpoint satisfies a section).
    This project's cases may also expect `review_policy` (compared as text) and `uncertain` (the set of routes
    whose availability the rule leaves unclear).
    """
    out = []
    if "license_required" in expected and decision.license_required != expected["license_required"]:
        out.append(f"license_required: expected {expected['license_required']}, got {decision.license_required}")
    for key in ("authorized_by", "red_flags"):
        if key in expected and set(getattr(decision, key)) != set(expected[key] or []):
            out.append(f"{key}: expected {sorted(expected[key] or [])}, got {sorted(getattr(decision, key))}")
    for route in expected.get("not_available") or {}:
        if route not in decision.not_available:
            out.append(f"not_available: expected a reason why {route} is not available, got none")
    if "review_policy" in expected and decision.review_policy != expected["review_policy"]:
        out.append(f"review_policy: expected {expected['review_policy']!r}, got {decision.review_policy!r}")
    if "uncertain" in expected and set(decision.uncertain) != set(expected["uncertain"] or []):
        out.append(f"uncertain: expected {sorted(expected['uncertain'] or [])}, got {sorted(decision.uncertain)}")
    produced = [normalize_citation(c) for c in decision.citations]
    for cite in expected.get("citations") or []:
        want = normalize_citation(cite)
        if not any(p == want or p.startswith(want + "(") for p in produced):
            out.append(f"citations: expected {cite!r} among {decision.citations}")
    return out
