"""The paper's reported numbers, read from the packaged ``data/paper_results.yaml``.

One source for what the paper reports (Table 1, Tables S1-S3, the AUROC/AUPRC figures, the
dataset sizes): the chapters, the ledger and the calibration runner all read it here, so a
number of the paper is typed once, with the place in the paper it comes from.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

import yaml


@functools.cache
def paper_results() -> dict[str, Any]:
    """Every section of ``paper_results.yaml`` as plain Python data (cached; do not mutate)."""
    text = (resources.files("chromtransfer_lib.book") / "data" / "paper_results.yaml").read_text()
    return yaml.safe_load(text) or {}


def section(name: str) -> Any:
    """One section of the paper's numbers, with a clear error for a misspelt name."""
    data = paper_results()
    if name not in data:
        raise KeyError(f"paper_results.yaml has no section {name!r}; sections: {sorted(data)}")
    return data[name]


_REFERENCE = re.compile(r"\{([A-Za-z0-9_.]+)\}")


def value(path: str) -> Any:
    """The number at a dotted ``path`` (``"pretraining.test.auroc"``), with a clear error."""
    node: Any = paper_results()
    for i, part in enumerate(path.split(".")):
        if not isinstance(node, dict) or part not in node:
            where = ".".join(path.split(".")[:i]) or "the top level"
            raise KeyError(f"paper_results.yaml has no {part!r} under {where} (in {path!r})")
        node = node[part]
    return node


def paper_text(template: str) -> str:
    """``template`` with every ``{dotted.path}`` replaced by that number of the paper.

    Floats are written with two decimals, as the paper reports them (``0.90``, not ``0.9``).
    """

    def fill(m: re.Match[str]) -> str:
        v = value(m.group(1))
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    return _REFERENCE.sub(fill, template)
