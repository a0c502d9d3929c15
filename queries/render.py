"""Views of decisions, proofs and explanations: plain text, a Markdown or HTML memo for the audit file, and
Graphviz DOT. (RDF in W3C PROV-O is in queries/prov.py.) Renderers only read data; they decide nothing."""

from __future__ import annotations

import datetime as dt
import html
import json
import textwrap

from aidkb import ontology
from aidkb.kb.syntax import Program

from . import proof_model as model
from .decide import Decision
from .explain import fill, format_value
from .explanation import Explanation
from .proof_v2 import FORMAT as V2
from .proof_v2 import WORDS, typed_atoms


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent + "  ")


def decision_text(d: Decision) -> str:
    lines = [f"{d.id}: {d.title}" if d.title else d.id, f"  as of {d.as_of}, {d.mode.replace('_', ' ')}"]
    if d.what_if:
        lines.append(f"  what if: {'; '.join(d.what_if)}")
    lines.append(_wrap(f"status: {d.status}", "  "))
    lines.append(_wrap(answer_sentence(d), "  "))
    for route, why in d.not_available.items():
        lines.append(_wrap(f"not {route}: {why}", "    "))
        lines += [_wrap(f"also: {more}", "      ") for more in d.obstacles.get(route, [])[1:]]
    for route, why in d.uncertain.items():
        lines.append(_wrap(f"UNCLEAR {route}: {why}", "    "))
    onto = ontology.load()
    if d.red_flags:
        lines.append(_wrap(f"red flags: {'; '.join(onto.titled(f) for f in d.red_flags)}", "  "))
    if d.obligations:
        lines.append(_wrap(f"obligations: {'; '.join(onto.titled(o) for o in d.obligations)}", "  "))
    lines.append("  reasons:")
    for r in d.reasons:
        lines.append(_wrap(f"- {r.text} [{'; '.join(r.citations)}] ({r.rule})", "    "))
    lines.append(_wrap(f"citations: {'; '.join(d.citations)}", "  "))
    for c in d.caveats:
        lines.append(_wrap(f"caveat: {c}", "  "))
    lines.append(f"  rule set {d.ruleset_version}")
    return "\n".join(lines)


def answer_sentence(d: Decision) -> str:
    """The answer in one sentence."""
    if not d.license_required:
        return f"No licence is required: {d.no_licence_because}."
    if d.authorized_by:
        return f"A licence requirement applies; it is lifted by {' or '.join(d.authorized_by)}."
    review = f" (licence review: {d.review_policy})" if d.review_policy else ""
    return f"A licence is required and no exception or authorization applies: an individual licence is needed{review}."


# ---- proof trees


def atom_text(atom, program: Program, onto: ontology.Ontology) -> str:
    """An atom in words (a typed model.Atom, or [pred, arg, ...] of engine values): the declaration's template for
    a fact, else pred(args)."""
    pred, args = (atom.pred, atom.args) if isinstance(atom, model.Atom) else (atom[0], atom[1:])
    decl = program.declaration(pred, len(args))
    if decl:
        return fill(decl.template, {str(t): a for t, a in zip(decl.atom.args, args) if a is not None}, onto)
    return f"{pred}({', '.join('_' if a is None else format_value('', a, onto) for a in args)})"


def _source(source: model.Source) -> str:
    if isinstance(source, model.CaseSource):
        return f"case field {source.field}"
    if isinstance(source, model.ParameterSource):
        return (
            f"parameter {source.name} = {format_value(source.name, source.value)}, "
            f"{_validity(source.valid_from, source.valid_to)}, "
            f"{source.citation}, grade {source.grade}"
        )
    if isinstance(source, model.OntologySource):
        return f"ontology {source.iri.rsplit('#', 1)[-1]}"
    return f"what-if: {'; '.join(source.what_if)}"


def _validity(start: model.Value, end: model.Value) -> str:
    """A parameter's validity in words: open ends are said, never shown as sentinel dates."""
    if start == model.OPEN and end == model.OPEN:
        return "in force throughout the record"
    if start == model.OPEN:
        return f"in force until {format_value('Date', end)} (exclusive)"
    if end == model.OPEN:
        return f"in force from {format_value('Date', start)}"
    return f"in force from {format_value('Date', start)} until {format_value('Date', end)} (exclusive)"


def failing_point(node: model.Refutation) -> model.Refutation:
    """The refutation whose own condition fails (the deepest one that names a rule)."""
    while node.because is not None and node.because.rule:
        node = node.because
    return node


def _lower_bound(op: str, on_left: bool) -> bool:
    """Whether the side of a comparison is its lower bound (Date >= From, From <= Date)."""
    return op in (("<", "<=") if on_left else (">", ">="))


def node_lines(node: model.Node, program: Program, onto: ontology.Ontology, depth: int = 0) -> list[str]:
    """A typed proof node and its subtree as indented lines, every value formatted by its type."""
    pad = "  " * depth
    if isinstance(node, model.RuleApplication):
        lines = [f"{pad}- {node.sentence} [{'; '.join(node.citations)}] ({node.rule})"]
        for p in node.premises:
            lines += node_lines(p, program, onto, depth + 1)
        return lines
    if isinstance(node, model.Fact):
        return [f"{pad}- given: {atom_text(node.atom, program, onto)} ({_source(node.source)})"]
    if isinstance(node, model.Ref):
        return [f"{pad}- {atom_text(node.atom, program, onto)} (proved above)"]
    if isinstance(node, model.Negation):
        return [f"{pad}- not {atom_text(node.atom, program, onto)}: {node.why_not}"]
    if isinstance(node, model.Comparison):
        left, right = (side.strip() for side in node.condition.split(f" {node.op} ", 1))
        for value, name, on_left in ((node.left, left, True), (node.right, right, False)):
            if value == model.OPEN:  # an open end of a validity
                end = "start" if _lower_bound(node.op, on_left) else "end"
                return [f"{pad}- check {node.condition}: holds ({name}: the value has no {end} date)"]
        return [
            f"{pad}- check {node.condition}: {format_value(left, node.left, onto)} {node.op} "
            f"{format_value(right, node.right, onto)} holds"
        ]
    if isinstance(node, model.Assignment):
        return [f"{pad}- compute {node.condition}: {node.var} = {format_value(node.var, node.value, onto)}"]
    lines = [f"{pad}- NOT {atom_text(node.atom, program, onto)}: {node.reason} [{node.category}]"]
    if node.rule is not None:
        lines.append(
            f"{pad}  rule {node.rule} [{'; '.join(node.citations)}] fails at condition "
            f"{(node.failed_at or 0) + 1}: {node.condition}"
        )
        for p in node.premises:
            lines += node_lines(p, program, onto, depth + 2)
        for t in node.tried:
            if t.rule != node.rule:
                lines.append(f"{pad}  also tried {t.rule}: fails at condition {t.failed_at + 1}: {t.reason}")
    if node.obstacles is not None and len(node.obstacles) > 1:
        lines.append(f"{pad}  every obstacle ({len(node.obstacles)}):")
        lines += [
            _wrap(f"- {o.reason} (rule {o.rule}, condition {o.failed_at + 1})", pad + "    ") for o in node.obstacles
        ]
    if node.because is not None:
        lines += node_lines(node.because, program, onto, depth + 1)
    if node.blocked_by is not None:
        lines.append(f"{pad}  blocked by:")
        lines += node_lines(node.blocked_by, program, onto, depth + 2)
    return lines


def explanation_text(e: Explanation) -> str:
    program, onto = e.program or e.decision.rules(), ontology.load()  # the rules that made the proof
    out = [decision_text(e.decision), ""]
    for g in e.goals:
        out.append(f"{'WHY' if g.holds else 'WHY NOT'}: {g.label}")
        out += node_lines(g.node, program, onto, 1)
        for cf in g.counterfactuals:
            out.append(_wrap(f"would hold if: {cf.describe(onto)}", "  "))
        if not g.holds and g.searched:
            out.append(f"  {searched_text(g)}")
        out.append("")
    out += [_wrap(line, "") for line in truncation_notes(e.document)]
    return "\n".join(out).rstrip() + "\n"


def _refutation(g) -> model.Refutation:
    """A goal that does not hold: its refutation."""
    if not isinstance(g.node, model.Refutation):
        raise TypeError(f"goal {g.label!r} holds: it has no refutation")
    return g.node


def searched_text(g) -> str:
    """What the counterfactual search tried, in one sentence."""
    if not g.searched:
        return "Counterfactuals were not searched."
    if g.counterfactuals:
        return f"(counterfactuals: {len(g.counterfactuals)} shown, from {g.searched:,} variants of the case tried)"
    return f"No change of one or two inputs among the {g.searched:,} variants tried makes it hold."


def truncation_notes(document: dict) -> list[str]:
    """Where the explanation was cut short, said to the reader (nothing when it was not)."""
    return [f"NOTE: this explanation is partial: {why}." for why in document.get("truncated", [])]


# ---- memo


def provision_url(url: str, as_of: str) -> str:
    """An eCFR link to the text in force on the date asked (eCFR keeps point-in-time versions)."""
    prefix = "https://www.ecfr.gov/current/"
    return f"https://www.ecfr.gov/on/{as_of}/{url[len(prefix) :]}" if url.startswith(prefix) else url


def _cite_md(cite: str, onto: ontology.Ontology, as_of: str = "") -> str:
    p = onto.provisions.get(cite)
    return f"[{cite}]({provision_url(p.url, as_of) if as_of else p.url})" if p else cite


def memo_header(e: Explanation, generated: str | None = None) -> list[tuple[str, str]]:
    """The memo's header: matter, parties, preparer, when it was generated, the rule set and the law's date."""
    d, q = e.decision, e.document["question"]
    onto = ontology.load()
    given = {a[0]: a[2:] for a in q["inputs"] if len(a) > 2}

    def country(code) -> str:
        return format_value("", code, onto) if code else "not given"

    parties = (
        f"exporter in {country((given.get('origin') or [None])[0])}; end user "
        f"{(given.get('end_user') or ['not given'])[0]}, "
        f"headquartered in {country((given.get('hq') or [None])[0])}; "
        f"destination {country((given.get('destination') or [None])[0])}"
    )
    generated = generated or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        ("Matter reference", f"{d.id} ({q['source']})"),
        ("Parties", parties),
        ("Prepared by", "aidkb, automated analysis for review by counsel"),
        ("Generated", generated),
        ("Rule set version", d.ruleset_version),
        ("Law as of", f"{d.as_of}; citations link to the eCFR as in force on that date"),
    ]


def _obligations(d: Decision) -> list[str]:
    """Each obligation in the words of the rule that imposes it."""
    said = {r.conclusion.split(": ", 1)[-1]: r.text for r in d.reasons if r.conclusion.startswith("obligation:")}
    return [said.get(o, o) for o in d.obligations]


def _question_rows(e: Explanation) -> list[tuple[str, str]]:
    q = e.document["question"]
    program, onto = e.program or e.decision.rules(), ontology.load()
    return [
        ("Case", f"{q['case']} ({q['source']})"),
        ("As of", q["as_of"]),
        ("Reading", q["mode"].replace("_", " ")),
        ("What if", "; ".join(e.decision.what_if) or "none"),
        (
            "Facts",
            "; ".join(
                atom_text(a, program, onto)
                for a in typed_atoms(q["inputs"], program, onto)
                if a.pred not in ("case", "as_of", "mode")
            ),
        ),
    ]


def memo_markdown(e: Explanation, generated: str | None = None) -> str:
    d, onto, program = e.decision, ontology.load(), e.program or e.decision.rules()
    lines = [f"# Export-control memo: {d.title or d.id}", ""]
    lines += [f"- **{k}:** {v}" for k, v in memo_header(e, generated)]
    lines += ["", "## Question", ""]
    lines += [f"- **{k}:** {v}" for k, v in _question_rows(e)]
    lines += [
        "",
        "## Answer",
        "",
        answer_sentence(d),
        "",
        f"## Legal status on {d.as_of}",
        "",
        d.status,
        "",
        "## Reasons",
        "",
    ]
    lines += [
        f"- {r.text} ({', '.join(_cite_md(c, onto, d.as_of) for c in r.citations)}; rule `{r.rule}`)" for r in d.reasons
    ]
    failed = [g for g in e.goals if not g.holds]
    if failed:
        lines += ["", "## Why not", ""]
        for g in failed:
            n = _refutation(g)
            lines += [f"### {g.label}: does not hold", "", f"{n.reason} *({n.category})*", ""]
            if n.obstacles and len(n.obstacles) > 1:
                lines += (
                    ["Every obstacle:"]
                    + [f"- {o.reason} (rule `{o.rule}`, condition {o.failed_at + 1})" for o in n.obstacles]
                    + [""]
                )
            n = failing_point(n)
            if n.rule:
                cited = ", ".join(_cite_md(c, onto, d.as_of) for c in n.citations)
                lines.append(f"Rule `{n.rule}` ({cited}) fails at condition {(n.failed_at or 0) + 1}: `{n.condition}`.")
            lines += (
                ["", "It would hold if:"] + [f"- {cf.describe(onto)}" for cf in g.counterfactuals]
                if g.counterfactuals
                else ["", searched_text(g)]
            )
            lines.append("")
    for title, items in (
        ("Unclear", [f"{k}: {v}" for k, v in d.uncertain.items()]),
        ("Red flags", [onto.titled(f) for f in d.red_flags]),
        ("Obligations", _obligations(d)),
        ("Caveats", d.caveats),
    ):
        if items:
            lines += ["", f"## {title}", ""] + [f"- {i}" for i in items]
    lines += ["", "## Provisions", ""] + [f"- {_cite_md(c, onto, d.as_of)}" for c in d.citations]
    lines += ["", "## Proof", "", "```"]
    for g in e.goals:
        lines.append(f"{'WHY' if g.holds else 'WHY NOT'}: {g.label}")
        lines += node_lines(g.node, program, onto, 1)
    lines += ["```", ""]
    for note in truncation_notes(e.document):
        lines += [f"**{note}**", ""]
    lines += [
        f"Rule set version {d.ruleset_version}. Checkable with `aidkb check-proof` "
        f"(format {V2}, {WORDS}). Not legal advice.",
        "",
    ]
    return "\n".join(lines)


def memo_html(e: Explanation, generated: str | None = None) -> str:
    d, onto, program = e.decision, ontology.load(), e.program or e.decision.rules()
    esc = html.escape

    def cite(c: str) -> str:
        p = onto.provisions.get(c)
        return f'<a href="{esc(provision_url(p.url, d.as_of))}">{esc(c)}</a>' if p else esc(c)

    parts = [
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(d.title or d.id)}</title>'
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
        "pre{white-space:pre-wrap;background:#f6f6f6;padding:1em}.status{border-left:4px solid #b60;"
        "padding-left:1em}@media print{details>*{display:block}details summary{display:none}"
        'a[href]::after{content:" (" attr(href) ")";font-size:80%;word-break:break-all}}'
        "</style></head><body>",
        f'<h1>Export-control memo: {esc(d.title or d.id)}</h1><ul class="header">',
    ]
    parts += [f"<li><b>{esc(k)}:</b> {esc(v)}</li>" for k, v in memo_header(e, generated)]
    parts += ["</ul><h2>Question</h2><ul>"]
    parts += [f"<li><b>{esc(k)}:</b> {esc(v)}</li>" for k, v in _question_rows(e)]
    parts += [
        f"</ul><h2>Answer</h2><p>{esc(answer_sentence(d))}</p>",
        f'<h2>Legal status on {esc(d.as_of)}</h2><p class="status">{esc(d.status)}</p><h2>Reasons</h2><ul>',
    ]
    parts += [
        f"<li>{esc(r.text)} ({', '.join(cite(c) for c in r.citations)}; rule <code>{esc(r.rule)}</code>)</li>"
        for r in d.reasons
    ]
    parts.append("</ul>")
    failed = [g for g in e.goals if not g.holds]
    if failed:
        parts.append("<h2>Why not</h2>")
        for g in failed:
            n = _refutation(g)
            parts.append(f"<h3>{esc(g.label)}: does not hold</h3><p>{esc(n.reason)} <i>({esc(n.category)})</i></p>")
            if n.obstacles and len(n.obstacles) > 1:
                parts.append(
                    "<p>Every obstacle:</p><ul>"
                    + "".join(
                        f"<li>{esc(o.reason)} (rule <code>{esc(o.rule)}</code>, condition {o.failed_at + 1})</li>"
                        for o in n.obstacles
                    )
                    + "</ul>"
                )
            n = failing_point(n)
            if n.rule:
                parts.append(
                    f"<p>Rule <code>{esc(n.rule)}</code> ({', '.join(cite(c) for c in n.citations)}) "
                    f"fails at condition {(n.failed_at or 0) + 1}: <code>{esc(n.condition or '')}</code>.</p>"
                )
            parts.append(
                "<p>It would hold if:</p><ul>"
                + "".join(f"<li>{esc(cf.describe(onto))}</li>" for cf in g.counterfactuals)
                + "</ul>"
                if g.counterfactuals
                else f"<p>{esc(searched_text(g))}</p>"
            )
    for title, items in (
        ("Unclear", [f"{k}: {v}" for k, v in d.uncertain.items()]),
        ("Red flags", [onto.titled(f) for f in d.red_flags]),
        ("Obligations", _obligations(d)),
        ("Caveats", d.caveats),
    ):
        if items:
            parts.append(f"<h2>{title}</h2><ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>")
    parts.append("<h2>Provisions</h2><ul>" + "".join(f"<li>{cite(c)}</li>" for c in d.citations) + "</ul>")
    tree = []
    for g in e.goals:
        tree.append(f"{'WHY' if g.holds else 'WHY NOT'}: {g.label}")
        tree += node_lines(g.node, program, onto, 1)
    parts.append(
        f"<h2>Proof</h2><details open><summary>proof tree</summary><pre>{esc(chr(10).join(tree))}</pre></details>"
    )
    parts += [f"<p><b>{esc(n)}</b></p>" for n in truncation_notes(e.document)]
    parts.append(
        f"<p>Rule set version {esc(d.ruleset_version)}. Checkable with <code>aidkb check-proof</code> "
        f"(format {V2}, {WORDS}). Not legal advice.</p></body></html>"
    )
    return "\n".join(parts) + "\n"


# ---- Graphviz


def proof_dot(e: Explanation) -> str:
    program, onto = e.program or e.decision.rules(), ontology.load()
    lines = ["digraph proof {", '  rankdir=BT; node [shape=box, fontname="Helvetica", fontsize=10];']
    ids: dict[str, str] = {}

    def node_id(key: str) -> str:
        return ids.setdefault(key, f"n{len(ids)}")

    def label(text: str) -> str:
        return json.dumps(textwrap.fill(text, 50))

    def walk(node: model.Node) -> str:
        written = model.write_node(node)
        me = node_id(f"{written['kind']}:{json.dumps(written.get('atom') or written.get('condition'))}")
        if isinstance(node, model.RuleApplication):
            lines.append(f"  {me} [label={label(node.sentence + ' [' + '; '.join(node.citations) + ']')}];")
        elif isinstance(node, model.Refutation):
            lines.append(f"  {me} [label={label('NOT: ' + node.reason)}, color=red];")
        elif isinstance(node, (model.Fact, model.Ref)):
            lines.append(f"  {me} [label={label(atom_text(node.atom, program, onto))}, style=rounded];")
        elif isinstance(node, model.Negation):
            lines.append(f"  {me} [label={label('not ' + atom_text(node.atom, program, onto))}, style=dashed];")
        else:
            lines.append(f"  {me} [label={label(node.condition)}, shape=ellipse];")
        for _, child in model.children(node):
            lines.append(f"  {walk(child)} -> {me};")
        return me

    for g in e.goals:
        walk(g.node)
    lines.append("}")
    return "\n".join(dict.fromkeys(lines)) + "\n"


def rule_card(rule, onto: ontology.Ontology) -> str:
    """A rule as `aidkb rules --show` prints it: id, sentence, grade, its text, and the law beside it (each cited
    provision's words, where the knowledge base has read them, with their source)."""
    lines = [f"{rule.id}  [{rule.file}; grade {rule.grade}]", _wrap(rule.says, "  ")]
    if rule.note:
        lines.append(_wrap(f"note: {rule.note}", "  "))
    lines.append("  " + rule.text())
    for cite in rule.cites:
        provision = onto.provisions.get(cite)
        lines.append(f"  cites {cite}" + (f": {provision.title}" if provision else ""))
        if provision and provision.text:
            lines.append(_wrap(f"\u201c{provision.text}\u201d ({provision.text_source})", "      "))
    return "\n".join(lines)
