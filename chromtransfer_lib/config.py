"""Profiles: one YAML file per profile, loaded into frozen dataclasses.

Config flows one way: ``profiles/<name>.yaml`` → :class:`Profile` (unknown or missing keys are
an error naming the key and the file) → explicit keyword arguments of library functions.
Library functions never read a profile themselves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from chromtransfer_lib.errors import InputError

#: The six cell lines of the paper, in the order the paper lists them.
CELL_LINES: tuple[str, ...] = ("A549", "HCT116", "HepG2", "GM12878", "K562", "MCF7")

#: How the authors spell each cell line in their label-file names and labels.
AUTHOR_SPELLING: dict[str, str] = {c: ("HEPG2" if c == "HepG2" else c) for c in CELL_LINES}

#: The label of a pre-training rDHS used as a negative in the authors' label files.
UNIVERSAL_NEGATIVE = "Negative"

PROFILE_NAMES: tuple[str, ...] = ("smoke", "workshop", "quick", "paper")
#: The profile every command (and the book) uses unless told otherwise.
DEFAULT_PROFILE = "quick"
#: What early stopping may watch, and whether lower (``min``) or higher (``max``) is better.
MONITORS: dict[str, str] = {"val_loss": "min", "val_auroc": "max"}
#: What attribution differentiates: the output neuron's pre-activation (the book's and the CLI's
#: default) or the probability (:mod:`chromtransfer_lib.interpret.attribution`).
ATTRIBUTION_TARGETS: tuple[str, ...] = ("logit", "probability")


class ConfigError(InputError, ValueError):
    """A profile file is malformed: the message names the file and the key."""


#: Keys added after artifacts were recorded, and the value that reproduces those artifacts:
#: :meth:`Profile.config_hash` leaves a key out while it holds that value.
HASH_NEUTRAL: dict[tuple[str, str], Any] = {
    ("simulation", "line_scale"): {},
    **{(s, "batchnorm_refresh"): 0 for s in ("pretrain", "finetune", "scratch", "multiclass")},
    **{(s, "eager"): False for s in ("pretrain", "finetune", "scratch", "multiclass")},
}


@dataclass(frozen=True)
class SimulationConfig:
    """Knobs of the simulated ENCODE-like world (see :mod:`chromtransfer_lib.sim.world`).

    Lengths are in bp; ``(lo, hi)`` pairs are inclusive ranges drawn uniformly per item.

    World: ``chrom_lengths``; regions of ``region_length`` bp around rDHS cores of
    ``core_width`` bp; ``n_pretrain_rdhs`` rDHSs accessible in none of the six lines,
    ``n_specific_total`` accessible in exactly one (split over the lines in the paper's
    proportions), ``n_shared`` accessible in 2-3 lines. Fine-tuning negatives per positive:
    the paper's per-line ratio clipped into ``neg_to_pos_ratio``; a fraction
    ``universal_negative_fraction`` of them are pre-training rDHSs (label ``Negative``).

    Genome: ``telomere_length``, ``gap_*`` and ``blacklist_*`` intervals per chromosome;
    ``softmask_fraction`` covered by ``repeat_families`` repeat families (consensus lengths
    ``repeat_length``, per-copy divergence ``repeat_divergence``); GC per ``gc_block`` drawn
    from N(``gc_mean``, ``gc_sd``); CpG observed/expected ``cpg_obs_exp``;
    ``region_gc_shift`` redraws each region's background with its GC shifted (0 = like the
    background; real rDHSs are GC-richer); ``gc_compensation`` (0-1) redraws the non-site
    bases of the planting window so that planting sites does not change its GC.

    Motifs (JASPAR ``jaspar_release`` CORE vertebrates; names or matrix IDs): ``drivers`` per
    cell line, ``generic_vocabulary``, ``decoy_vocabulary``. Sites lie fully inside the central
    ``plant_window`` bp; bases are drawn from column probabilities raised to ``sharpness``
    (a ``weak_site_fraction`` at sharpness 1). Sites per region: ``rdhs_sites`` (broad
    vocabulary, pre-training rDHSs), ``specific_sites`` (own drivers), ``specific_generic_sites``,
    ``cross_driver_sites`` (other lines' drivers), ``decoy_sites`` (every region);
    ``background_sites_per_kb`` weak sites of any used matrix outside regions. ``label_noise``:
    fraction of specific regions whose planted drivers are another line's.
    ``rdhs_program_fraction``: share of the pre-training rDHSs that carry one line's program
    (its drivers and generic sites, drawn like a specific region of that line) instead of the
    broad vocabulary — the compendium's regions of related cell types (0 = none).
    ``line_scale``: per-line multipliers of a line's paper share of ``n_specific_total``
    (e.g. ``{HepG2: 3}`` makes the bootstrap line three times its paper proportion, so that
    its 5 % subsets hold hundreds of sequences; ``{}`` = the paper's proportions).
    """

    chrom_lengths: dict[str, int]
    region_length: int
    core_width: tuple[int, int]
    plant_window: int
    n_pretrain_rdhs: int
    n_specific_total: int
    n_shared: int
    neg_to_pos_ratio: tuple[float, float]
    universal_negative_fraction: float
    telomere_length: int
    gap_count_per_chrom: int
    gap_length: tuple[int, int]
    blacklist_count_per_chrom: int
    blacklist_length: tuple[int, int]
    softmask_fraction: float
    repeat_families: int
    repeat_length: tuple[int, int]
    repeat_divergence: tuple[float, float]
    gc_mean: float
    gc_sd: float
    gc_block: int
    cpg_obs_exp: float
    region_gc_shift: float
    gc_compensation: float
    jaspar_release: str
    sharpness: float
    weak_site_fraction: float
    rdhs_sites: tuple[int, int]
    specific_sites: tuple[int, int]
    specific_generic_sites: tuple[int, int]
    cross_driver_sites: tuple[int, int]
    decoy_sites: tuple[int, int]
    background_sites_per_kb: float
    label_noise: float
    drivers: dict[str, tuple[str, ...]]
    generic_vocabulary: tuple[str, ...]
    decoy_vocabulary: tuple[str, ...]
    rdhs_program_fraction: float
    line_scale: dict[str, float]


@dataclass(frozen=True)
class DataConfig:
    """How regions become datasets (:mod:`chromtransfer_lib.genome.regions`, :mod:`.data`)."""

    source: str
    seq_len: int
    test_chroms: tuple[str, ...]
    n_folds: int
    flank_exclusion: int
    pretrain_negatives_per_positive: float
    max_n_fraction: float


@dataclass(frozen=True)
class ModelConfig:
    """Network widths (paper widths by default) and heads (:mod:`.models.network`)."""

    stem_filters: int
    res1_filters: int
    res2_filters: int
    top_filters: int
    pretrain_head: tuple[int, ...]
    finetune_head: tuple[int, ...]
    dropout: float


@dataclass(frozen=True)
class TrainConfig:
    """One training recipe (:mod:`chromtransfer_lib.models.train`)."""

    learning_rate: float
    batch_size: int
    max_epochs: int
    patience: int
    monitor: str
    """What early stopping watches: ``val_loss`` (Keras' default; the paper names none) or
    ``val_auroc`` (binary models only)."""
    folds: tuple[int, ...]
    mixed_precision: str | None
    batchnorm_refresh: int
    """After each epoch, re-estimate every BatchNorm layer's statistics on up to this many
    training sequences with dropout off (:func:`.models.batchnorm.refresh_batchnorm`) before
    validating; 0 keeps Keras' running averages, which the paper's Keras code used."""
    eager: bool
    """Run Keras' train and evaluate steps eagerly, without tracing a graph
    (:class:`.models.train.Recipe`): it saves the tracing (a smoke-size model trained in 22 s
    instead of 30 s on a loaded 2-core CPU) and costs several times more per batch; no
    packaged profile sets it (in smoke it made the 20-epoch own-data CLI tests time out)."""


@dataclass(frozen=True)
class BootstrapConfig:
    """The Table 1 grid: fractions × repetitions of one line's training data."""

    cell_line: str
    fractions: tuple[float, ...]
    repetitions: int
    scratch_fractions: tuple[float, ...]
    """Fractions at which the from-scratch baseline is trained too (the paper: none); each
    must be one of ``fractions``."""
    min_steps: int
    """Each unit trains for at least this many optimiser steps: a small subset is repeated
    within an epoch until ``max_epochs`` epochs hold ``min_steps`` steps; 0 keeps the recipe."""
    subsample_validation: bool
    """Subsample the validation fold with the training rows (the paper subsampled all of its
    non-test data), or keep the whole validation fold for early stopping."""


@dataclass(frozen=True)
class InterpretConfig:
    """Attribution, motif scanning and KS enrichment (stages 9–10)."""

    max_regions: int
    ism_regions: int
    p_value: float
    min_sites: int
    fdr: float
    example_regions: int
    jaspar_release: str
    """JASPAR release whose CORE vertebrate matrices are scanned (``chromtransfer motifs``)."""


@dataclass(frozen=True)
class Profile:
    """A fully resolved profile; build it with :func:`load_profile`."""

    name: str
    description: str
    seed: int
    workers: int
    """Processes that train independent models side by side (one CPU thread each); 0 = one
    per CPU core, or 1 when a GPU is visible; 1 trains everything in the calling process."""
    simulation: SimulationConfig
    data: DataConfig
    model: ModelConfig
    pretrain: TrainConfig
    finetune: TrainConfig
    scratch: TrainConfig
    multiclass: TrainConfig
    bootstrap: BootstrapConfig
    interpret: InterpretConfig
    deviations: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def config_hash(self, *sections: str) -> str:
        """Short sha256 of the whole profile, or of the named sections only.

        Artifacts are keyed by this hash, so a changed config never reuses a stale artifact.
        Keys of :data:`HASH_NEUTRAL` are left out while they hold the value that reproduces
        what came before them, so adding such a key keeps every recorded artifact's hash.
        """
        d = self.to_dict()
        for (section, key), neutral in HASH_NEUTRAL.items():
            if d[section].get(key) == neutral:
                del d[section][key]
        if sections:
            d = {s: d[s] for s in sections}
        blob = json.dumps(d, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _coerce(tp: Any, value: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert lists to tuples."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(
            _coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        kt, vt = args
        return {_coerce(kt, k, where): _coerce(vt, v, f"{where}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported type {tp!r}")  # pragma: no cover


def _build(cls: type, mapping: Any, where: str) -> Any:
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {mapping!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(mapping) - set(names))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"allowed keys are {', '.join(names)}"
        )
    missing = [n for n in names if n not in mapping]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(map(repr, missing))}")
    return cls(**{n: _coerce(hints[n], mapping[n], f"{where}.{n}") for n in names})


def profile_path(name: str) -> Path:
    """Path of a packaged profile YAML."""
    if name not in PROFILE_NAMES:
        raise ConfigError(
            f"unknown profile {name!r}: choose one of {', '.join(PROFILE_NAMES)} "
            "or pass the path of a YAML file"
        )
    return Path(str(resources.files("chromtransfer_lib") / "profiles" / f"{name}.yaml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a profile by name (``smoke``, ``quick``, ``paper``) or from a YAML path.

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or has unknown, missing or mistyped keys.
        The message names the file and the key.
    """
    text_name = str(name_or_path)
    path = Path(text_name) if text_name.endswith((".yaml", ".yml")) else profile_path(text_name)
    if not path.is_file():
        raise ConfigError(f"profile file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    return build_profile(raw, str(path))


def build_profile(raw: Any, where: str = "<profile>") -> Profile:
    """A validated :class:`Profile` from a plain mapping (a parsed profile YAML, or
    :meth:`Profile.to_dict` with some values changed); ``where`` names it in errors.

    Raises
    ------
    ConfigError
        Unknown, missing or mistyped keys, or values that do not fit together.
    """
    profile = _build(Profile, raw, where)
    validate_profile(profile, where)
    return profile


def validate_profile(profile: Profile, path: Path | str = "<profile>") -> None:
    """Cross-field checks that types alone cannot express."""
    if profile.bootstrap.cell_line not in CELL_LINES:
        raise ConfigError(
            f"{path}: bootstrap.cell_line {profile.bootstrap.cell_line!r} is not one of "
            f"{', '.join(CELL_LINES)}"
        )
    for section in ("pretrain", "finetune", "scratch", "multiclass"):
        tc: TrainConfig = getattr(profile, section)
        bad = [f for f in tc.folds if not 0 <= f < profile.data.n_folds]
        if bad:
            raise ConfigError(
                f"{path}: {section}.folds {bad} outside 0..{profile.data.n_folds - 1}"
            )
        if tc.monitor not in MONITORS:
            raise ConfigError(
                f"{path}: {section}.monitor must be one of {', '.join(MONITORS)}, "
                f"got {tc.monitor!r}"
            )
        if section == "multiclass" and tc.monitor != "val_loss":
            raise ConfigError(
                f"{path}: multiclass.monitor must be val_loss (the softmax model has no AUROC "
                "metric to stop on)"
            )
        if tc.mixed_precision not in (None, "mixed_float16", "mixed_bfloat16"):
            raise ConfigError(
                f"{path}: {section}.mixed_precision must be null, mixed_float16 or "
                f"mixed_bfloat16, got {tc.mixed_precision!r}"
            )
    if profile.data.source not in ("simulated", "paper"):
        raise ConfigError(
            f"{path}: data.source must be 'simulated' or 'paper', got {profile.data.source!r}"
        )
    missing = [c for c in CELL_LINES if c not in profile.simulation.drivers]
    if missing:
        raise ConfigError(f"{path}: simulation.drivers lacks cell line(s) {missing}")
    if any(not 0 < f <= 1 for f in profile.bootstrap.fractions):
        raise ConfigError(f"{path}: bootstrap.fractions must lie in (0, 1]")
    stray = sorted(set(profile.bootstrap.scratch_fractions) - set(profile.bootstrap.fractions))
    if stray:
        raise ConfigError(
            f"{path}: bootstrap.scratch_fractions {stray} are not among bootstrap.fractions "
            f"{list(profile.bootstrap.fractions)}"
        )
    if profile.workers < 0:
        raise ConfigError(f"{path}: workers must be 0 (one per CPU core) or a positive count")
