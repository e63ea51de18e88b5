"""environment.yml (conda users) states the same dependencies as pyproject.toml (pip users)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", req)
    assert m, req
    return m.group(1).lower().replace("_", "-"), m.group(3).replace(" ", "")


def test_environment_yml_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(
        _split(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]
    )
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    stated: dict[str, str] = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for r in dep["pip"]:
                if not r.startswith("-"):
                    name, spec = _split(r)
                    stated[name] = spec
        else:
            name, spec = _split(dep)
            stated[name] = spec
    python_spec = stated.pop("python")
    stated.pop("pip")
    assert python_spec == project["requires-python"]
    assert stated == wanted


def test_jupyter_book_is_pinned_to_1x() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    jb = [r for r in project["dependencies"] if r.startswith("jupyter-book")]
    assert jb == ["jupyter-book>=1.0.4,<2"]
