"""Chapter 7's de novo section: TF-MoDISco patterns of each line's analysed regions, for the
line's fine-tuned model and for the pre-trained model, matched to JASPAR, and the line's drivers
among the top patterns' best matches.

The computation is :mod:`chromtransfer_lib.interpret.denovo` (hypothetical contributions of the
logit, modisco-lite with window sizes fitted to 200 bp, memelite's TOMTOM; no MEME binary), the
same as ``chromtransfer denovo``. :func:`ensure_denovo` runs it once per line and model on the
line's positive predictions (chapter 6's regions), at most :data:`MAX_REGIONS` of them in a
seeded order (modisco keeps the first seqlets in input order, and its time grows with the
number of sequences), and caches each run under ``<run_dir>/interpret/``::

    interpret/denovo-<model>-<regions>-<line>-<settings>/  patterns.tsv, matches.tsv, ppm.npz,
                                                            run.json

keyed by the content of the model file, the analysed regions and the settings here, so a
retrained model is never paired with stale patterns. :func:`driver_recovery_table` counts a
driver as found when one of the :data:`TOP_PATTERNS` largest positive patterns has it, or a
look-alike JASPAR matrix (:func:`~chromtransfer_lib.interpret.denovo.match_clusters`), as its
best match. ARCHITECTURE.md, book layer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from chromtransfer_lib.book import stages
from chromtransfer_lib.book.interpret_cache import file_key
from chromtransfer_lib.book.interpret_regions import MODEL_LABELS
from chromtransfer_lib.book.interpretation import Attribution
from chromtransfer_lib.fileio import atomic_path, cache_key

#: Sequences per MoDISco run (a seeded sample of the line's analysed regions when it has more).
MAX_REGIONS = 1000
#: Patterns (largest first, positive metacluster) whose best match may recover a driver.
TOP_PATTERNS = 5
#: JASPAR matches kept per pattern.
N_BEST = 3


@dataclass(frozen=True)
class DenovoRun:
    """One MoDISco run: its patterns (pattern, sign, n_seqlets, width, consensus), their best
    JASPAR matches (:data:`~chromtransfer_lib.interpret.denovo.MATCH_COLUMNS`), each pattern's
    PPM ``(w, 4)``, the number of sequences and modisco's wall time."""

    line: str
    model: str
    n_regions: int
    patterns: pd.DataFrame
    matches: pd.DataFrame
    ppm: dict[str, np.ndarray]
    seconds: float


@dataclass(frozen=True)
class Denovo:
    """Every run by ``(line, model key)``, and the line's drivers (name → matrix ID)."""

    runs: dict[tuple[str, str], DenovoRun]
    drivers: dict[str, dict[str, str | None]]
    release: str

    @cached_property
    def recovery(self) -> pd.DataFrame:
        """:func:`driver_recovery_table`, computed on first use (look-alike clusters per run)."""
        return _recovery_table(self)


def _run(att: Attribution, line: str, model: str, rows: np.ndarray, release: str) -> DenovoRun:
    from chromtransfer_lib.genome.jaspar import load_jaspar
    from chromtransfer_lib.genome.sequence import one_hot
    from chromtransfer_lib.interpret.attribution import target_model
    from chromtransfer_lib.interpret.denovo import (
        MATCH_COLUMNS,
        discover_motifs,
        hypothetical_contributions,
        match_jaspar,
    )

    codes = att.regions.codes[rows]
    net = target_model(att.models.models[model], target="logit")
    found = discover_motifs(hypothetical_contributions(net, codes), one_hot(codes))
    matches = (
        match_jaspar(found.patterns, load_jaspar(release), n_best=N_BEST)
        if found.patterns
        else pd.DataFrame(columns=MATCH_COLUMNS)
    )
    ppm = {p.pattern_id: p.ppm for p in found.patterns}
    return DenovoRun(line, model, len(rows), found.table(), matches, ppm, found.seconds)


def _save(run: DenovoRun, folder: Path) -> None:
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        run.patterns.to_csv(tmp / "patterns.tsv", sep="\t", index=False)
        run.matches.to_csv(tmp / "matches.tsv", sep="\t", index=False, float_format="%.6g")
        np.savez(tmp / "ppm.npz", **run.ppm)
        meta = {"line": run.line, "model": run.model, "n_regions": run.n_regions,
                "seconds": run.seconds}  # fmt: skip
        (tmp / "run.json").write_text(json.dumps(meta, indent=2))


def _load(folder: Path) -> DenovoRun:
    meta = json.loads((folder / "run.json").read_text())
    with np.load(folder / "ppm.npz") as f:
        ppm = {k: f[k] for k in f.files}
    read = lambda name: pd.read_csv(folder / name, sep="\t", keep_default_na=False,  # noqa: E731
                                    na_values=[""])  # fmt: skip
    return DenovoRun(meta["line"], meta["model"], meta["n_regions"], read("patterns.tsv"),
                     read("matches.tsv"), ppm, meta["seconds"])  # fmt: skip


def line_rows(att: Attribution, line: str, *, max_regions: int = MAX_REGIONS) -> np.ndarray:
    """The line's analysed rows in a seeded random order, at most ``max_regions``."""
    rows = np.random.default_rng(att.seed).permutation(att.regions.rows(line))
    return rows[:max_regions]


def ensure_denovo(
    ctx: stages.RunContext,
    att: Attribution,
    *,
    lines: Sequence[str] = ("HepG2", "K562"),
    max_regions: int = MAX_REGIONS,
) -> Denovo:
    """MoDISco + TOMTOM for each line's fine-tuned model and the pre-trained model (cached)."""
    release = att.config.jaspar_release
    runs = {}
    for line in lines:
        rows = line_rows(att, line, max_regions=max_regions)
        settings = cache_key({"rows": cache_key(rows.tolist()), "release": release,
                              "n_best": N_BEST, "line": line})  # fmt: skip
        for model in (line, "pretrained"):
            name = f"denovo-{file_key(att.models.paths[model])}-{att.regions.key}-{line}-{settings}"
            folder = Path(ctx.run_dir) / "interpret" / name
            if not folder.is_dir():
                folder.parent.mkdir(parents=True, exist_ok=True)
                _save(_run(att, line, model, rows, release), folder)
            runs[(line, model)] = _load(folder)
    return Denovo(runs, {ln: att.drivers.get(ln, {}) for ln in lines}, release)


# --- tables, figures, numbers -------------------------------------------------------------------


def _recovery(dn: Denovo, line: str, model: str):
    from chromtransfer_lib.genome.jaspar import load_jaspar
    from chromtransfer_lib.interpret.denovo import driver_recovery, match_clusters

    run, drivers = dn.runs[(line, model)], list(dn.drivers.get(line, {}))
    clusters = match_clusters(run.matches, drivers, load_jaspar(dn.release))
    return driver_recovery(run.matches, drivers, top_patterns=TOP_PATTERNS, clusters=clusters)


def driver_recovery_table(dn: Denovo) -> pd.DataFrame:
    """Per line and model: sequences, positive and negative patterns, the line's drivers, how
    many the top patterns' best matches recover (by name or look-alike cluster; by name), and
    modisco's time (computed once per :class:`Denovo`: the chapter's table, glued numbers and
    metrics all read it)."""
    return dn.recovery.copy()


def _recovery_table(dn: Denovo) -> pd.DataFrame:
    rows = []
    for (line, model), run in dn.runs.items():
        rec = _recovery(dn, line, model)
        sign = run.patterns["sign"].to_numpy() if len(run.patterns) else np.zeros(0)
        rows.append({
            "line": line, "model": MODEL_LABELS.get(model, model), "sequences": run.n_regions,
            "positive patterns": int((sign > 0).sum()), "negative patterns": int((sign < 0).sum()),
            "drivers": rec.n_drivers, f"found in top {TOP_PATTERNS}": rec.n_found,
            "found by name": rec.n_found_by_name, "modisco (s)": round(run.seconds, 1),
        })  # fmt: skip
    return pd.DataFrame(rows)


def top_patterns_table(dn: Denovo, *, line: str, model: str | None = None) -> pd.DataFrame:
    """The :data:`TOP_PATTERNS` largest positive patterns of one run with their best match
    (TF, TOMTOM q-value) and whether that TF is one of the line's drivers by name."""
    run = dn.runs[(line, model or line)]
    pos = run.patterns[run.patterns["sign"] > 0].sort_values("n_seqlets", ascending=False,
                                                             kind="stable")  # fmt: skip
    best = run.matches[run.matches["rank"] == 1].set_index("pattern")
    names = {d.upper() for d in dn.drivers.get(line, {})}
    rows = []
    for p in pos.head(TOP_PATTERNS).itertuples(index=False):
        tf = best["tf"].get(p.pattern, "")
        parts = {tf.upper(), *tf.upper().split("::")} if tf else set()
        rows.append({
            "pattern": p.pattern.replace("pos_patterns.", ""), "seqlets": p.n_seqlets,
            "consensus": p.consensus, "best match": tf,
            "q-value": best["q_value"].get(p.pattern, np.nan),
            "driver (by name)": bool(names & parts),
        })  # fmt: skip
    columns = ["pattern", "seqlets", "consensus", "best match", "q-value", "driver (by name)"]
    return pd.DataFrame(rows, columns=columns)


def pattern_logos(dn: Denovo, *, line: str, model: str | None = None, n: int = 4):
    """PPM logos of the ``n`` largest positive patterns of one run, titled with their size and
    best match (matplotlib figure; ``None`` without patterns)."""
    import matplotlib.pyplot as plt

    from chromtransfer_lib.book.plots import plot_logo

    top = top_patterns_table(dn, line=line, model=model).head(n)
    if not len(top):
        return None
    run = dn.runs[(line, model or line)]
    fig, axes = plt.subplots(1, len(top), figsize=(3.3 * len(top), 1.9), squeeze=False)
    for ax, p in zip(axes[0], top.itertuples(index=False), strict=True):
        match = p[3] or "no match"
        plot_logo(run.ppm[f"pos_patterns.{p.pattern}"].T, ax=ax,
                  title=f"{p.pattern} ({p.seqlets} seqlets): {match}")  # fmt: skip
    fig.suptitle(f"{line}: {MODEL_LABELS.get(model or line, model)}", x=0.01, ha="left")
    fig.tight_layout()
    plt.close(fig)
    return fig


def denovo_numbers(dn: Denovo) -> dict[str, object]:
    """Glue name → value: per line, sequences, drivers, drivers found for the fine-tuned
    (``ft``) and pre-trained (``pre``) models, and their positive patterns."""
    out: dict[str, object] = {"dn_top": TOP_PATTERNS, "dn_max": MAX_REGIONS}
    table = driver_recovery_table(dn)
    for line in dict.fromkeys(k[0] for k in dn.runs):
        for tag, model in (("ft", line), ("pre", "pretrained")):
            row = table[(table["line"] == line) & (table["model"] == MODEL_LABELS.get(model))]
            row = row.iloc[0]
            out[f"dn_found_{tag}_{line}"] = int(row[f"found in top {TOP_PATTERNS}"])
            out[f"dn_patterns_{tag}_{line}"] = int(row["positive patterns"])
            out[f"dn_seconds_{tag}_{line}"] = f"{row['modisco (s)']:.0f}"
        out[f"dn_drivers_{line}"] = int(row["drivers"])
        out[f"dn_sequences_{line}"] = int(row["sequences"])
    return out


def denovo_metrics(dn: Denovo) -> dict[str, object]:
    """Saved with chapter 7's metrics: ``denovo.<line>.<finetuned|pretrained>.drivers_found``
    and ``.positive_patterns``."""
    out: dict[str, object] = {}
    for r in driver_recovery_table(dn).to_dict("records"):
        tag = "pretrained" if r["model"] == MODEL_LABELS["pretrained"] else "finetuned"
        out[f"denovo.{r['line']}.{tag}.drivers_found"] = r[f"found in top {TOP_PATTERNS}"]
        out[f"denovo.{r['line']}.{tag}.positive_patterns"] = r["positive patterns"]
    return out
