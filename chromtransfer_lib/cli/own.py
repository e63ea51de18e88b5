"""``chromtransfer pretrain | finetune | predict | attribute | motifs``: the tool on own data.

Thin argument parsing (:mod:`.pretrain`, :mod:`.finetune`, :mod:`.predict`) over
:func:`chromtransfer_lib.models.own.pretrain_own` / ``finetune_own`` and
:mod:`chromtransfer_lib.predict`; every handler returns an exit code, and bad input raises a
:class:`chromtransfer_lib.errors.InputError` that ``cli.main`` prints as one line (exit 2).
Heavy imports (TensorFlow) happen inside the handlers, so ``--help`` is instant. See
ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import argparse

from chromtransfer_lib.cli.finetune import add_finetune
from chromtransfer_lib.cli.predict import add_attribute, add_motifs, add_predict
from chromtransfer_lib.cli.pretrain import add_pretrain


def add_own_data_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``pretrain``, ``finetune``, ``predict``, ``attribute`` and ``motifs``."""
    for add in (add_pretrain, add_finetune, add_predict, add_attribute, add_motifs):
        add(sub)
