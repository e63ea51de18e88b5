"""Regions, planted sites, label files and truth tables of the simulated world.

The steps of :func:`chromtransfer_lib.sim.world.simulate_world` after the background genome:
:func:`place_regions` → :func:`assign_regions` → :func:`plant_world` → :func:`write_tables` and
:func:`write_labels`. Private to the simulator (the public entry point is ``simulate_world``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from chromtransfer_lib.config import (
    AUTHOR_SPELLING,
    CELL_LINES,
    UNIVERSAL_NEGATIVE,
    SimulationConfig,
)
from chromtransfer_lib.errors import InputError
from chromtransfer_lib.genome.jaspar import JasparMatrix
from chromtransfer_lib.sim import background as genome_sim
from chromtransfer_lib.sim import plant

logger = logging.getLogger(__name__)


class SimulationError(InputError, ValueError):
    """The simulation spec cannot produce a world: the message names the key to change."""


def write_tsv(df: pd.DataFrame, path: Path, *, header: bool = True) -> None:
    """Tab-separated, ``\\n`` line ends, floats with 3 decimals (byte-stable)."""
    df.to_csv(path, sep="\t", index=False, header=header, lineterminator="\n", float_format="%.3f")


def place_regions(
    drafts: dict[str, genome_sim.ChromosomeDraft],
    *,
    spec: SimulationConfig,
    n_specific: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Non-overlapping ``region_length`` windows outside gaps and blacklist, genome order.

    ``n_specific`` is the number of line-specific regions (``n_specific_total`` after
    ``line_scale``). Each gap-free segment receives a multinomial share (by length) of all
    rDHSs, capped at half its capacity so that enough background remains for the pre-training
    negatives.
    """
    n = spec.n_pretrain_rdhs + n_specific + spec.n_shared
    length = spec.region_length
    segs = []
    for chrom, d in drafts.items():
        blocked = np.vstack([d.gaps, d.blacklist])
        blocked = blocked[np.argsort(blocked[:, 0])]
        edges = np.r_[0, blocked.ravel(), d.codes.size].reshape(-1, 2)
        segs += [(chrom, int(a), int(b)) for a, b in edges if b - a >= 2 * length]
    cap = np.array([(b - a) // length // 2 for _, a, b in segs], dtype=np.int64)
    if cap.sum() < n:
        raise SimulationError(
            f"{n} regions of {length} bp do not fit in half of the genome's gap-free sequence "
            f"(room for {int(cap.sum())}); lengthen simulation.chrom_lengths or lower "
            "n_pretrain_rdhs / n_specific_total / line_scale / n_shared"
        )
    counts = rng.multinomial(n, cap / cap.sum())
    while (counts > cap).any():
        excess = int((counts - cap).clip(0).sum())
        counts = np.minimum(counts, cap)
        room = cap - counts
        counts += rng.multinomial(excess, room / room.sum())
    rows = []
    for (chrom, a, b), k in zip(segs, counts, strict=True):
        starts = genome_sim.place_intervals(np.full(k, length), a, b, rng)
        rows += [(chrom, int(s)) for s in starts]
    df = pd.DataFrame(rows, columns=["chrom", "start"])
    df["end"] = df["start"] + length
    return df


def assign_regions(
    placed: pd.DataFrame,
    *,
    spec: SimulationConfig,
    sizes: dict[str, int],
    test_chroms: tuple[str, ...] | list[str],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Give each window a class, its lines, its planted grammar, an rDHS core and a split.

    Returns
    -------
    pandas.DataFrame
        ``name, chrom, start, end, mid, core_start, core_end, region_class`` (``pretrain``,
        ``specific``, ``shared``), ``cell_line`` (specific only), ``accessible_in``
        (comma-separated lines), ``grammar`` (the line whose drivers are planted; differs from
        ``cell_line`` for the ``label_noise`` fraction), ``split``.
    """
    n = len(placed)
    cls = np.array(
        ["pretrain"] * spec.n_pretrain_rdhs
        + [c for c in CELL_LINES for _ in range(sizes[c])]
        + ["shared"] * spec.n_shared,
        dtype=object,
    )[rng.permutation(n)]
    df = placed.copy()
    df.insert(0, "name", [f"rDHS{i:07d}" for i in range(n)])
    df["mid"] = df["start"] + spec.region_length // 2
    half = rng.integers(spec.core_width[0] // 2, spec.core_width[1] // 2 + 1, size=n)
    df["core_start"] = df["mid"] - half
    df["core_end"] = df["mid"] + half
    specific = np.isin(cls, CELL_LINES)
    df["region_class"] = np.where(specific, "specific", cls)
    df["cell_line"] = np.where(specific, cls, "")
    access = np.where(specific, cls, "").astype(object)
    shared = np.flatnonzero(cls == "shared")
    k_lines = rng.integers(2, 4, size=shared.size)
    for i, k in zip(shared, k_lines, strict=True):
        picked = np.sort(rng.choice(len(CELL_LINES), size=k, replace=False))
        access[i] = ",".join(CELL_LINES[j] for j in picked)
    df["accessible_in"] = access
    grammar = np.where(specific, cls, "").astype(object)
    noisy = np.flatnonzero(specific & (rng.random(n) < spec.label_noise))
    for i in noisy:
        others = [c for c in CELL_LINES if c != cls[i]]
        grammar[i] = others[rng.integers(len(others))]
    if spec.rdhs_program_fraction:  # no draw at 0: worlds without programs stay byte-identical
        pre = np.flatnonzero(cls == "pretrain")
        picked = pre[rng.random(pre.size) < spec.rdhs_program_fraction]
        grammar[picked] = np.asarray(CELL_LINES, dtype=object)[
            rng.integers(len(CELL_LINES), size=picked.size)
        ]
    df["grammar"] = grammar
    df["split"] = np.where(df["chrom"].isin(list(test_chroms)), "test", "train")
    return df


def _region_requests(regions: pd.DataFrame, plan: Any, spec: SimulationConfig, rng):
    """Site requests ``(region, matrix, role)`` for every region (see module docs)."""
    parts = []
    all_drivers = np.unique(np.concatenate(list(plan.drivers.values())))
    broad = np.union1d(plan.generic, all_drivers)
    cls = regions["region_class"].to_numpy()
    grammar = regions["grammar"].to_numpy()
    idx = np.flatnonzero((cls == "pretrain") & (grammar == ""))
    parts.append(
        plant.request_sites(
            idx, plant.draw_counts(idx.size, spec.rdhs_sites, rng), broad, "vocabulary", rng
        )
    )
    for line in CELL_LINES:
        own = plan.drivers[line]
        cross = np.setdiff1d(all_drivers, own)
        for klass, driver_role in (("specific", "driver"), ("pretrain", "program")):
            idx = np.flatnonzero((cls == klass) & (grammar == line))
            if klass == "pretrain" and not idx.size:
                continue  # keeps worlds without programs byte-identical
            for count_range, choices, role in (
                (spec.specific_sites, own, driver_role),
                (spec.specific_generic_sites, plan.generic, "generic"),
                (spec.cross_driver_sites, cross, "cross_driver"),
            ):
                counts = plant.draw_counts(idx.size, count_range, rng)
                parts.append(plant.request_sites(idx, counts, choices, role, rng))
    access = regions["accessible_in"].to_numpy()
    for combo in sorted(set(access[cls == "shared"])):
        idx = np.flatnonzero((cls == "shared") & (access == combo))
        own = np.unique(np.concatenate([plan.drivers[c] for c in combo.split(",")]))
        for count_range, choices, role in (
            (spec.specific_sites, own, "driver"),
            (spec.specific_generic_sites, plan.generic, "generic"),
        ):
            counts = plant.draw_counts(idx.size, count_range, rng)
            parts.append(plant.request_sites(idx, counts, choices, role, rng))
    idx = np.arange(len(regions))
    parts.append(
        plant.request_sites(
            idx, plant.draw_counts(idx.size, spec.decoy_sites, rng), plan.decoy, "decoy", rng
        )
    )
    return (np.concatenate([p[i] for p in parts]) for i in range(3))


def _background_requests(drafts, regions, n_matrices, widths, spec, rng):
    """Weak sites of any used matrix outside regions and gaps, non-overlapping."""
    chrom_i, starts, mats = [], [], []
    wmax = int(widths.max())
    for ci, (chrom, d) in enumerate(drafts.items()):
        occupied = d.codes == genome_sim.N_CODE
        for s, e in regions.loc[regions["chrom"] == chrom, ["start", "end"]].to_numpy():
            occupied[s:e] = True
        k = round(spec.background_sites_per_kb * (~occupied).sum() / 1000)
        cand = np.sort(rng.integers(0, d.codes.size - wmax, size=k))
        m = rng.integers(0, n_matrices, size=k)
        csum = np.r_[0, np.cumsum(occupied)]
        free = csum[cand + widths[m]] == csum[cand]
        last_end = -1
        for s, mi in zip(cand[free], m[free], strict=True):
            if s >= last_end:
                chrom_i.append(ci)
                starts.append(s)
                mats.append(mi)
                last_end = s + widths[mi]
    return (
        np.array(chrom_i, dtype=np.int64),
        np.array(starts, dtype=np.int64),
        np.array(mats, dtype=np.int64),
    )


def plant_world(
    drafts: dict[str, genome_sim.ChromosomeDraft],
    regions: pd.DataFrame,
    plan: Any,
    *,
    spec: SimulationConfig,
    rng: np.random.Generator,
) -> tuple[plant.SiteTable, list[np.ndarray], np.ndarray]:
    """Plant every site into the chromosome codes **in place** (the drafts are the simulator's
    own scratch arrays) and return the site table, each site's codes and log-odds.

    Order: optional ``region_gc_shift`` redraw of each region; sites laid out in the central
    ``plant_window`` and sampled; then ``gc_compensation`` redraws the window's other bases so
    that planting does not change its GC (drivers differ a lot in GC: HNF1A/FOXA ~0.2, KLF5
    ~0.9, which would otherwise let a model tell lines apart by composition alone).
    """
    chroms = list(drafts)
    arrays = [drafts[c].codes for c in chroms]
    chrom_of = regions["chrom"].map({c: i for i, c in enumerate(chroms)}).to_numpy()
    if spec.region_gc_shift:
        starts = regions["start"].to_numpy()
        win = plant.gather_windows(arrays, chrom_of, starts, spec.region_length)
        gc = plant.is_gc(win).mean(axis=1) + spec.region_gc_shift
        pre, keep = genome_sim.depletion_plan(np.clip(gc, 0.05, 0.9), cpg_obs_exp=spec.cpg_obs_exp)
        fresh = genome_sim.sample_iid(np.repeat(pre, spec.region_length), rng)
        fresh = genome_sim.deplete_cpg(fresh, keep=np.repeat(keep, spec.region_length), rng=rng)
        plant.scatter_windows(
            arrays, chrom_of, starts, fresh.reshape(len(regions), spec.region_length)
        )
    widths = np.array([m.width for m in plan.matrices], dtype=np.int64)
    region, matrix, role = _region_requests(regions, plan, spec, rng)
    window_start = regions["mid"].to_numpy() - spec.plant_window // 2
    target_gc = plant.is_gc(
        plant.gather_windows(arrays, chrom_of, window_start, spec.plant_window)
    ).mean(axis=1)
    keep, start = plant.layout_sites(region, widths[matrix], window_start, spec.plant_window, rng)
    if keep.size < region.size:
        logger.info(
            "%d of %d sites did not fit their region's %d-bp window and were dropped",
            region.size - keep.size,
            region.size,
            spec.plant_window,
        )
    region, matrix, role = region[keep], matrix[keep], role[keep]
    b_chrom, b_start, b_matrix = _background_requests(
        drafts, regions, len(plan.matrices), widths, spec, rng
    )
    n_r, n_b = region.size, b_start.size
    minus = rng.random(n_r + n_b) < 0.5
    sharp = np.where(rng.random(n_r) < spec.weak_site_fraction, 1.0, spec.sharpness)
    sites = plant.SiteTable(
        region=np.r_[region, np.full(n_b, -1)],
        chrom=np.r_[chrom_of[region], b_chrom],
        matrix=np.r_[matrix, b_matrix],
        role=np.r_[role, np.full(n_b, "background", dtype=object)],
        start=np.r_[start, b_start],
        width=widths[np.r_[matrix, b_matrix]],
        minus=minus,
        sharpness=np.r_[sharp, np.ones(n_b)],
    )
    codes, log_odds = plant.sample_sites(
        sites.matrix, sites.minus, sites.sharpness, plan.matrices, rng
    )
    for ci, s, seq in zip(sites.chrom, sites.start, codes, strict=True):
        arrays[ci][s : s + seq.size] = seq
    if spec.gc_compensation:
        site_mask = np.zeros((len(regions), spec.plant_window), dtype=bool)
        w = widths[matrix]
        offset = np.repeat(start - window_start[region], w)
        offset += np.arange(w.sum()) - np.repeat(np.cumsum(w) - w, w)
        site_mask[np.repeat(region, w), offset] = True
        planted = plant.gather_windows(arrays, chrom_of, window_start, spec.plant_window)
        new = plant.compensate_gc(
            planted,
            site_mask,
            target_gc,
            strength=spec.gc_compensation,
            cpg_obs_exp=spec.cpg_obs_exp,
            rng=rng,
        )
        plant.scatter_windows(arrays, chrom_of, window_start, new)
    return sites, codes, log_odds


def write_tables(
    world: Any,
    drafts: dict[str, genome_sim.ChromosomeDraft],
    regions: pd.DataFrame,
    motif_table: pd.DataFrame,
    matrices: list[JasparMatrix],
    sites: plant.SiteTable,
    site_codes: list[np.ndarray],
    log_odds: np.ndarray,
) -> None:
    """rDHS/accessible/gap/blacklist BEDs, region truth, motif table and site ground truth."""
    bed = regions[["chrom", "core_start", "core_end", "name"]].assign(score=0, strand=".")
    write_tsv(bed, world.rdhs_bed, header=False)
    write_tsv(bed[regions["region_class"] != "pretrain"], world.accessible_bed, header=False)
    gaps = [
        (c, s, e, t)
        for c, d in drafts.items()
        for (s, e), t in zip(d.gaps.tolist(), d.gap_types, strict=True)
    ]
    write_tsv(pd.DataFrame(gaps), world.gaps_bed, header=False)
    bl = [
        (c, s, e, "High Signal Region") for c, d in drafts.items() for s, e in d.blacklist.tolist()
    ]
    write_tsv(pd.DataFrame(bl, columns=range(4)), world.blacklist_bed, header=False)
    n_sites = np.bincount(sites.region[sites.region >= 0], minlength=len(regions))
    write_tsv(regions.drop(columns=["mid"]).assign(n_sites=n_sites), world.region_truth)
    write_tsv(motif_table, world.motifs)

    chroms = np.array(list(drafts), dtype=object)
    in_region = sites.region >= 0
    reg_start = regions["start"].to_numpy()[np.where(in_region, sites.region, 0)]
    rel = pd.array(np.where(in_region, sites.start - reg_start, 0), dtype="Int64")
    rel[~in_region] = pd.NA
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    gt = pd.DataFrame(
        {
            "region": np.where(in_region, regions["name"].to_numpy()[sites.region], "."),
            "region_class": np.where(
                in_region, regions["region_class"].to_numpy()[sites.region], "background"
            ),
            "tf": [matrices[i].name for i in sites.matrix],
            "matrix_id": [matrices[i].matrix_id for i in sites.matrix],
            "role": sites.role,
            "chrom": chroms[sites.chrom],
            "start": sites.start,
            "end": sites.start + sites.width,
            "strand": np.where(sites.minus, "-", "+"),
            "rel_start": rel,
            "rel_end": rel + sites.width,
            "sharpness": sites.sharpness,
            "log_odds": log_odds,
            "sequence": [
                letters[3 - c[::-1] if m else c].tobytes().decode()
                for c, m in zip(site_codes, sites.minus, strict=True)
            ],
        }
    )
    order = np.lexsort((gt["start"].to_numpy(), sites.chrom))
    write_tsv(gt.iloc[order], world.ground_truth)


def write_labels(
    world: Any,
    regions: pd.DataFrame,
    *,
    ratios: dict[str, float],
    spec: SimulationConfig,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """The twelve label files, rows ``chrN:start-end,LABEL`` in random order.

    For each line and split: positives are the line's specific regions; ``round(n_pos *
    ratios[line])`` negatives, of which a fraction ``universal_negative_fraction`` are
    pre-training rDHSs (``Negative``) and the rest other lines' specific regions
    (``<CELL>_NEG``), drawn without replacement from the same split.

    Returns
    -------
    dict
        ``{"labels": {split: {file: {label: count}}}}`` for the manifest.
    """
    key = regions["chrom"] + ":" + regions["start"].astype(str) + "-" + regions["end"].astype(str)
    key = key.to_numpy()
    cls, line = regions["region_class"].to_numpy(), regions["cell_line"].to_numpy()
    counts: dict[str, Any] = {}
    for split, paths in (("train", world.train_labels), ("test", world.test_labels)):
        in_split = regions["split"].to_numpy() == split
        counts[split] = {}
        for c in CELL_LINES:
            own = AUTHOR_SPELLING[c]
            pos = np.flatnonzero(in_split & (line == c))
            n_neg = round(pos.size * ratios[c])
            n_univ = round(n_neg * spec.universal_negative_fraction)
            pool_other = np.flatnonzero(in_split & (cls == "specific") & (line != c))
            pool_univ = np.flatnonzero(in_split & (cls == "pretrain"))
            n_other = n_neg - n_univ
            if n_other > pool_other.size or n_univ > pool_univ.size:
                raise SimulationError(
                    f"{split}/{own}.csv needs {n_other} other-line and {n_univ} pre-training "
                    f"negatives but the split has {pool_other.size} and {pool_univ.size}; "
                    "raise simulation.n_specific_total / n_pretrain_rdhs or lower "
                    "neg_to_pos_ratio"
                )
            other = rng.choice(pool_other, size=n_other, replace=False)
            univ = rng.choice(pool_univ, size=n_univ, replace=False)
            rows = np.r_[
                key[pos] + f",{own}",
                key[other] + f",{own}_NEG",
                key[univ] + f",{UNIVERSAL_NEGATIVE}",
            ]
            rows = rows[rng.permutation(rows.size)]
            paths[c].parent.mkdir(parents=True, exist_ok=True)
            paths[c].write_text("\n".join(rows) + "\n")
            counts[split][f"{own}.csv"] = {
                own: int(pos.size),
                f"{own}_NEG": n_other,
                UNIVERSAL_NEGATIVE: n_univ,
            }
    return {"labels": counts}
