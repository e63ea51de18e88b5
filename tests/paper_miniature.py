"""The paper's inputs in miniature, in their published formats, served by a local HTTPS mirror.

:func:`write_miniature_mirror` turns a small simulated world (JASPAR sites planted in the
positives, so the models have something to learn) into the files the manifest
(``data_manifest/``) downloads, each at its manifest path and in the layout its source
publishes:

=============================== ===========================================================
``genome/hg38.fa.gz``           UCSC: plain gzip, ``>chrN`` headers, 50 bases a line,
                                soft-masked (lower case), N runs at gaps; chrM and an
                                unplaced and a random contig beside the chromosomes
``genome/hg38.bigZips.md5sum.txt``
                                UCSC's ``md5sum.txt``: ``<md5>  <file>`` lines
``ucsc/hg38.gap.txt.gz``        the UCSC ``gap`` table: ``bin, chrom, chromStart, chromEnd,
                                ix, n, size, type, bridge``, no header, gzip
``encode/ENCFF356LFX.bed.gz``   the ENCODE blacklist: 3-column BED, gzip
``encode/ENCFF356LFX.json``     the ENCODE portal's file metadata (``md5sum``, ``file_size``)
``encode/GRCh38-rDHSs.bed``     the SCREEN rDHS list: ``chrom, start, end, EH38D…`` accession
``labels/{train,test}/<CELL>.csv``
                                the authors' files: ``chrN:start-end,LABEL`` rows, no header,
                                ``HEPG2`` spelling, ``<CELL>_NEG`` and ``Negative`` labels
=============================== ===========================================================

:func:`write_manifest_override` copies ``data_manifest/`` with the pinned checksums and sizes
replaced by the miniature files' (the entries with published or first-use checksums keep their
policy: the mirror serves the published checksum files too), for ``$CHROMTRANSFER_MANIFEST``.
:func:`https_mirror` serves a folder over HTTPS on 127.0.0.1 with a throw-away self-signed
certificate (``openssl``), which ``requests`` trusts through ``REQUESTS_CA_BUNDLE``: the fetch
code runs exactly as against the real sources, HTTPS only.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from chromtransfer_lib.config import AUTHOR_SPELLING, CELL_LINES, SimulationConfig, load_profile
from chromtransfer_lib.data.manifest import default_manifest_dir
from chromtransfer_lib.sim.world import World, simulate_world

#: Manifest paths of the inputs (as in data_manifest/*.yaml).
FASTA, MD5SUM = "genome/hg38.fa.gz", "genome/hg38.bigZips.md5sum.txt"
GAP, RDHS = "ucsc/hg38.gap.txt.gz", "encode/GRCh38-rDHSs.bed"
BLACKLIST, BLACKLIST_JSON = "encode/ENCFF356LFX.bed.gz", "encode/ENCFF356LFX.json"

#: A few Mb over five chromosomes (test chromosomes chr2 and chr3, as in the paper).
CHROM_LENGTHS = {"chr1": 800_000, "chr2": 600_000, "chr3": 600_000, "chr4": 500_000,
                 "chr5": 500_000}  # fmt: skip
#: Contigs hg38.fa.gz has beside the chromosomes (no rDHS, gap or label falls on them).
EXTRA_CONTIGS = {"chrM": 16_569, "chr1_KI270706v1_random": 1_500, "chrUn_KI270302v1": 2_274}


def miniature_spec() -> SimulationConfig:
    """The paper profile's simulation section shrunk to a few Mb and ~2,000 rDHSs."""
    spec = load_profile("paper").simulation
    return dataclasses.replace(
        spec,
        chrom_lengths=dict(CHROM_LENGTHS),
        n_pretrain_rdhs=700,
        n_specific_total=1_200,
        n_shared=80,
        gap_count_per_chrom=2,
        gap_length=(2_000, 20_000),
        blacklist_count_per_chrom=2,
        blacklist_length=(500, 5_000),
        gc_block=20_000,
    )


@dataclass(frozen=True)
class MiniatureMirror:
    """A mirror folder laid out like the manifest's paths, and what it holds."""

    root: Path
    world: World
    files: dict[str, Path]
    """Manifest path → file, for every file in the mirror."""
    counts: dict[str, int]


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_gzip(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
        fh.write(text.encode())


def ucsc_bin(start: int, end: int) -> int:
    """UCSC's standard bin of ``[start, end)`` (the ``bin`` column of its tables)."""
    offsets = (512 + 64 + 8 + 1, 64 + 8 + 1, 8 + 1, 1, 0)
    lo, hi = start >> 17, (end - 1) >> 17
    for offset in offsets:
        if lo == hi:
            return offset + lo
        lo, hi = lo >> 3, hi >> 3
    raise ValueError(f"[{start}, {end}) is beyond the standard binning scheme")


def _fasta_records(world: World, rng: np.random.Generator) -> str:
    """The world's chromosomes re-wrapped at 50 bases a line (UCSC), plus the extra contigs."""
    import pyfaidx

    fa = pyfaidx.Fasta(str(world.genome), sequence_always_upper=False)
    records = [(name, str(fa[name][:])) for name in fa.keys()]
    fa.close()
    for name, length in EXTRA_CONTIGS.items():
        seq = "".join(rng.choice(list("ACGTacgt"), size=length))
        records.append((name, seq))
    lines = []
    for name, seq in records:
        lines.append(f">{name}")
        lines += [seq[i : i + 50] for i in range(0, len(seq), 50)]
    return "\n".join(lines) + "\n"


def _gap_table(world: World) -> str:
    """UCSC ``gap.txt``: one row per gap, ``ix`` counting AGP lines within a chromosome."""
    gaps = pd.read_csv(
        world.gaps_bed, sep="\t", header=None, names=["chrom", "start", "end", "type"]
    )
    rows = []
    for chrom, group in gaps.groupby("chrom", sort=False):
        for ix, g in enumerate(group.sort_values("start").itertuples(), start=1):
            bridge = "no" if g.type in ("telomere", "centromere", "short_arm") else "yes"
            size = g.end - g.start
            rows.append(
                f"{ucsc_bin(g.start, g.end)}\t{chrom}\t{g.start}\t{g.end}\t{2 * ix}\tN\t{size}"
                f"\t{g.type}\t{bridge}"
            )
    return "\n".join(rows) + "\n"


def _rdhs_table(world: World) -> tuple[str, int]:
    """The SCREEN rDHS list: ``chrom, start, end, EH38D<7 digits>``, tab-separated."""
    rdhs = pd.read_csv(world.rdhs_bed, sep="\t", header=None).iloc[:, :3]
    rdhs.columns = ["chrom", "start", "end"]
    ids = [f"EH38D{4_300_000 + i:07d}" for i in range(len(rdhs))]
    rows = [
        f"{c}\t{s}\t{e}\t{i}"
        for (c, s, e), i in zip(rdhs.itertuples(index=False), ids, strict=True)
    ]
    return "\n".join(rows) + "\n", len(rdhs)


def write_miniature_mirror(root: str | Path, *, random_state: int = 3) -> MiniatureMirror:
    """Write the paper's inputs in miniature into ``root``, at the manifest's paths.

    Returns the mirror's files and their row counts (rDHSs, gaps, blacklist regions, label
    rows per file) for the caller to check the prepared world against.
    """
    root = Path(root)
    world = simulate_world(
        root.parent / f"{root.name}-world", spec=miniature_spec(), random_state=random_state
    )
    rng = np.random.default_rng(random_state)
    files = {p: root / p for p in (FASTA, MD5SUM, GAP, RDHS, BLACKLIST, BLACKLIST_JSON)}
    _write_gzip(files[FASTA], _fasta_records(world, rng))
    # UCSC lists every bigZips file; only hg38.fa.gz's line is read
    md5s = {"hg38.2bit": hashlib.md5(b"2bit").hexdigest(), "hg38.fa.gz": _md5(files[FASTA])}
    md5s["hg38.chrom.sizes"] = hashlib.md5(b"sizes").hexdigest()
    files[MD5SUM].write_text("".join(f"{md5}  {name}\n" for name, md5 in md5s.items()))
    _write_gzip(files[GAP], _gap_table(world))
    rdhs_text, n_rdhs = _rdhs_table(world)
    files[RDHS].parent.mkdir(parents=True, exist_ok=True)
    files[RDHS].write_text(rdhs_text)
    blacklist = pd.read_csv(world.blacklist_bed, sep="\t", header=None).iloc[:, :3]
    blacklist = blacklist.sort_values([0, 1])
    _write_gzip(files[BLACKLIST], blacklist.to_csv(sep="\t", header=False, index=False))
    meta = {
        "@id": "/files/ENCFF356LFX/",
        "accession": "ENCFF356LFX",
        "assembly": "GRCh38",
        "file_format": "bed",
        "file_size": files[BLACKLIST].stat().st_size,
        "md5sum": _md5(files[BLACKLIST]),
        "status": "released",
    }
    files[BLACKLIST_JSON].write_text(json.dumps(meta, indent=4))
    counts = {"rdhs": n_rdhs, "blacklist": len(blacklist)}
    counts["gaps"] = len(pd.read_csv(world.gaps_bed, sep="\t", header=None))
    for split, paths in (("train", world.train_labels), ("test", world.test_labels)):
        for cell in CELL_LINES:
            rel = f"labels/{split}/{AUTHOR_SPELLING[cell]}.csv"
            files[rel] = root / rel
            files[rel].parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(paths[cell], files[rel])  # the simulator writes the authors' format
            counts[f"labels/{split}/{cell}"] = len(files[rel].read_text().splitlines())
    return MiniatureMirror(root, world, files, counts)


def write_manifest_override(mirror: MiniatureMirror, out_dir: str | Path) -> Path:
    """``data_manifest/`` with each pinned ``sha256`` and ``size`` set to the mirror's file."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for src in sorted(default_manifest_dir().glob("*.yaml")):
        doc = yaml.safe_load(src.read_text())
        for entry in doc["entries"]:
            if entry.get("sha256"):
                path = mirror.files[entry["path"]]
                entry["sha256"], entry["size"] = _sha256(path), path.stat().st_size
        (out_dir / src.name).write_text(yaml.safe_dump(doc, sort_keys=False))
    return out_dir


def self_signed_certificate(out_dir: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, valid for a day (``openssl req -x509``)."""
    if shutil.which("openssl") is None:
        raise RuntimeError(
            "the local HTTPS mirror needs the `openssl` command (apt-get install openssl)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    cert, key = out_dir / "cert.pem", out_dir / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        super().do_GET()


@dataclass(frozen=True)
class Mirror:
    """A running HTTPS mirror: its URL, the certificate clients must trust, the paths asked."""

    url: str
    cert: Path
    requests: list[str]


@contextmanager
def https_mirror(root: Path, tls_dir: Path) -> Iterator[Mirror]:
    """Serve ``root`` over HTTPS on 127.0.0.1 (a thread) while the block runs."""
    cert, key = self_signed_certificate(tls_dir)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        yield Mirror(f"https://127.0.0.1:{server.server_address[1]}", cert, server.requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


#: What the miniature profile changes in ``paper``: tiny widths, one partition, two epochs,
#: the smoke profile's learning rates (the paper's fine-tuning rate learns nothing in a few
#: steps), a two-point bootstrap grid and small interpretation sizes. Data source, 600 bp
#: inputs, folds, test chromosomes, thresholds and ``workers: 1`` stay the paper's.
_RECIPE = {"max_epochs": 2, "patience": 1, "folds": [0], "batch_size": 64}
MINIATURE_OVERRIDES: dict[str, object] = {
    "model.stem_filters": 8,
    "model.res1_filters": 4,
    "model.res2_filters": 8,
    "model.top_filters": 8,
    "model.pretrain_head": [16, 8],
    "model.finetune_head": [16, 4],
    **{f"{s}.{k}": v for s in ("pretrain", "finetune", "scratch", "multiclass")
       for k, v in _RECIPE.items()},
    "pretrain.learning_rate": 0.002,
    "finetune.learning_rate": 0.0003,
    "bootstrap.fractions": [0.1, 0.5],
    "bootstrap.repetitions": 1,
    "interpret.max_regions": 100,
    "interpret.ism_regions": 4,
    "interpret.min_sites": 5,
    "interpret.example_regions": 1,
}  # fmt: skip


def write_miniature_profile(out_path: Path) -> Path:
    """The ``paper`` profile with :data:`MINIATURE_OVERRIDES`, as a YAML file (validated)."""
    from chromtransfer_lib.book.calibration import derive_profile

    deviations = [
        *load_profile("paper").deviations,
        "Miniature paper profile for CI: "
        "tiny inputs and widths, two epochs; it checks the chain, not the paper.",
    ]
    return derive_profile(
        "paper", {**MINIATURE_OVERRIDES, "deviations": deviations}, seed=0,
        name="paper-miniature", out_path=out_path,
    )  # fmt: skip
