"""The paper's numbers in the book's prose: :func:`paper_text` fills ``{dotted.path}`` templates.

The numbers themselves are read by :mod:`chromtransfer_lib.reported` (the packaged
``paper_results.yaml``, one source for the chapters, the ledger, the calibration runner and the
simulator); :func:`section` and :func:`value` are re-exported here for the book's modules.
"""

from __future__ import annotations

import re

from chromtransfer_lib.reported import paper_results, section, value

__all__ = ["paper_results", "paper_text", "section", "value"]

_REFERENCE = re.compile(r"\{([A-Za-z0-9_.]+)\}")


def paper_text(template: str) -> str:
    """``template`` with every ``{dotted.path}`` replaced by that number of the paper.

    Floats are written with two decimals, as the paper reports them (``0.90``, not ``0.9``).
    """

    def fill(m: re.Match[str]) -> str:
        v = value(m.group(1))
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    return _REFERENCE.sub(fill, template)
