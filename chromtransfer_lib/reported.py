"""The paper's reported numbers, read from the packaged ``paper_results.yaml``.

One source for what the paper reports (Table 1, Tables S1-S3, the AUROC/AUPRC figures, the
dataset sizes), each number typed once with the place in the paper it comes from. It sits at
the bottom of the layers (ARCHITECTURE.md) because both the simulator (the paper's class sizes
shape the world) and the book (chapters, ledger, calibration runner) read it; the book's
:mod:`chromtransfer_lib.book.paper` adds the templates that write these numbers into prose.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml


@functools.cache
def paper_results() -> dict[str, Any]:
    """Every section of ``paper_results.yaml`` as plain Python data (cached; do not mutate)."""
    text = (resources.files("chromtransfer_lib") / "paper_results.yaml").read_text()
    return yaml.safe_load(text) or {}


def section(name: str) -> Any:
    """One section of the paper's numbers, with a clear error for a misspelt name."""
    data = paper_results()
    if name not in data:
        raise KeyError(f"paper_results.yaml has no section {name!r}; sections: {sorted(data)}")
    return data[name]


def value(path: str) -> Any:
    """The number at a dotted ``path`` (``"pretraining.test.auroc"``), with a clear error."""
    node: Any = paper_results()
    for i, part in enumerate(path.split(".")):
        if not isinstance(node, dict) or part not in node:
            where = ".".join(path.split(".")[:i]) or "the top level"
            raise KeyError(f"paper_results.yaml has no {part!r} under {where} (in {path!r})")
        node = node[part]
    return node
