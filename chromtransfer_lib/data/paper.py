"""The paper's real inputs, laid out like the simulated world, so one data path serves both.

:func:`prepare_paper_world` takes the files :func:`chromtransfer_lib.data.manifest.fetch` put in the
cache and writes, into one output folder::

    genome.fa              GRCh38 FASTA (UCSC's plain-gzip hg38.fa.gz is decompressed, streaming;
                           an uncompressed FASTA is linked; a bgzip FASTA is linked as
                           genome.fa.gz, which pyfaidx reads directly)
    rdhs.bed               the ENCODE rDHS list (chrom, start, end, name)
    accessible_six_lines.bed
                           regions accessible in one of the six cell lines (see below)
    gaps.bed               UCSC assembly gaps (chrom, start, end, type)
    blacklist.bed          ENCODE blacklist ENCFF356LFX (chrom, start, end)
    labels/{train,test}/<CELL>.csv
                           the authors' label files, copied unchanged (authors' spelling HEPG2)
    paperdata.json         counts and source paths

All BED files are 0-based, half-open, tab-separated, without header, sorted by chrom and start.

``accessible_six_lines.bed`` is derived from the label files: every region labelled ``<CELL>``
(accessible only in that line) or ``<CELL>_NEG`` (accessible only in another of the six lines)
in any train or test file. Both kinds are accessible in at least one of the six lines; regions
labelled ``Negative`` are pre-training rDHSs and are left out. Caveat: the authors' files hold
*line-specific* rDHSs only, so rDHSs accessible in two or more of the six lines are not in
this union; the ENCODE per-line accessibility calls would be needed for those. Removing this
union from the rDHS list before pre-training therefore removes the fine-tuning regions (what
matters for a clean transfer test) but may keep some shared-accessible rDHSs.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from chromtransfer_lib.config import AUTHOR_SPELLING, CELL_LINES, UNIVERSAL_NEGATIVE
from chromtransfer_lib.data.steps import locus_names
from chromtransfer_lib.errors import InputError
from chromtransfer_lib.fileio import atomic_path, write_json_atomic
from chromtransfer_lib.genome.labels import read_label_file
from chromtransfer_lib.genome.regions import read_bed

log = logging.getLogger(__name__)

SPLITS = ("train", "test")
GAP_COLUMNS = ("bin", "chrom", "chromStart", "chromEnd", "ix", "n", "size", "type", "bridge")
_GAP_NAMES = ("bin", "chrom", "start", "end", "ix", "n", "size", "type", "bridge")


class PaperDataError(InputError, ValueError):
    """The fetched inputs are incomplete (the message says what to fetch).

    (Malformed BED, gap and label files are reported by :mod:`chromtransfer_lib.genome.regions`'
    readers, which raise ``RegionError`` naming the file and line.)
    """


@dataclass(frozen=True)
class PaperInputs:
    """Paths of the fetched inputs. ``labels[split][cell]`` uses :data:`CELL_LINES` names."""

    fasta: Path
    rdhs: Path
    blacklist: Path
    gaps: Path
    labels: dict[str, dict[str, Path]]


@dataclass(frozen=True)
class PaperWorld:
    """The prepared folder; paths follow the simulated world's layout."""

    root: Path
    genome_fasta: Path
    rdhs_bed: Path
    accessible_bed: Path
    gaps_bed: Path
    blacklist_bed: Path
    labels_dir: Path
    counts: dict[str, int]


def paper_inputs(paths: Mapping[str, str | Path]) -> PaperInputs:
    """:func:`~chromtransfer_lib.data.manifest.fetch`'s ``name → path`` as :class:`PaperInputs`."""
    needed = ["hg38-fasta", "encode-rdhs", "encode-blacklist", "ucsc-gap"] + [
        f"labels-{s}-{c}" for s in SPLITS for c in CELL_LINES
    ]
    missing = [n for n in needed if n not in paths]
    if missing:
        raise PaperDataError(f"fetched paths lack {missing}; run `chromtransfer fetch --all`")
    return PaperInputs(
        fasta=Path(paths["hg38-fasta"]),
        rdhs=Path(paths["encode-rdhs"]),
        blacklist=Path(paths["encode-blacklist"]),
        gaps=Path(paths["ucsc-gap"]),
        labels={s: {c: Path(paths[f"labels-{s}-{c}"]) for c in CELL_LINES} for s in SPLITS},
    )


def gzip_kind(path: str | Path) -> str:
    """``"bgzip"``, ``"gzip"`` or ``"plain"``, from the file's first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    if head[:2] != b"\x1f\x8b":
        return "plain"
    has_extra = len(head) >= 14 and head[3] & 4
    return "bgzip" if has_extra and head[12:14] == b"BC" else "gzip"


def read_ucsc_gap(path: str | Path) -> pd.DataFrame:
    """UCSC ``gap.txt[.gz]`` (bin, chrom, chromStart, chromEnd, ix, n, size, type, bridge).

    Returns ``chrom, start, end, type``; UCSC tables store 0-based starts, as BED does. Read by
    :func:`chromtransfer_lib.genome.regions.read_bed` (``columns=``), which names the file and
    line of a bad row.
    """
    gaps = read_bed(path, columns=_GAP_NAMES, on_duplicate="drop")
    return gaps[["chrom", "start", "end", "type"]]


def _read_rdhs(path: str | Path) -> pd.DataFrame:
    """The rDHS BED → ``chrom, start, end, name`` (name = 4th column, else the locus)."""
    rdhs = read_bed(path)
    if "name" not in rdhs:
        rdhs = rdhs.assign(name=locus_names(rdhs))
    return rdhs[["chrom", "start", "end", "name"]]


def accessible_union(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Distinct regions labelled ``<CELL>`` or ``<CELL>_NEG`` in any table (``Negative`` out)."""
    rows = pd.concat(
        [t.loc[t["label"] != UNIVERSAL_NEGATIVE, ["chrom", "start", "end"]] for t in tables],
        ignore_index=True,
    )
    rows = rows.drop_duplicates().sort_values(["chrom", "start", "end"], ignore_index=True)
    rows["name"] = locus_names(rows)
    return rows


def write_bed(df: pd.DataFrame, path: Path, columns: Sequence[str]) -> None:
    """Sorted, header-less, tab-separated BED, written atomically."""
    out = df.sort_values(["chrom", "start", "end"])[list(columns)]
    with atomic_path(path) as tmp:
        out.to_csv(tmp, sep="\t", header=False, index=False)


def _copy_atomic(src: Path, dest: Path) -> None:
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)


def _link_or_copy(src: Path, dest: Path) -> None:
    if dest.is_symlink() or dest.exists():
        dest.unlink()
    try:
        dest.symlink_to(src.resolve())
    except OSError:
        _copy_atomic(src, dest)


def prepare_genome(fasta: str | Path, out_dir: str | Path) -> Path:
    """Make ``out_dir/genome.fa`` (or ``genome.fa.gz`` for bgzip) from a FASTA; returns it.

    Plain gzip is decompressed in 16 MiB chunks (~3.2 GB for hg38, a few minutes); a stamp file
    (``genome.fa.source.json``) skips the work when the same source was decompressed before.
    """
    fasta, out_dir = Path(fasta), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kind = gzip_kind(fasta)
    target = out_dir / ("genome.fa.gz" if kind == "bgzip" else "genome.fa")
    for stale in (out_dir / "genome.fa", out_dir / "genome.fa.gz"):
        if stale != target and (stale.is_symlink() or stale.exists()):
            stale.unlink()
    if kind != "gzip":
        _link_or_copy(fasta, target)
        return target
    stamp_path = out_dir / "genome.fa.source.json"
    st = fasta.stat()
    stamp = {"source": str(fasta.resolve()), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
    if target.is_file() and stamp_path.is_file() and json.loads(stamp_path.read_text()) == stamp:
        log.info("%s is up to date", target)
        return target
    if target.is_symlink():
        target.unlink()
    log.info("decompressing %s into %s", fasta, target)
    with atomic_path(target) as tmp, gzip.open(fasta, "rb") as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, length=16 << 20)
    write_json_atomic(stamp_path, stamp)  # after the genome: a stamp never outlives it
    return target


def prepare_paper_world(
    inputs: PaperInputs, out_dir: str | Path, *, chroms: Sequence[str] | None = None
) -> PaperWorld:
    """Write the paper's inputs into ``out_dir`` in the simulated world's layout.

    Parameters
    ----------
    inputs
        Paths of the fetched files (:func:`paper_inputs`).
    out_dir
        Output folder (created).
    chroms
        Keep only these chromosomes in the BED outputs (e.g. the 24 primary ones); ``None``
        keeps all. Label files are copied unchanged.
    """
    out = Path(out_dir)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    keep = (lambda df: df[df["chrom"].isin(list(chroms))]) if chroms else (lambda df: df)
    genome = prepare_genome(inputs.fasta, out)
    rdhs = keep(_read_rdhs(inputs.rdhs))
    gaps = keep(read_ucsc_gap(inputs.gaps))
    blacklist = keep(read_bed(inputs.blacklist, on_duplicate="drop"))
    write_bed(rdhs, out / "rdhs.bed", ["chrom", "start", "end", "name"])
    write_bed(gaps, out / "gaps.bed", ["chrom", "start", "end", "type"])
    write_bed(blacklist, out / "blacklist.bed", ["chrom", "start", "end"])
    tables, counts = [], {}
    for split in SPLITS:
        (out / "labels" / split).mkdir(exist_ok=True)
        for cell in CELL_LINES:
            src = inputs.labels[split][cell]
            table = read_label_file(src, cell_line=cell, on_duplicate="drop")
            tables.append(table)
            counts[f"labels/{split}/{cell}"] = len(table)
            dest = out / "labels" / split / f"{AUTHOR_SPELLING[cell]}.csv"
            _copy_atomic(src, dest)
    accessible = keep(accessible_union(tables))
    write_bed(accessible, out / "accessible_six_lines.bed", ["chrom", "start", "end", "name"])
    counts |= {
        "rdhs": len(rdhs),
        "accessible_six_lines": len(accessible),
        "gaps": len(gaps),
        "blacklist": len(blacklist),
    }
    sources = {k: str(v) for k, v in vars(inputs).items() if k != "labels"}
    write_json_atomic(
        out / "paperdata.json",
        {"counts": counts, "sources": sources, "chroms": list(chroms or [])},
    )
    log.info("paper world in %s: %s", out, counts)
    return PaperWorld(
        root=out,
        genome_fasta=genome,
        rdhs_bed=out / "rdhs.bed",
        accessible_bed=out / "accessible_six_lines.bed",
        gaps_bed=out / "gaps.bed",
        blacklist_bed=out / "blacklist.bed",
        labels_dir=out / "labels",
        counts=counts,
    )
