"""The `aidkb` command: decide cases, run legal tests, check rule files, build the ontology."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
from functools import lru_cache
from pathlib import Path

from aidkb.kb.deadline import Worker
from aidkb.kb.errors import AidkbError, UsageError
from aidkb.queries.formats import FORMATS

# ---- work done in the deadline worker (module-level so that it can be sent to the worker process)


@lru_cache(maxsize=4)
def _program(rules: str | None):
    return _load_program(rules)


def _decide(case, rules: str | None):
    from aidkb.queries.decide import decide

    return decide(case, _program(rules))


def _explain(case, goal: str | None, fmt: str):
    from aidkb.queries import service

    return service.explain(case, goal, fmt)


def _screen(
    portfolio: str, reform: str | None, engine: str, out: str | None, strict: bool, reasons: bool, progress=None
):
    from aidkb.queries.screen import screen

    return screen(portfolio, reform, engine=engine, out_path=out, strict=strict, progress=progress, reasons=reasons)


def _impact(reform, cases, grid: bool, as_of, mode: str):
    from aidkb.queries.impact import impact

    return impact(reform, cases, grid, progress=_progress(), as_of=as_of, mode=mode)


def _load_program(rules: str | None):
    from aidkb.kb.program import baseline_program, load_program

    if rules is None:
        return baseline_program()
    directory = Path(rules)
    if not directory.is_dir():
        raise UsageError(f"{rules}: --rules must be a directory of .dl rule files")
    return load_program(directory)


def _case_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml"))
            if not found:
                raise UsageError(f"{p}: no case files (*.yaml) in this directory")
            files += found
        elif p.exists():
            files.append(p)
        else:
            raise UsageError(f"{p}: no such file")
    return files


def cmd_decide(args) -> int:
    from aidkb.queries.case import load_case
    from aidkb.queries.render import decision_text

    _load_program(args.rules)  # a broken rule file is reported before any case is read
    cases = [load_case(f) for f in _case_files(args.files)]  # validate every file before answering any
    seen: dict[str, object] = {}
    for case in cases:
        if case.id in seen:
            raise UsageError(f"{case.source}: id: {case.id!r} is also the id of {seen[case.id]}")
        seen[case.id] = case.source
    decisions, overrun = _decide_all(cases, args.rules)
    if args.json:
        out = [d.to_json() for d in decisions if d is not None]
        print(
            json.dumps(
                out[0] if len(out) == 1 and len(args.files) == 1 and Path(args.files[0]).is_file() else out,
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        print("\n\n".join(decision_text(d) for d in decisions if d is not None))
    return 2 if overrun else 0


def _decide_all(cases, rules: str | None) -> tuple[list, int]:
    """Each case decided in the deadline worker; a case that overruns its time or memory limit (or kills its
    worker) is reported alone (its file named, one `error:` line) and the others are still answered. Returns the
    decisions (None for a case that got no answer) and the number of such cases."""
    from aidkb.kb.deadline import DeadlineExceeded, MemoryLimitExceeded, WorkerFailed

    decisions: list = []
    with Worker() as worker:
        for case in cases:
            try:
                decisions.append(worker.call(_decide, case, rules))
            except (DeadlineExceeded, MemoryLimitExceeded, WorkerFailed) as e:
                print(f"error: {case.source}: {e}", file=sys.stderr)
                decisions.append(None)
    return decisions, decisions.count(None)


def cmd_test(args) -> int:
    from aidkb.queries.case import load_case
    from aidkb.queries.expectations import mismatches

    _load_program(args.rules)
    cases = [load_case(f) for f in _case_files(args.paths)]
    for case in cases:
        if not case.expected:
            raise UsageError(f"{case.source}: expected: a test case needs an expected block")
    passed = failed = 0
    decisions, _ = _decide_all(cases, args.rules)
    for case, decision in zip(cases, decisions):
        problems = ["no answer within the deadline"] if decision is None else mismatches(decision, case.expected or {})
        if problems:
            failed += 1
            print(f"FAIL {case.id} ({case.source})")
            for p in problems:
                print(f"     {p}")
        else:
            passed += 1
            print(f"ok   {case.id}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def cmd_rules(args) -> int:
    if not args.versions and args.show is None and _rule_problems(args.rules):
        return 2
    program = _load_program(args.rules)
    if args.versions:
        from aidkb import ontology

        for v in ontology.load().rule_versions:
            dates = ", ".join(f"{k} {v[k]}" for k in ("published", "effective", "compliance") if v[k])
            print(
                f"{v['effective']}  {v['citation']} [{v['grade']}]\n    {v['title']}\n    {dates}\n"
                f"    encoded: {v['encodes']}"
            )
        return 0
    if args.show is not None:
        from aidkb import ontology
        from aidkb.queries.render import rule_card

        chosen = [r for r in program.rules if args.show in ("", r.id) or r.file.endswith(args.show)]
        if not chosen:
            raise UsageError(f"rules --show: no rule or rule file {args.show!r}")
        print("\n\n".join(rule_card(r, ontology.load()) for r in chosen))
        return 0
    print(f"{len(program.rules)} rules, {len(program.declarations)} declarations, rule set {program.version}: ok")
    return 0


def rule_domains() -> dict[str, set[str]]:
    """The names a rule's constants may give, by kind (the same check a reform's rules get)."""
    from aidkb import ontology
    from aidkb.queries.reform import rule_domains as domains

    return domains(ontology.load())


def _rule_problems(rules: str | None) -> int:
    """`aidkb rules`: every error of the rule files, one line each on stderr; how many there are."""
    from aidkb.kb.checks import problems_in
    from aidkb.kb.program import RULES_DIR, rule_files

    directory = Path(rules) if rules else RULES_DIR
    if not directory.is_dir():
        raise UsageError(f"{rules}: --rules must be a directory of .dl rule files")
    errors = problems_in(rule_files(directory), directory if directory == RULES_DIR else None, rule_domains())
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    if errors:
        print(f"error: {len(errors)} error{'s' if len(errors) > 1 else ''} in the rule files", file=sys.stderr)
    return len(errors)


def cmd_explain(args) -> int:
    from aidkb import ontology
    from aidkb.queries.case import load_case
    from aidkb.queries.explanation import goal_atom

    if args.row is not None:
        from aidkb.queries.screen import case_for_row

        case = case_for_row(args.file, args.row)
    else:
        case = load_case(Path(args.file))
    if args.goal:
        goal_atom(case, args.goal, ontology.load())  # an unknown goal is reported here
    with Worker() as worker:
        out = worker.call(_explain, case, args.goal, args.format)  # rendered by the service's formats
    if args.format == "json":
        print(json.dumps(out, indent=1, ensure_ascii=False))
    else:
        print(out, end="")
    return 0


def cmd_check_proof(args) -> int:
    """0 valid, 1 invalid, 2 unreadable (one `error:` line). The checker bounds the document's size and depth and
    checks a proof that carries rules in its own deadline worker (queries/checker.py)."""
    from aidkb.queries.checker import check_file

    status, line = check_file(args.file)
    if status == 2:
        print("error: " + line.replace(": error: ", ": ", 1), file=sys.stderr)
    else:
        print(line)
    return status


def cmd_convert_proof(args) -> int:
    """A proof.v1 document (or a decision.v1 answer) written as proof.v2 (decision.v2), on stdout."""
    from aidkb.queries.proof_v2 import ConvertError, convert_v1

    try:
        doc = json.loads(Path(args.file).read_text(encoding="utf-8"))
        out = convert_v1(doc)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        reason = str(e) if isinstance(e, ConvertError) else f"cannot read: {str(e)[:200]}"
        print(f"error: {args.file}: {reason}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=1, ensure_ascii=False))
    return 0


def _progress():
    """A progress line on stderr (rewritten in place on a terminal)."""
    last = {"shown": 0.0}
    tty = sys.stderr.isatty()

    def show(label: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - last["shown"] < (0.2 if tty else 5):
            return
        last["shown"] = now
        line = f"{label}: {done}/{total}"
        print(("\r" + line) if tty else line, end="" if tty and done < total else "\n", file=sys.stderr, flush=True)

    return show


def cmd_impact(args) -> int:
    import csv

    from aidkb.queries.case import load_case
    from aidkb.queries.reform import load_reform

    reform = load_reform(Path(args.reform))
    cases = [load_case(f) for f in _case_files(args.cases)] if args.cases else None
    if not cases and not args.grid:
        raise UsageError("impact: give --cases DIR, --grid, or both")
    from aidkb.queries.impact import GRID_AS_OF

    try:
        as_of = dt.date.fromisoformat(args.as_of) if args.as_of else GRID_AS_OF
    except ValueError:
        raise UsageError(f"impact: --as-of must be a date YYYY-MM-DD, not {args.as_of!r}") from None
    with Worker() as worker:
        result = worker.call(_impact, reform, cases, args.grid, as_of, args.mode)
    if args.json:
        print(json.dumps(result.to_json(), indent=1, ensure_ascii=False))
    elif args.csv:
        out = csv.writer(sys.stdout)
        out.writerow(["key", "country", "item", "before", "after", "causes"])
        for f in result.flips:
            out.writerow([f.key, f.country, f.item, f.before.describe(), f.after.describe(), " | ".join(f.causes)])
    else:
        print(f"reform: {reform.title}: {'; '.join(reform.describe())}")
        print(
            f"compared {result.compared:,} outcomes ({result.evaluated:,} evaluated under the reform) in "
            f"{result.seconds:.2f} s: {len(result.flips):,} flipped"
        )
        for name, counts in result.totals().items():
            print(f"  {name.replace('_', ' ')}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        for f in result.flips[: args.limit]:
            print(f"- {f.key}: {f.before.describe()} -> {f.after.describe()}")
            for cause in f.causes:
                print(f"    {cause}")
        if len(result.flips) > args.limit:
            print(f"... {len(result.flips) - args.limit:,} more (use --json or --csv for all)")
    return 0


def cmd_screen(args) -> int:
    from aidkb.queries.screen import FORMATS

    if args.out and FORMATS.get(Path(args.out).suffix.lower()) not in ("csv", "parquet"):
        raise UsageError(f"{args.out}: --out is written as .csv or .parquet")
    if args.reform:
        from aidkb.queries.reform import load_reform

        load_reform(Path(args.reform))  # a bad reform file is reported before any row is read
    # Screening is set at a time (DuckDB or Spark), not pyDatalog: it runs here, under no per-question deadline.
    result = _screen(
        args.portfolio, args.reform, args.engine, args.out, args.strict, not args.no_reasons, progress=_progress()
    )
    for bad in result.bad:
        print(f"error: {args.portfolio}: {bad}", file=sys.stderr)
    licensed = result.rows.true_count("license_required")
    print(
        f"{args.portfolio}: {result.screened:,} rows screened, {len(result.bad):,} bad, "
        f"{licensed:,} need a licence"
        + (f"; ledger: {len(result.ledger.breaches):,} breaches" if result.ledger else "")
        + (f"; written to {result.out_path}" if result.out_path else ""),
        file=sys.stderr,
    )
    if result.ledger:
        for b in result.ledger.breaches:
            print(f"  {b.limit} ({b.group}): first breached by row {b.row} ({b.id}): {b.why}", file=sys.stderr)
    if not args.out:
        from aidkb.queries.screen import write

        sys.stdout.flush()
        write(result.rows, sys.stdout.buffer, "csv")
    return 1 if result.bad else 0


def cmd_serve(args) -> int:
    import uvicorn

    uvicorn.run("aidkb.app.api:app", host=args.host, port=args.port, log_level=args.log_level)
    return 0


def cmd_ontology(args) -> int:
    from aidkb.ontology.build import build

    for line in build():
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    # Warnings (a fallback, a truncated explanation) go to stderr; AIDKB_LOG=INFO or DEBUG shows more.
    level = os.environ.get("AIDKB_LOG", "WARNING").upper()
    logging.basicConfig(
        level=level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "WARNING",
        format="%(levelname)s: %(name)s: %(message)s",
    )
    parser = argparse.ArgumentParser(
        prog="aidkb", description="The AI Diffusion rule (90 FR 4544) as cited Datalog over an OWL ontology."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("decide", help="decide case files")
    p.add_argument("files", nargs="+", help="case files (YAML) or folders of them")
    p.add_argument("--json", action="store_true", help="one JSON object per file (an array for several)")
    p.add_argument("--rules", help="a folder of .dl rule files to use instead of the embedded ones")
    p.set_defaults(func=cmd_decide)
    p = sub.add_parser("test", help="run case files as legal tests against their expected outcome")
    p.add_argument("paths", nargs="+", help="case files or folders")
    p.add_argument("--rules", help="a folder of .dl rule files to use instead of the embedded ones")
    p.set_defaults(func=cmd_test)
    p = sub.add_parser("rules", help="parse and check the rule files")
    p.add_argument("--rules", help="a folder of .dl rule files (default: the embedded ones)")
    p.add_argument("--versions", action="store_true", help="list the dated texts (rule sets) the rules rest on")
    p.add_argument(
        "--show",
        nargs="?",
        const="",
        metavar="ID_OR_FILE",
        help="print the rules (all, one id, or one file) with the text of the provisions they cite",
    )
    p.set_defaults(func=cmd_rules)
    p = sub.add_parser("explain", help="why and why not, with proofs and counterfactuals")
    p.add_argument("file", help="a case file (YAML), or a portfolio (CSV, Parquet, JSON Lines) with --row")
    p.add_argument("--row", metavar="ID", help="the row of a portfolio (its id, or its row number) to explain")
    p.add_argument(
        "--goal",
        help="license_required, a route (AIA, ACM, LPP, ACA, NAC, UVEU, NVEU) or a red flag id; "
        "default: the licence, every route and every red flag",
    )
    p.add_argument("--format", choices=list(FORMATS), default="text")
    p.set_defaults(func=cmd_explain)
    p = sub.add_parser("check-proof", help="check a proof (proof.v2 JSON; proof.v1 too) without the engine")
    p.add_argument("file", help="a proof.v2 document, or the JSON of `aidkb decide --json` for one case")
    p.set_defaults(func=cmd_check_proof)
    p = sub.add_parser("convert-proof", help="write a proof.v1 document (or decision) as proof.v2, on stdout")
    p.add_argument("file", help="a proof.v1 document, or a decision.v1 answer (`decide --json` of before)")
    p.set_defaults(func=cmd_convert_proof)
    p = sub.add_parser("impact", help="what a reform changes, over case files and the country x item x profile grid")
    p.add_argument("reform", help="a reform file (YAML)")
    p.add_argument("--cases", nargs="+", help="case files or folders to compare")
    p.add_argument("--grid", action="store_true", help="compare the exhaustive grid (see queries/impact.py)")
    p.add_argument("--as-of", help="the grid's date, YYYY-MM-DD (default 2025-06-01; cases keep their own)")
    p.add_argument(
        "--mode",
        choices=("as_published", "as_enforced"),
        default="as_published",
        help="the grid's reading (default as_published; cases keep their own)",
    )
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    p.add_argument("--limit", type=int, default=40, help="flips listed in the text output")
    p.set_defaults(func=cmd_impact)
    p = sub.add_parser(
        "screen", help="decide every transaction of a portfolio set at a time (CSV, Parquet, JSON Lines)"
    )
    p.add_argument(
        "portfolio",
        help="a .csv, .parquet or .jsonl file: one row per transaction, one column per case field by its dotted path",
    )
    p.add_argument("--reform", help="a reform file (YAML) applied to every row")
    p.add_argument("--out", help="write the rows to this .csv or .parquet file (default: CSV on stdout)")
    p.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
    p.add_argument("--strict", action="store_true", help="stop at the first bad row")
    p.add_argument(
        "--no-reasons",
        action="store_true",
        help="outcome columns only (no failing conditions, citations, caveats): the fastest",
    )
    p.set_defaults(func=cmd_screen)
    p = sub.add_parser("serve", help='the HTTP API (README, "HTTP API"), served by uvicorn')
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("ontology", help="rebuild ontology/aidkb.owl and ontology/facts.json from ontology/src")
    p.set_defaults(func=cmd_ontology)
    args = parser.parse_args(argv)

    try:
        return args.func(args)
    except BrokenPipeError:  # `aidkb ... | head`: the reader has gone; end quietly (SIGPIPE is not reset,
        # since the deadline worker's own pipes must give BrokenPipeError, not end the process)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except AidkbError as e:
        print(f"error: {e}", file=sys.stderr)
        return getattr(e, "exit_status", 2)


if __name__ == "__main__":
    sys.exit(main())
