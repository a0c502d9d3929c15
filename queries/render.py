"""Plain-text view of a Decision, for the terminal."""
from __future__ import annotations

import textwrap

from .decide import Decision


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent + "  ")


def decision_text(d: Decision) -> str:
    lines = [f"{d.id}: {d.title}" if d.title else d.id, f"  as of {d.as_of}, {d.mode.replace('_', ' ')}"]
    if d.what_if:
        lines.append(f"  what if: {'; '.join(d.what_if)}")
    lines.append(_wrap(f"status: {d.status}", "  "))
    if d.license_required:
        routes = ", ".join(d.authorized_by) if d.authorized_by else "none: an individual licence is needed"
        lines.append(f"  licence required: yes; authorized by: {routes}")
    else:
        lines.append(_wrap(f"licence required: no ({d.no_licence_because})", "  "))
    if d.review_policy:
        lines.append(f"  licence review: {d.review_policy}")
    for route, why in d.not_available.items():
        lines.append(_wrap(f"not {route}: {why}", "    "))
    for route, why in d.uncertain.items():
        lines.append(_wrap(f"UNCLEAR {route}: {why}", "    "))
    if d.red_flags:
        lines.append(f"  red flags: {', '.join(d.red_flags)}")
    if d.obligations:
        lines.append(f"  obligations: {', '.join(d.obligations)}")
    lines.append("  reasons:")
    for r in d.reasons:
        lines.append(_wrap(f"- {r.text} [{'; '.join(r.citations)}] ({r.rule})", "    "))
    lines.append(_wrap(f"citations: {'; '.join(d.citations)}", "  "))
    for c in d.caveats:
        lines.append(_wrap(f"caveat: {c}", "  "))
    lines.append(f"  rule set {d.ruleset_version}")
    return "\n".join(lines)
