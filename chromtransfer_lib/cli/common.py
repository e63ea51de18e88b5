"""What the sub-commands share: the help formatter, the ``--profile`` option, small types.

See ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TypeVar

from chromtransfer_lib.config import ATTRIBUTION_TARGETS, DEFAULT_PROFILE, PROFILE_NAMES
from chromtransfer_lib.errors import InputError

T = TypeVar("T")

RECENTRE = (
    "Regions of any width are recentred on their midpoint to the model's input length L "
    "(window start = (start + end) // 2 - L // 2); window bases beyond a chromosome end are N. "
    "BED files may be gzip-compressed and may hold track/browser/# lines, a header row and "
    "CRLF line ends; FASTA may be plain or bgzip (a .fai index is built beside it if missing). "
    "Lowercase (soft-masked) bases are read as upper case, IUPAC ambiguity letters as N."
)


class HelpFormatter(argparse.HelpFormatter):
    """Wraps each paragraph (blank-line separated) on its own; indented lines stay as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        parts = []
        for para in text.split("\n\n"):
            if para.startswith(" ") or "\n " in para:
                parts.append("\n".join(indent + line for line in para.splitlines()))
            else:
                parts.append(super()._fill_text(para, width, indent))
        return "\n\n".join(parts)


def add_profile_option(p: argparse.ArgumentParser, *, role: str) -> None:
    """``--profile`` with the one default of every sub-command (:data:`.config.DEFAULT_PROFILE`)."""
    p.add_argument(
        "--profile",
        default=DEFAULT_PROFILE,
        help=f"{' | '.join(PROFILE_NAMES)} | path/to/profile.yaml: {role} "
        f"(default: {DEFAULT_PROFILE})",
    )


def pick(value: T | None, default: T) -> T:
    """A command-line override, or the profile's value when the option was not given."""
    return default if value is None else value


def hash_cache() -> Path | None:
    """sha256 cache in the data cache folder ($CHROMTRANSFER_DATA), if it can be written."""
    from chromtransfer_lib.data.manifest import resolve_cache_dir

    try:
        folder = resolve_cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder / "sha256-cache.json"


def genome_cache_dir() -> Path | None:
    """Where genome code caches go when a FASTA's folder is read-only:
    ``$CHROMTRANSFER_DATA/genome-codes`` (created when first written), ``None`` if unknown."""
    from chromtransfer_lib.data.manifest import resolve_cache_dir

    try:
        return resolve_cache_dir() / "genome-codes"
    except OSError:
        return None


def chroms(text: str) -> tuple[str, ...]:
    """``chr2,chr3`` → ``("chr2", "chr3")``."""
    return tuple(c.strip() for c in text.split(",") if c.strip())


def ints(text: str) -> tuple[int, ...]:
    """``0,1,2`` → ``(0, 1, 2)``."""
    try:
        return tuple(int(c) for c in text.split(",") if c.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from err


def _integer(text: str, *, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from err
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive(text: str) -> int:
    """A positive integer (chunk and batch sizes)."""
    return _integer(text, minimum=1, what="a positive integer")


def non_negative(text: str) -> int:
    """An integer >= 0 (indel lengths, shuffle counts, seeds)."""
    return _integer(text, minimum=0, what="an integer >= 0")


def fraction(text: str) -> float:
    """A number in (0, 1] (p-values, FDR levels)."""
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from err
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


class UsageError(InputError, ValueError):
    """Command-line options that do not go together (exit status 2, like argparse's errors)."""


def model_args(
    p: argparse.ArgumentParser,
    *,
    required: bool = True,
    regions: str | None = "BED of regions (plain or gzip)",
    regions_required: bool | None = None,
    model_help: str = "a .keras model (e.g. DIR/model.keras of finetune)",
) -> None:
    """``--model``, ``--genome``, ``--regions`` and ``--seq-len``, as every command that runs a
    saved model on genome windows spells them. ``regions``: its help (``None``: no
    ``--regions``); ``regions_required``: default ``required``."""
    p.add_argument("--model", required=required, type=Path, help=model_help)
    p.add_argument("--genome", required=required, type=Path, help="genome FASTA (plain or bgzip)")
    if regions is not None:
        need = required if regions_required is None else regions_required
        p.add_argument("--regions", required=need, type=Path, help=regions)
    p.add_argument(
        "--seq-len",
        type=int,
        default=None,
        help="fail unless the model takes this many bp (a guard for pipelines)",
    )


def target_arg(p: argparse.ArgumentParser) -> None:
    """``--target``: what attribution differentiates and ISM changes."""
    p.add_argument(
        "--target",
        choices=ATTRIBUTION_TARGETS,
        default="logit",
        help="what is differentiated (and what ISM changes): the output neuron's logit "
        "(default, as in the book) or the probability, whose gradient shrinks as p nears 0 or 1",
    )
