"""``chromtransfer simulate``: write a profile's simulated world into a folder, to explore.

A thin wrapper over :func:`chromtransfer_lib.sim.world.simulate_world` with the profile's
``simulation`` section (and its test chromosomes), ``--seed`` in place of the profile's seed
and ``--drivers LINE=TF,TF`` in place of a line's driver TFs. The same profile, seed and drivers
give the same bytes in every file. See ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from pathlib import Path

from chromtransfer_lib.cli.common import HelpFormatter, UsageError, add_profile_option
from chromtransfer_lib.config import AUTHOR_SPELLING, CELL_LINES, SimulationConfig


def parse_drivers(values: list[str], *, spec: SimulationConfig) -> dict[str, tuple[str, ...]]:
    """``["HepG2=HNF4A,CEBPA", ...]`` → ``{"HepG2": ("HNF4A", "CEBPA"), ...}``, checked.

    Cell lines match case-insensitively (the authors' ``HEPG2`` too); TF names (or matrix IDs)
    are resolved against the spec's JASPAR release (CORE vertebrates), as the simulator
    resolves them, and must not be among its decoys.

    Raises
    ------
    UsageError
        Naming the malformed value, the unknown cell line (with the six valid ones), the TF
        names that are not in the release (with close names) or that are decoys.
    """
    from chromtransfer_lib.genome.jaspar import UnknownMotifError, load_jaspar, resolve_motifs

    lines = {c.upper(): c for c in CELL_LINES} | {a.upper(): c for c, a in AUTHOR_SPELLING.items()}
    out: dict[str, tuple[str, ...]] = {}
    release = spec.jaspar_release
    matrices = decoys = None
    for value in values:
        name, sep, tfs_text = value.partition("=")
        tfs = tuple(t.strip() for t in tfs_text.split(",") if t.strip())
        if not sep or not tfs:
            raise UsageError(
                f"--drivers {value!r}: expected LINE=TF[,TF...], e.g. HepG2=HNF4A,CEBPA"
            )
        line = lines.get(name.strip().upper())
        if line is None:
            raise UsageError(
                f"--drivers {value!r}: unknown cell line {name.strip()!r}; choose one of "
                f"{', '.join(CELL_LINES)}"
            )
        if line in out:
            raise UsageError(f"--drivers: {line} is given twice; give each line once")
        if matrices is None:
            matrices = load_jaspar(release=release, collection="CORE", tax_group="vertebrates")
        jaspar_log = logging.getLogger(resolve_motifs.__module__)
        level = jaspar_log.level
        jaspar_log.setLevel(logging.WARNING)  # the simulator logs the matrices it picks
        try:
            found = resolve_motifs(tfs, matrices)
            decoys = decoys or set(resolve_motifs(spec.decoy_vocabulary, matrices))
        except UnknownMotifError as err:
            raise UsageError(f"--drivers {value!r} ({release} CORE vertebrates): {err}") from err
        finally:
            jaspar_log.setLevel(level)
        clash = [tf for tf, m in zip(tfs, found, strict=True) if m in decoys]
        if clash:
            raise UsageError(
                f"--drivers {value!r}: {', '.join(clash)} is a decoy of this profile "
                f"(simulation.decoy_vocabulary: {', '.join(spec.decoy_vocabulary)}), which "
                "the simulator plants in regions of every class; choose another TF"
            )
        out[line] = tfs
    return out


def _check_out(out: Path, *, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; name a folder (it is created)")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(
            f"--out {out} exists and is not empty; name a new folder, or add --force to write "
            "the world's files over it (other files there are left alone)"
        )


def _summary(world, *, spec: SimulationConfig, profile: str, seed: int, seconds: float,
             drivers: dict[str, tuple[str, ...]]) -> str:  # fmt: skip
    import pandas as pd

    files = [p for p in world.out_dir.rglob("*") if p.is_file()]
    mbytes = sum(p.stat().st_size for p in files) / 1e6
    classes = ("pretrain", "specific", "shared", "background")
    regions = pd.read_csv(world.region_truth, sep="\t", usecols=["region_class"])
    sites = pd.read_csv(world.ground_truth, sep="\t", usecols=["region_class"])
    n_reg, n_site = regions["region_class"].value_counts(), sites["region_class"].value_counts()

    def counts(table: pd.Series) -> str:
        return ", ".join(f"{c} {int(table.get(c, 0)):,}" for c in classes if c in table)

    n_chroms, mbp = len(spec.chrom_lengths), sum(spec.chrom_lengths.values()) / 1e6
    rows = [
        f"simulated world (profile {profile}, seed {seed}) written to {world.out_dir.resolve()} "
        f"in {seconds:.1f} s: {len(files)} files, {mbytes:.1f} MB",
        f"  genome        {world.genome.name}: {n_chroms} chromosomes, {mbp:.2f} Mbp",
        f"  regions       {counts(n_reg)} (rdhs.bed, region_truth.tsv)",
        f"  sites         {counts(n_site)} (ground_truth.tsv, motifs.tsv)",
        "  labels        labels/{train,test}/<CELL>.csv for " + ", ".join(CELL_LINES),
    ]
    for line, tfs in drivers.items():
        rows.append(f"  drivers       {line}: {', '.join(tfs)} (from --drivers)")
    rows.append(f"  checksums     {world.manifest.name} (sha256 of every file, the seed, the spec)")
    return "\n".join(rows)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from chromtransfer_lib.config import load_profile
    from chromtransfer_lib.sim.world import simulate_world

    t0 = time.perf_counter()
    prof = load_profile(args.profile)
    spec = prof.simulation
    seed = prof.seed if args.seed is None else args.seed
    drivers = parse_drivers(args.drivers or [], spec=spec)
    if drivers:
        spec = dataclasses.replace(spec, drivers={**spec.drivers, **drivers})
    _check_out(args.out, force=args.force)
    (args.out / "manifest.json").unlink(missing_ok=True)  # --force: no stale completeness mark
    world = simulate_world(
        args.out, spec=spec, random_state=seed, test_chroms=prof.data.test_chroms
    )
    seconds = time.perf_counter() - t0
    print(_summary(world, spec=spec, profile=prof.name, seed=seed, seconds=seconds,
                   drivers=drivers))  # fmt: skip
    return 0


def add_simulate(sub: argparse._SubParsersAction) -> None:
    """Register ``simulate`` on ``sub``."""
    p = sub.add_parser(
        "simulate",
        formatter_class=HelpFormatter,
        help="write a simulated world (FASTA, BEDs, label files, ground truth) into a folder",
        description=(
            "Write the profile's simulated ENCODE-like world into --out, to explore outside the "
            "book: genome.fa (+ .fai), rdhs.bed, accessible_six_lines.bed, gaps.bed, "
            "blacklist.bed, labels/{train,test}/<CELL>.csv, the truth about what was planted "
            "(ground_truth.tsv: one row per site; region_truth.tsv: one row per region; "
            "motifs.tsv) and manifest.json (sha256 of every file, the seed and the spec). The "
            "same profile, seed and drivers give the same bytes."
        ),
        epilog="example:\n\n  chromtransfer simulate --profile smoke --out my_world --seed 7 "
        "--drivers HepG2=HNF4A,CEBPA",
    )
    add_profile_option(p, role="its simulation section and test chromosomes")
    p.add_argument("--out", required=True, type=Path, help="output folder (created)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the profile's)")
    p.add_argument(
        "--drivers",
        action="append",
        metavar="LINE=TF,TF",
        help="plant these JASPAR TFs (names or matrix IDs) as LINE's drivers instead of the "
        "profile's, e.g. HepG2=HNF4A,CEBPA (repeatable, one line each)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty --out (the world's files are overwritten)",
    )
    p.set_defaults(func=_cmd_simulate)
