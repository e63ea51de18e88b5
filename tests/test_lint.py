"""`make test` lints first, and the lint's checks catch what they are there to catch.

* ``make test`` (and ``test-all``) depend on ``lint``, whose recipe runs ruff (check and
  format), ``lint-imports`` (the layers contract in pyproject.toml) and both deptry runs;
* the layers contract, as configured, reports an upward import planted in a copy of the
  package (so it cannot pass by checking nothing);
* deptry, as configured, reports an import planted in a copy of the library that no
  dependency provides.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _recipe(target: str) -> tuple[list[str], list[str]]:
    """(prerequisites, recipe lines) of a Makefile rule, continuation lines joined."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(rf"^{target}:(?!=)(.*)\n((?:\t.*\n)*)", text, flags=re.MULTILINE)
    assert match, f"no `{target}` rule in the Makefile"
    return match.group(1).split(), [ln.strip() for ln in match.group(2).splitlines()]


def test_make_test_runs_lint_and_lint_runs_every_check() -> None:
    for target in ("test", "test-all"):
        prerequisites, _ = _recipe(target)
        assert "lint" in prerequisites, f"`make {target}` does not run `make lint` first"
    _, lines = _recipe("lint")
    commands = [" ".join([ln.split()[0].rsplit("/", 1)[-1], *ln.split()[1:3]]) for ln in lines]
    assert commands == [
        "ruff check $(LINT_PATHS)",
        "ruff format --check",
        "lint-imports",
        "deptry .",
        "deptry tests benchmarks",
    ], lines


def _project_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "project"
    shutil.copytree(
        ROOT / "chromtransfer_lib",
        dst / "chromtransfer_lib",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copytree(ROOT / "notebooks", dst / "notebooks", ignore=shutil.ignore_patterns("*.ipynb"))
    shutil.copy(ROOT / "pyproject.toml", dst / "pyproject.toml")
    return dst


def test_layers_contract_reports_a_planted_upward_import(tmp_path: Path) -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = config["contracts"]
    assert contract["type"] == "layers"
    assert contract["layers"][0] == "chromtransfer_lib.cli"
    assert contract["layers"][-1] == "chromtransfer_lib.errors"
    project = _project_copy(tmp_path)
    planted = project / "chromtransfer_lib" / "genome" / "planted_upward.py"
    planted.write_text("from chromtransfer_lib.cli import main\n")
    res = subprocess.run(
        [BIN / "lint-imports", "--no-cache"], cwd=project, capture_output=True, text=True
    )
    assert res.returncode != 0, res.stdout
    assert "chromtransfer_lib.genome.planted_upward -> chromtransfer_lib.cli" in res.stdout


def test_deptry_reports_a_planted_undeclared_import(tmp_path: Path) -> None:
    project = _project_copy(tmp_path)
    (project / "chromtransfer_lib" / "planted.py").write_text(
        "import yaml\nimport PIL\nimport sklearn\nimport no_such_package_anywhere\n"
    )
    res = subprocess.run(
        [BIN / "deptry", "."],
        cwd=project,
        capture_output=True,
        text=True,
    )
    out = re.sub(r"\x1b\[[0-9;]*m", "", res.stdout + res.stderr)
    assert res.returncode != 0, out
    planted = [ln for ln in out.splitlines() if ln.startswith("chromtransfer_lib/planted.py")]
    # yaml and sklearn are declared (pyyaml, scikit-learn); PIL is a dev-only dependency
    assert len(planted) == 2, out
    assert "DEP004 'PIL'" in planted[0] and "DEP001 'no_such_package_anywhere'" in planted[1]
