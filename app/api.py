"""The HTTP API (`aidkb serve`): the knowledge base over JSON, versioned under /v1.

Every answer comes from aidkb.queries.service (the same functions the command line runs); this module only reads
requests, bounds them, and maps errors. Bodies are read by the project's hardened JSON reader (exact numbers,
duplicate keys refused) and validated by the case and reform validators, so a bad field is a 422 naming it.
Engine work runs in deadline worker processes (aidkb.queries.service.Pool): an overrun is a 504 and the worker is
restarted. A what-if travels with its case, so one request's reform never reaches another's engine. Impact
over the grid is slow and runs as a job (202, then GET /v1/jobs/{id}).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from aidkb.kb.deadline import Worker
from aidkb.kb.errors import AidkbError
from aidkb.queries import service
from aidkb.queries.case import CASE_ID, CONFIDENCES, END_USES, FLAGS, KINDS, MODES, VEU_TYPES
from aidkb.queries.reader import LIMITS, decode, load_json
from aidkb.queries.service import Busy, NotFound, PayloadTooLarge, RequestError, at

log = logging.getLogger("aidkb.api")

MAX_BODY = LIMITS.max_bytes  # bytes in a request body (413 beyond)
MAX_BATCH = 200  # cases in one POST /v1/decide or /v1/impact
MAX_JOBS_WAITING = 4  # grid impacts queued or running (503 beyond)
MAX_JOBS_KEPT = 100  # finished jobs kept for GET /v1/jobs/{id}
JOB_DEADLINE = float(os.environ.get("AIDKB_JOB_DEADLINE", "900"))
SLOW_WORKERS = int(os.environ.get("AIDKB_API_SLOW_WORKERS", "2"))  # explain with counterfactuals, impact
SOURCE = "request"


class JSONText(JSONResponse):
    """JSON as the command line writes it (UTF-8, no ASCII escapes; exact integers)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False).encode("utf-8")


# ---- grid impacts, as jobs


class Jobs:
    """Grid impacts run one at a time in a worker process of their own, with a long deadline; progress as the
    impact reports it. At most MAX_JOBS_WAITING wait or run; the last MAX_JOBS_KEPT are kept."""

    def __init__(self, seconds: float = JOB_DEADLINE):
        self.seconds = seconds
        self._jobs: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._worker: Worker | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, reform, cases) -> dict:
        with self._lock:
            waiting = sum(1 for j in self._jobs.values() if j["status"] in ("queued", "running"))
            if waiting >= MAX_JOBS_WAITING:
                raise Busy(f"{waiting} grid impacts are already queued or running: try again later")
            job_id = uuid.uuid4().hex
            job = {
                "id": job_id,
                "status": "queued",
                "progress": None,
                "result": None,
                "error": None,
                "submitted": time.time(),
                "started": None,
                "finished": None,
            }
            self._jobs[job_id] = job
            self._trim()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="aidkb-jobs", daemon=True)
                self._thread.start()
        self._queue.put((job_id, reform, cases))
        return self.get(job_id)

    def get(self, job_id: str) -> dict:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise NotFound(f"no job {job_id[:40]!r} (jobs are kept in memory, the last {MAX_JOBS_KEPT})")
            return copy.deepcopy(job)

    def _trim(self) -> None:
        done = [k for k, j in self._jobs.items() if j["status"] in ("done", "failed")]
        for k in done[: max(0, len(self._jobs) - MAX_JOBS_KEPT)]:
            del self._jobs[k]

    def _update(self, job_id: str, **changes) -> None:
        with self._lock:
            if job_id in self._jobs:
                self._jobs[job_id].update(changes)

    def _run(self) -> None:
        while not self._closed:
            item = self._queue.get()
            if item is None:
                return
            job_id, reform, cases = item
            self._update(job_id, status="running", started=time.time())

            def progress(label: str, done: int, total: int, job_id=job_id) -> None:
                self._update(job_id, progress={"stage": label, "done": done, "total": total})

            try:
                if self._worker is None:
                    self._worker = Worker(self.seconds)
                result = self._worker.call(service.impact, reform, cases, True, progress=progress)
                self._update(job_id, status="done", result=result, finished=time.time())
            except AidkbError as e:  # DeadlineExceeded (the job's deadline) among them
                self._update(job_id, status="failed", error=_error_body(e), finished=time.time())
            except Exception:  # a bug: logged, reported without its traceback
                log.exception("grid impact job %s failed", job_id)
                if self._worker is not None:
                    self._worker.kill()
                self._update(
                    job_id, status="failed", error={"error": "internal error", "field": None}, finished=time.time()
                )

    def close(self) -> None:
        self._closed = True
        self._queue.put(None)
        if self._worker is not None:
            self._worker.close()


# ---- request bodies


async def _body(request: Request) -> Any:
    """The JSON body: at most MAX_BODY bytes (413), UTF-8, exact numbers, no duplicate keys (422)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise PayloadTooLarge(f"request body of {int(length):,} bytes: at most {MAX_BODY:,} are accepted")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise PayloadTooLarge(f"request body larger than {MAX_BODY:,} bytes")
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data.strip():
        raise RequestError(SOURCE, "", "empty body: a JSON document is expected")
    return load_json(decode(data, SOURCE), SOURCE)


def _mapping(data: Any, allowed: set[str], required: frozenset[str] | set[str] = frozenset()) -> dict:
    if not isinstance(data, dict):
        raise RequestError(SOURCE, "", "must be a JSON object")
    for key in data:
        if key not in allowed:
            raise RequestError(SOURCE, str(key), f"unknown field (allowed: {', '.join(sorted(allowed))})")
    for key in sorted(required - set(data)):
        raise RequestError(SOURCE, key, "missing required field")
    return data


def _cases(value: Any, prefix: str) -> list:
    """A list of at most MAX_BATCH validated cases with distinct ids, each error naming its index."""
    if not isinstance(value, list) or not value:
        raise RequestError(SOURCE, prefix, "must be a non-empty list of cases")
    if len(value) > MAX_BATCH:
        raise RequestError(SOURCE, prefix, f"{len(value):,} cases; at most {MAX_BATCH} in one request")
    out: list = []
    seen: dict[str, int] = {}
    for i, data in enumerate(value):
        with at(f"{prefix}[{i}]"):
            case = _case(data)
            if case.id in seen:
                raise RequestError(SOURCE, "id", f"{case.id!r} is also the id of {prefix}[{seen[case.id]}]")
            seen[case.id] = i
        out.append(case)
    return out


def _case(data: Any):
    case = service.case_of(data, SOURCE)
    if case.what_if:  # a what-if whose amended rules do not check is refused here, naming the field
        from aidkb.queries.reform import Reform

        _check_rules(Reform(case.what_if))
    return case


_checked: OrderedDict = OrderedDict()
_checked_lock = threading.Lock()


def _check_rules(reform, path: str = "what_if") -> None:
    """The reform's amended rule set checks as a whole (ReformError otherwise); remembered for 64 reforms."""
    if not reform.rule_operations():
        return
    key = (reform.key, path)
    with _checked_lock:
        if key in _checked:
            return
    reform.program(source=SOURCE, path=path)
    with _checked_lock:
        _checked[key] = True
        while len(_checked) > 64:
            _checked.popitem(last=False)


def _error_body(e: AidkbError) -> dict:
    return {"error": str(e), "field": getattr(e, "field", None), "type": type(e).__name__}


# ---- OpenAPI: request and response shapes


def _schemas() -> dict:
    """Component schemas: the case contract, the reform contract, decision.v2 and proof.v2 (bundled)."""
    from aidkb import ontology

    onto = ontology.load()
    countries = sorted(onto.countries)
    country = {"type": "string", "enum": countries}
    country_or_null = {"type": ["string", "null"], "enum": countries + [None]}
    number = {"type": ["integer", "null"], "minimum": 0}
    text = {
        "type": ["string", "null"],
        "minLength": 1,
        "maxLength": 200,
        "pattern": "^[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$",
    }
    ops = {
        "type": ["number", "string", "null"],
        "description": "a whole number such as 200000000000000000000000000 or 2e26",
    }
    case = {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "as_of", "mode", "transaction"],
        "description": "one case, in the case-file contract (shared/cases/README.md), as JSON",
        "properties": {
            "id": {"type": "string", "pattern": "^" + CASE_ID.pattern.removesuffix("\\Z") + "$", "maxLength": 200},
            "title": text,
            "as_of": {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
            "mode": {"enum": list(MODES)},
            "confidence": {"enum": list(CONFIDENCES) + [None]},
            "transaction": {
                "type": "object",
                "additionalProperties": False,
                "required": ["kind", "item", "destination_country", "end_user"],
                "properties": {
                    "kind": {"enum": list(KINDS)},
                    "item": {"type": "string", "enum": sorted(onto.items)},
                    "quantity": {"type": ["integer", "null"], "minimum": 1, "maximum": 10_000_000},
                    "tpp_per_unit": {"type": ["integer", "null"], "minimum": 1, "maximum": 100_000_000},
                    "memory_bandwidth_gb_s": number,
                    "model": {
                        "type": ["object", "null"],
                        "additionalProperties": False,
                        "properties": {
                            "training_ops": ops,
                            "weights_published": {"type": ["boolean", "null"]},
                            "open_weight_frontier_ops": ops,
                            "derived_from_published_model": {"type": ["boolean", "null"]},
                            "additional_training_ops": ops,
                        },
                    },
                    "from_country": country_or_null,
                    "destination_country": country,
                    "end_user": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["hq_country", "ultimate_parent_hq_country", "end_use"],
                        "properties": {
                            "name": text,
                            "hq_country": country_or_null,
                            "ultimate_parent_hq_country": country_or_null,
                            "parent_chain": {
                                "type": ["array", "null"],
                                "minItems": 1,
                                "maxItems": 50,
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["name", "hq_country"],
                                    "properties": {"name": {**text, "type": "string"}, "hq_country": country},
                                },
                            },
                            "veu": {"enum": list(VEU_TYPES) + [None]},
                            "veu_holdings": {"type": ["object", "null"]},
                            "nveu_authorization": {"type": ["object", "null"]},
                            "end_use": {"enum": list(END_USES)},
                        },
                    },
                    "consignee_tpp_already_this_year": number,
                    "country_tpp_already_allocated": number,
                    "gov_to_gov_arrangement": {"type": ["boolean", "null"]},
                    "facts": {"type": ["array", "null"], "items": {"enum": list(FLAGS)}},
                },
            },
            "what_if": {
                "type": ["array", "object", "null"],
                "description": "reform operations applied to this case only (see Reform)",
            },
            "expected": {"type": ["object", "null"], "description": "the expected outcome of a legal test"},
        },
    }
    reform = {
        "type": "object",
        "additionalProperties": False,
        "required": ["operations"],
        "description": "a reform, in the reform-file contract (README, 'Time, reforms and impact'), as JSON",
        "properties": {
            "title": {"type": ["string", "null"], "maxLength": 300},
            "description": {"type": ["string", "null"], "maxLength": 300},
            "operations": {
                "type": "array",
                "minItems": 1,
                "maxItems": 200,
                "items": {"type": "object", "minProperties": 1},
            },
        },
    }
    error = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "field": {"type": ["string", "null"]},
            "type": {"type": "string", "description": "the error's class, named with each status below"},
        },
    }
    decision = json.loads((service.SCHEMAS / "decision.v2.json").read_text(encoding="utf-8"))
    proof = json.loads((service.SCHEMAS / "proof.v2.json").read_text(encoding="utf-8"))
    out = {"Case": case, "Reform": reform, "Error": error}
    for name, definition in proof.pop("$defs").items():
        out[f"Proof_{name}"] = _rebase(definition, "Proof_")
    out["Proof"] = _rebase({k: v for k, v in proof.items() if k not in ("$schema", "$id")}, "Proof_")
    for name, definition in decision.pop("$defs").items():
        out[f"Decision_{name}"] = _rebase(definition, "Decision_")
    out["Decision"] = _rebase({k: v for k, v in decision.items() if k not in ("$schema", "$id")}, "Decision_")
    out["Job"] = {
        "type": "object",
        "required": ["id", "status"],
        "properties": {
            "id": {"type": "string"},
            "status": {"enum": ["queued", "running", "done", "failed"]},
            "progress": {"type": ["object", "null"]},
            "result": {"type": ["object", "null"]},
            "error": {"anyOf": [{"$ref": "#/components/schemas/Error"}, {"type": "null"}]},
            "submitted": {"type": "number"},
            "started": {"type": ["number", "null"]},
            "finished": {"type": ["number", "null"]},
        },
    }
    return out


def _rebase(node: Any, prefix: str) -> Any:
    """A JSON Schema's local references ("#/$defs/x", "proof.v2.json") pointed at OpenAPI components."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                if v.startswith("#/$defs/"):
                    v = f"#/components/schemas/{prefix}{v[len('#/$defs/') :]}"
                elif v == "proof.v2.json":
                    v = "#/components/schemas/Proof"
                elif v == "#":
                    v = f"#/components/schemas/{prefix.rstrip('_')}"
            out[k] = _rebase(v, prefix)
        return out
    if isinstance(node, list):
        return [_rebase(v, prefix) for v in node]
    return node


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _body_doc(schema: dict, description: str) -> dict:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


def _errors(*codes: int) -> dict:
    words = {
        404: "not found (NotFound)",
        413: "request body too large (PayloadTooLarge)",
        422: "bad input: the field is named (CaseError, ReformError, RequestError, ...)",
        500: "internal error, logged (InternalError)",
        503: "busy, try again later (Busy), or the engine's worker failed (WorkerFailed, MemoryLimitExceeded)",
        504: "the engine overran its deadline (DeadlineExceeded)",
    }
    return {
        c: {"description": words[c], "content": {"application/json": {"schema": _ref("Error")}}} for c in codes + (500,)
    }


def _json_response(schema: dict, description: str = "the answer") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# ---- the app


def create_app(
    pool: service.Pool | None = None, jobs: Jobs | None = None, warm: bool = True, slow: service.Pool | None = None
) -> FastAPI:
    """The API. `pool` runs the quick questions (decide, check-proof, tiers, explain as proof JSON), `slow` the
    ones that take seconds (explain with counterfactuals, impact over cases), so that these never hold up the
    quick ones, and `jobs` the grid impacts. What is not given is made here, and closed when the app stops (a
    caller that passes its own closes it). `warm` starts the workers at start-up."""
    state: dict[str, Any] = {
        "ready": False,
        "pool": pool or service.Pool(),
        "slow": slow or service.Pool(SLOW_WORKERS),
        "jobs": jobs or Jobs(),
    }
    owned = [x for x, given in ((state["jobs"], jobs), (state["pool"], pool), (state["slow"], slow)) if given is None]

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if warm and not state["ready"]:

            def warm_up():
                other = threading.Thread(target=state["slow"].warm, daemon=True)
                other.start()
                state["pool"].warm()
                other.join()
                state["ready"] = True

            threading.Thread(target=warm_up, name="aidkb-warm", daemon=True).start()
        else:
            state["ready"] = True
        try:
            yield
        finally:
            for x in owned:
                x.close()

    app = FastAPI(
        title="aidkb",
        version="1",
        description="The BIS AI Diffusion rule (90 FR 4544) as cited Datalog rules over an OWL ontology: "
        "decide cases, explain them, check proofs, measure reforms. Research tool, not legal "
        "advice.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )

    def engine(fn, *args, seconds: float | None = None, slow: bool = False):
        return state["slow" if slow else "pool"].call(fn, *args, seconds=seconds)

    # -- errors, mapped in one place

    @app.exception_handler(AidkbError)
    async def aidkb_error(request: Request, e: AidkbError):
        return JSONText(_error_body(e), status_code=e.http_status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, e: RequestValidationError):
        errors = e.errors()
        first = errors[0] if errors else {}
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return JSONText(
            {"error": f"{SOURCE}: {field}: {first.get('msg', 'invalid')}", "field": field, "type": "RequestError"},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException):
        return JSONText(
            {"error": str(e.detail), "field": None, "type": "HTTPError"},
            status_code=e.status_code,
            headers=getattr(e, "headers", None),
        )

    @app.exception_handler(Exception)
    async def internal_error(request: Request, e: Exception):
        ref = uuid.uuid4().hex[:12]
        log.error("internal error %s on %s %s", ref, request.method, request.url.path, exc_info=e)
        return JSONText(
            {"error": f"internal error (reference {ref}); it has been logged", "field": None, "type": "InternalError"},
            status_code=500,
        )

    # -- endpoints

    @app.get("/health", tags=["service"], responses={200: _json_response({"type": "object"}, "the service is up")})
    async def health():
        return JSONText(
            {
                "status": "ok",
                "ready": state["ready"],
                "ruleset_version": service.ruleset_version(),
                "workers": state["pool"].size,
                "slow_workers": state["slow"].size,
                "deadline_seconds": state["pool"].seconds,
            }
        )

    @app.post(
        "/v1/decide",
        tags=["questions"],
        response_class=JSONText,
        openapi_extra=_body_doc(
            {"oneOf": [_ref("Case"), {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": _ref("Case")}]},
            f"one case, or a list of at most {MAX_BATCH} with distinct ids",
        ),
        responses={
            200: _json_response(
                {"oneOf": [_ref("Decision"), {"type": "array", "items": _ref("Decision")}]},
                "what `aidkb decide --json` prints: an object, or a list for a list",
            ),
            **_errors(413, 422, 503, 504),
        },
    )
    async def decide(request: Request):
        data = await _body(request)

        def run():
            if isinstance(data, list):
                return engine(service.decide_each, _cases(data, ""))
            return engine(service.decide_json, _case(data))

        return JSONText(await run_in_threadpool(run))

    @app.post(
        "/v1/explain",
        tags=["questions"],
        response_class=Response,
        openapi_extra=_body_doc(
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["case"],
                "properties": {
                    "case": _ref("Case"),
                    "goal": {"type": ["string", "null"]},
                    "format": {"enum": list(service.FORMATS)},
                },
            },
            "a case, a goal (license_required, a route id or a red flag id; default: "
            "every conclusion and failed route) and a format (default text)",
        ),
        responses={
            200: {
                "description": "what `aidkb explain` prints: proof.v2 for json, else text",
                "content": {
                    "application/json": {"schema": _ref("Proof")},
                    **{service.MEDIA_TYPES[f]: {"schema": {"type": "string"}} for f in service.FORMATS if f != "json"},
                },
            },
            **_errors(413, 422, 503, 504),
        },
    )
    async def explain(request: Request):
        data = _mapping(await _body(request), {"case", "goal", "format"}, {"case"})
        fmt = service.check_format(data.get("format", "text"), SOURCE)

        def run():
            with at("case"):
                case = _case(data["case"])
            service.check_goal(case, data.get("goal"), SOURCE)
            return engine(service.explain, case, data.get("goal"), fmt, slow=fmt != "json")

        out = await run_in_threadpool(run)
        if fmt == "json":
            return JSONText(out)
        return Response(out, media_type=service.MEDIA_TYPES[fmt])

    @app.post(
        "/v1/check-proof",
        tags=["questions"],
        response_class=JSONText,
        openapi_extra=_body_doc(
            {},
            "a proof.v2 (or v1) document, or the output of POST /v1/decide for one "
            "case (its answer fields are checked against its proof too)",
        ),
        responses={
            200: _json_response(
                {
                    "type": "object",
                    "required": ["valid", "steps", "error", "verdict"],
                    "properties": {
                        "valid": {"type": "boolean"},
                        "steps": {"type": "integer"},
                        "error": {"type": ["string", "null"]},
                        "reform": {"type": "array", "items": {"type": "string"}},
                        "verdict": {"type": "string"},
                    },
                },
                "valid, the steps checked, the first bad step (a malformed "
                "document is invalid), the what-if it was made under, and the "
                "line `aidkb check-proof` prints",
            ),
            **_errors(413, 422, 503, 504),
        },
    )
    async def check_proof(request: Request):
        data = await _body(request)
        return JSONText(await run_in_threadpool(engine, service.check_proof, data, SOURCE))

    @app.post(
        "/v1/impact",
        tags=["questions"],
        response_class=JSONText,
        status_code=200,
        openapi_extra=_body_doc(
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["reform"],
                "properties": {
                    "reform": _ref("Reform"),
                    "cases": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": _ref("Case")},
                    "grid": {"type": "boolean"},
                },
            },
            "a reform and the cases to compare and/or grid: true (then a job)",
        ),
        responses={
            200: _json_response({"type": "object"}, "what `aidkb impact --json` prints"),
            202: _json_response(_ref("Job"), "the grid impact was queued: poll GET /v1/jobs/{id}"),
            **_errors(413, 422, 503, 504),
        },
    )
    async def impact(request: Request):
        data = _mapping(await _body(request), {"reform", "cases", "grid"}, {"reform"})
        grid = data.get("grid", False)
        if not isinstance(grid, bool):
            raise RequestError(SOURCE, "grid", "must be true or false")
        if "cases" not in data and not grid:
            raise RequestError(SOURCE, "cases", "give cases, grid: true, or both")

        def run():
            with at("reform"):
                reform = service.reform_of(data["reform"], SOURCE)
                _check_rules(reform, "operations")
            cases = _cases(data["cases"], "cases") if "cases" in data else None
            if grid:
                job = state["jobs"].submit(reform, cases)
                return JSONText(job, status_code=202, headers={"Location": f"/v1/jobs/{job['id']}"})
            return JSONText(engine(service.impact, reform, cases, False, slow=True))

        return await run_in_threadpool(run)

    @app.get(
        "/v1/jobs/{job_id}",
        tags=["questions"],
        response_class=JSONText,
        responses={200: _json_response(_ref("Job"), "the job: status, progress, result or error"), **_errors(404)},
    )
    async def job(job_id: str):
        return JSONText(state["jobs"].get(job_id))

    @app.get(
        "/v1/rules",
        tags=["reference"],
        response_class=JSONText,
        responses={200: _json_response({"type": "array", "items": {"type": "object"}}, "every rule")},
    )
    async def rules():
        return JSONText(list(service.rules()))

    @app.get(
        "/v1/provisions",
        tags=["reference"],
        response_class=JSONText,
        responses={
            200: _json_response(
                {"type": "array", "items": {"type": "object"}}, "every provision, with its words where read"
            )
        },
    )
    async def provisions():
        return JSONText(list(service.provisions()))

    @app.get(
        "/v1/countries",
        tags=["reference"],
        response_class=JSONText,
        responses={
            200: _json_response(
                {"type": "array", "items": {"type": "object"}}, "every country with its dated group listings"
            )
        },
    )
    async def countries():
        return JSONText(list(service.countries()))

    tiers_cache: OrderedDict = OrderedDict()

    @app.get(
        "/v1/tiers",
        tags=["reference"],
        response_class=JSONText,
        responses={
            200: _json_response(
                {
                    "type": "object",
                    "required": ["as_of", "tiers"],
                    "properties": {
                        "as_of": {"type": "string"},
                        "tiers": {"type": "object", "additionalProperties": {"enum": [1, 2, 3]}},
                    },
                },
                "each country's tier on the date",
            ),
            **_errors(422, 503, 504),
        },
    )
    async def tiers(as_of: str | None = None):
        day = service.date_of(as_of, SOURCE, "as_of")
        if day not in tiers_cache:
            tiers_cache[day] = await run_in_threadpool(engine, service.tiers, day)
            while len(tiers_cache) > 64:
                tiers_cache.popitem(last=False)
        return JSONText({"as_of": day.isoformat(), "tiers": tiers_cache[day]})

    def openapi() -> dict:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            doc.setdefault("components", {}).setdefault("schemas", {}).update(_schemas())
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


app = create_app()
