"""The GitHub workflows cannot run here: check their structure and that they call real targets.

* both parse as YAML, every step either ``uses`` an action pinned to a major version or ``run``s
  a script that ``bash -n`` accepts;
* every ``make <target>`` they (and ``.ci/run``) call is a Makefile target; the CPU workflow
  runs ``.ci/run``, which runs ``make test`` (and renders the book, if at all, at ``smoke``);
  both install through the same ``venv`` target;
* every ``chromtransfer ...`` command line parses with the real CLI parser.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
GPU, CPU = WORKFLOWS / "book-gpu.yml", WORKFLOWS / "ci-cpu.yml"


def _load(path: Path) -> dict:
    wf = yaml.safe_load(path.read_text())
    wf["on"] = wf.pop(True, wf.get("on"))  # YAML 1.1 reads the bare key `on` as True
    return wf


def _steps(wf: dict) -> list[dict]:
    return [s for job in wf["jobs"].values() for s in job["steps"]]


def _scripts(wf: dict) -> list[str]:
    return [s["run"] for s in _steps(wf) if "run" in s]


def _command_lines(script: str) -> list[list[str]]:
    script = re.sub(r"\$\{\{[^}]*\}\}", "EXPR", script).replace("\\\n", " ")
    lines = []
    for line in script.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:  # shell syntax shlex does not model, e.g. nested $( "..." )
            words = line.split("#", 1)[0].split()
        if words:
            lines.append(words)
    return lines


def _make_calls(scripts: list[str]) -> list[tuple[str, dict[str, str]]]:
    """(target, VAR=value overrides) for every `make` command line."""
    calls = []
    for script in scripts:
        for words in _command_lines(script):
            if words and words[0] == "make":
                targets = [w for w in words[1:] if "=" not in w and not w.startswith("-")]
                overrides = dict(w.split("=", 1) for w in words[1:] if "=" in w)
                calls += [(t, overrides) for t in targets or ["<default>"]]
    return calls


def _makefile_targets() -> dict[str, list[str]]:
    """Makefile target → its prerequisites."""
    text = (ROOT / "Makefile").read_text()
    rules = re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)(.*)$", text, flags=re.MULTILINE)
    return {target: deps.split() for target, deps in rules}


@pytest.mark.parametrize("path", [GPU, CPU], ids=["gpu", "cpu"])
def test_workflow_is_well_formed(path):
    wf = _load(path)
    assert wf["name"] and wf["on"] and wf["permissions"] == {"contents": "read"}
    for job in wf["jobs"].values():
        assert isinstance(job["timeout-minutes"], int)
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), step
            if "uses" in step:
                assert re.fullmatch(r"actions/[\w-]+@v\d+", step["uses"]), step["uses"]
    for script in _scripts(wf):
        script = re.sub(r"\$\{\{[^}]*\}\}", "EXPR", script)
        res = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
        assert res.returncode == 0, f"{path.name}: bash -n rejects:\n{script}\n{res.stderr}"


@pytest.mark.parametrize("path", [GPU, CPU], ids=["gpu", "cpu"])
def test_make_targets_exist(path):
    targets = _makefile_targets()
    assert {"venv", "test", "book"} <= set(targets)
    for target, _ in _make_calls(_scripts(_load(path))):
        assert target in targets, f"{path.name} calls `make {target}`, not in the Makefile"


def test_gpu_workflow():
    wf = _load(GPU)
    assert set(wf["on"]) == {"workflow_dispatch", "schedule"}
    assert len(wf["on"]["schedule"][0]["cron"].split()) == 5
    assert wf["on"]["workflow_dispatch"]["inputs"]["profile"]["default"] == "paper"
    (job,) = wf["jobs"].values()
    assert job["runs-on"] == ["self-hosted", "gpu"]
    assert "paper" in job["env"]["PROFILE"] and "CHROMTRANSFER_DATA" in job["env"]
    scripts = _scripts(wf)
    order = [
        "make venv",
        "tensorflow[and-cuda]",
        "chromtransfer doctor --require-gpu",
        "chromtransfer fetch --all",
        "make book PROFILE=${PROFILE}",
    ]
    positions = [next(i for i, s in enumerate(scripts) if needle in s) for needle in order]
    assert positions == sorted(positions), "steps must run in this order: " + " → ".join(order)
    assert ("book", {"PROFILE": "${PROFILE}"}) in _make_calls(scripts)
    uses = {s["uses"].split("@")[0]: s for s in _steps(wf) if "uses" in s}
    assert "CHROMTRANSFER_DATA" in uses["actions/cache"]["with"]["path"]
    uploaded = " ".join(
        s["with"]["path"]
        for s in _steps(wf)
        if s.get("uses", "").startswith("actions/upload-artifact")
    )
    assert "book/chapters/" in uploaded and "_build/html" in uploaded


def test_cpu_workflow_mirrors_ci_run():
    wf = _load(CPU)
    (job,) = wf["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest" and job["env"]["PROFILE"] == "smoke"
    setup = next(s for s in _steps(wf) if s.get("uses", "").startswith("actions/setup-python"))
    assert str(setup["with"]["python-version"]) == "3.11"
    scripts = _scripts(wf)
    assert any("apt-get install -y chromium" in s for s in scripts)
    assert any(words == ["bash", ".ci/run"] for s in scripts for words in _command_lines(s))
    ci_run = ROOT / ".ci" / "run"
    assert ci_run.is_file(), "the CPU workflow runs .ci/run, which is missing"
    calls = _make_calls([ci_run.read_text()])
    targets = _makefile_targets()
    assert calls and all(t in targets for t, _ in calls), calls
    assert "test" in {t for t, _ in calls}
    books = [o for t, o in calls if t == "book"]  # if CI renders the book, at smoke only
    assert all(o.get("PROFILE", "${PROFILE}") in ("smoke", "${PROFILE}") for o in books)
    # CI (make test) and the GPU book (make book) install through the same `venv` target
    gpu_targets = {t for t, _ in _make_calls(_scripts(_load(GPU)))}
    for target in {t for t, _ in calls} | gpu_targets - {"venv"}:
        assert "venv" in targets[target], f"`make {target}` does not depend on `venv`"


def test_cli_commands_parse():
    """`chromtransfer doctor --require-gpu` and `fetch --all` must exist in the real CLI."""
    from chromtransfer_lib.cli.main import build_parser

    parser = build_parser()
    found = 0
    for path in (GPU, CPU):
        for script in _scripts(_load(path)):
            for words in _command_lines(script):
                if words and words[0].endswith("bin/chromtransfer"):
                    found += 1
                    try:
                        parser.parse_args(words[1:])
                    except SystemExit:
                        pytest.fail(f"{path.name}: the CLI rejects `{shlex.join(words)}`")
    assert found >= 2
