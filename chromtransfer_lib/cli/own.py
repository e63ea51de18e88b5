"""``chromtransfer finetune | predict | attribute | motifs``: the tool on a user's own data.

Thin argument parsing (:mod:`.finetune`, :mod:`.predict`) over
:func:`chromtransfer_lib.models.own.finetune_own` and :mod:`chromtransfer_lib.predict`; every
handler returns an exit code, and bad input raises a
:class:`chromtransfer_lib.errors.InputError` that ``cli.main`` prints as one line (exit 2).
Heavy imports (TensorFlow) happen inside the handlers, so ``--help`` is instant. See
ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import argparse

from chromtransfer_lib.cli.finetune import add_finetune
from chromtransfer_lib.cli.predict import add_attribute, add_motifs, add_predict


def add_own_data_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``finetune``, ``predict``, ``attribute`` and ``motifs`` on ``sub``."""
    for add in (add_finetune, add_predict, add_attribute, add_motifs):
        add(sub)
