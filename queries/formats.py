"""The formats an explanation is rendered in: a registry, as rdflib keeps its parsers and serializers.

Each entry names its renderer by module path, so that listing the formats (the command line's choices, the
OpenAPI document) imports nothing heavy; a renderer is imported when it is first used. Adding a format is one
`register` call. Every face (aidkb.queries.service, and through it `aidkb explain` and `POST /v1/explain`) renders
through `render`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Format:
    name: str
    media_type: str
    renderer: str  # "module:function", called with the Explanation
    counterfactuals: bool = True  # whether the explanation searches counterfactuals for it

    def function(self) -> Callable[[Any], Any]:
        module, name = self.renderer.split(":")
        return getattr(importlib.import_module(module), name)


FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> None:
    FORMATS[fmt.name] = fmt


def render(explanation: Any, name: str) -> Any:
    """The explanation in the named format (proof.v2 data for json, else text)."""
    return FORMATS[name].function()(explanation)


def document(explanation: Any) -> dict:
    """The proof document, written as proof.v2 (typed values, conclusions keyed by atom)."""
    from aidkb import ontology
    from aidkb.kb.program import baseline_program
    from aidkb.queries.proof_v2 import to_v2

    return to_v2(explanation.document, explanation.program or baseline_program(), ontology.load())


register(Format("text", "text/plain", "aidkb.queries.render:explanation_text"))
register(Format("json", "application/json", "aidkb.queries.formats:document", counterfactuals=False))
register(Format("md", "text/markdown", "aidkb.queries.render:memo_markdown"))
register(Format("html", "text/html", "aidkb.queries.render:memo_html"))
register(Format("dot", "text/vnd.graphviz", "aidkb.queries.render:proof_dot"))
register(Format("ttl", "text/turtle", "aidkb.queries.prov:proof_turtle"))
