"""Packaging: one import name, `aidkb`, and each module imported under that one name only.

The folders kb/ ontology/ queries/ app/ are linked into aidkb/ (aidkb/kb -> ../kb, ...). From the project root
the old names (`import kb`) would still resolve, giving a second copy of every module (and of every error class,
so an `except` would miss): these tests fail if any file uses them.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

OLD = ("kb", "queries", "ontology", "app")
SKIP = {".venv", ".git", "build", "dist", "aidkb", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
# A string naming a module by an old name: "app.cli", "queries.render:memo_html", "-m app.cli", "import kb.x".
MODULE_STRING = re.compile(r"^(kb|queries|ontology|app)\.(\w+)[\w.]*(?::\w+)?$")  # when kb/x.py exists
OLD_IN_STRING = re.compile(
    r"-m\s+(?:kb|queries|ontology|app)\.\w"
    r"|(?m:^|;)\s*(?:import\s+(?:kb|queries|ontology|app)\b(?![/-])"
    r"|from\s+(?:kb|queries|ontology|app)(?:\.\w+)*\s+import\b)"
)


def python_files():
    for here, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP and not d.endswith(".egg-info")]
        yield from (Path(here) / n for n in names if n.endswith(".py"))


def names_module(text: str) -> bool:
    m = MODULE_STRING.match(text)
    return bool(m) and ((ROOT / m[1] / f"{m[2]}.py").is_file() or (ROOT / m[1] / m[2] / "__init__.py").is_file())


def old_names(path: Path) -> list[str]:
    """Where a file imports, or names in a string, a module by its old top-level name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and (OLD_IN_STRING.search(node.value) or names_module(node.value))
        ):
            names = [node.value]
        else:
            continue
        for name in names:
            if isinstance(node, ast.Constant) or name.split(".")[0] in OLD:
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
                found.append(f"{where}:{node.lineno}: {name[:60]!r}")
    return sorted(found, key=lambda hit: int(hit.split(":")[1]))


def test_no_file_imports_the_old_top_level_names():
    found = [hit for path in python_files() for hit in old_names(path)]
    assert found == [], "use aidkb.kb, aidkb.queries, ... (python /work/helpers/rewrite_imports.py .):\n" + "\n".join(
        found
    )


def test_the_check_sees_an_old_import(tmp_path):
    path = tmp_path / "old.py"
    kb, app, ontology = "kb", "app", "ontology"  # kept out of this file's own strings, which the check reads
    path.write_text(
        f"import {ontology}\nfrom {kb}.deadline import Worker\nfrom aidkb.queries import case\n"
        f"X = ('-m', '{app}.cli', 'aidkb.app.cli', 'app.rule', 'from ontology/src')\n"
        f"S = 'import sys\\nimport {kb}.deadline'\n"
    )
    assert [h.split(": ", 1)[1] for h in old_names(path)] == [
        "'ontology'",
        "'kb.deadline'",
        "'app.cli'",
        "'import sys\\nimport kb.deadline'",
    ]


def test_every_module_loads_under_aidkb_only():
    """Import every module (as a face would, from the project root, where the old names resolve) and list
    sys.modules: nothing is loaded under kb, queries, ontology or app."""
    script = """
import importlib, json, pkgutil, sys
import aidkb
for info in pkgutil.walk_packages(aidkb.__path__, "aidkb."):
    if info.name != "aidkb.app.streamlit_app":  # a script `streamlit run` executes, not a module
        importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout)
    assert [m for m in loaded if m.split(".")[0] in OLD] == []
    assert {
        "aidkb.kb.deadline",
        "aidkb.kb.sql.compile",
        "aidkb.queries.service",
        "aidkb.app.api",
        "aidkb.ontology.build",
    } <= set(loaded)


def top_level_names(files) -> set[str]:
    """The import names a distribution's files put on sys.path (packages, modules, .pth files)."""
    names = set()
    for f in files:
        first = Path(str(f)).parts[0]
        if first not in ("..", "__pycache__") and not first.endswith((".dist-info", ".data")):
            names.add(first.removesuffix(".py").removesuffix(".pth"))
    return names


def test_the_installed_distribution_exposes_only_aidkb():
    # the one pip installed in this environment (not the aidkb.egg-info an editable install leaves in the root)
    (dist,) = importlib.metadata.distributions(name="aidkb", path=[sysconfig.get_paths()["purelib"]])
    assert (dist.read_text("top_level.txt") or "").split() == ["aidkb"]
    names = top_level_names(dist.files or ())
    # An editable install adds setuptools' own finder (and its .pth); that finder maps aidkb alone.
    finders = {n for n in names if n.startswith("__editable__")}
    assert names - finders == ({"aidkb"} if not finders else set())
    for finder in (n for n in finders if n.endswith("_finder")):
        assert set(importlib.import_module(finder).MAPPING) == {"aidkb"}
    assert [ep.value for ep in dist.entry_points if ep.group == "console_scripts"] == ["aidkb.app.cli:main"]


@pytest.mark.slow
def test_the_wheel_holds_aidkb_with_its_data_and_answers_from_its_own_files(tmp_path):
    """Build the wheel as `pip install .` does, read its contents, and run the command from the unpacked wheel
    (not the checkout): the rules, grammar, ontology, SPARQL and schemas are found in it."""
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("aidkb-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert top_level_names(names) == {"aidkb"}
    for data in (
        "aidkb/kb/grammar.lark",
        "aidkb/kb/rules/740_29_lpp.dl",
        "aidkb/kb/sql/compile.py",
        "aidkb/ontology/src/parameters.ttl",
        "aidkb/ontology/aidkb.owl",
        "aidkb/ontology/facts.json",
        "aidkb/ontology/shapes.ttl",
        "aidkb/queries/sparql/countries.rq",
        "aidkb/queries/schemas/decision.v1.json",
        "aidkb/app/data/world-110m.geojson",
        "aidkb/app/pages/1_Ask.py",
        "aidkb/app/streamlit_app.py",
    ):
        assert data in names
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    case = ROOT / "tests" / "cases" / "3a090-b-to-france-no-licence.yaml"
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    run = [
        sys.executable,
        "-c",
        "import sys, aidkb, aidkb.app.cli as cli; print(aidkb.__file__, file=sys.stderr); sys.exit(cli.main())",
        "decide",
        str(case),
        "--json",
    ]
    from_wheel = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    from_checkout = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert from_wheel.returncode == 0, from_wheel.stderr
    assert from_wheel.stderr.strip() == str(unpacked / "aidkb" / "__init__.py")
    assert json.loads(from_wheel.stdout) == json.loads(from_checkout.stdout)
