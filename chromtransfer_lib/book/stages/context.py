"""A chapter's run context: the loaded profile and the run directory its artifacts live in."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chromtransfer_lib.config import ConfigError, Profile, build_profile, load_profile


@dataclass(frozen=True)
class RunContext:
    """A loaded profile and the directory its artifacts live in.

    ``started`` (``time.time()``) and ``clock`` (``time.perf_counter()``) record when the
    context was made, i.e. when a chapter's set-up cell ran: :func:`chapter_timing` measures
    the chapter from there.
    """

    profile: Profile
    run_dir: Path
    started: float = field(default_factory=time.time, compare=False, repr=False)
    clock: float = field(default_factory=time.perf_counter, compare=False, repr=False)

    @classmethod
    def create(cls, profile: str | Path, run_dir: str | Path | None = None) -> RunContext:
        """Load ``profile`` and create ``run_dir`` (default ``runs/<profile name>``).

        These are the notebooks' papermill parameters, so their types are checked here with a
        message that says how to pass them.
        """
        checks = (("profile", profile, (str, Path)), ("run_dir", run_dir, (str, Path, type(None))))
        for name, value, kinds in checks:
            if not isinstance(value, kinds):
                what = "a profile name or a YAML path" if name == "profile" else "a folder"
                raise ConfigError(
                    f"notebook parameter {name!r} must be a string ({what}), got "
                    f"{type(value).__name__} {value!r}; pass e.g. -p profile quick "
                    "-p run_dir runs/quick"
                )
        prof = load_profile(profile)
        rd = Path(run_dir) if run_dir else Path("runs") / prof.name
        rd.mkdir(parents=True, exist_ok=True)
        return cls(prof, rd.resolve())

    @property
    def progress(self) -> bool:
        """Progress bars on long steps (off for the smoke profile's tiny steps)."""
        return self.profile.name != "smoke"

    def elapsed(self) -> float:
        """Seconds since this context was made (the chapter's set-up cell)."""
        return time.perf_counter() - self.clock

    def derive(self, overrides: Mapping[str, Any]) -> RunContext:
        """The same run directory at this profile with dotted-key ``overrides`` applied, e.g.
        ``ctx.derive({"finetune.folds": [0, 1, 2]})`` (the keys of the profile YAML; a key
        that does not exist is an error, as in a calibration grid).

        Nothing is computed or written: stages called with the derived context find what
        is already in the run directory under its keys (the changed sections get new ones)
        and compute the rest, so an exercise can ask what a profile change would train
        (:func:`~chromtransfer_lib.book.stages.pending_jobs`) before training it.
        """
        from chromtransfer_lib.book.calibration import apply_overrides

        raw = apply_overrides(self.profile.to_dict(), overrides)
        change = json.dumps(dict(overrides), sort_keys=True)
        raw["description"] = f"{self.profile.name} with {change}"
        profile = build_profile(raw, f"{self.profile.name} with {change}")
        return RunContext(profile, self.run_dir, started=self.started, clock=self.clock)

    def model_dir(self, name: str, *sections: str) -> Path:
        """``models/<name>-<hash>``: the hash covers everything that shapes the model (the
        seed, the simulation, data and model sections, and the named training sections)."""
        key = self.profile.config_hash("seed", "simulation", "data", "model", *sections)
        return self.run_dir / "models" / f"{name}-{key}"


def start_chapter(profile: str | Path, run_dir: str | Path | None) -> RunContext:
    """Set up a chapter: its :class:`RunContext`, and logging fit for a rendered page.

    Library warnings (regions dropped, with counts) go to stdout so the book shows them — the
    book leaves stderr, where TensorFlow writes its start-up chatter, out of the pages — and
    TensorFlow's retracing notices (one compiled predictor per model is expected) are muted.
    """
    import sys

    root = logging.getLogger()
    if not any(getattr(h, "_chromtransfer", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._chromtransfer = True
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    ctx = RunContext.create(profile, run_dir)
    print(f"profile: {ctx.profile.name} — {ctx.profile.description}")
    return ctx


#: Folders of a run directory whose artifacts :func:`chapter_timing` counts, and the file that
#: marks one artifact in each: a trained model, a built dataset, an interpretation cache.
_ARTIFACTS = {"models": "model.keras", "datasets": "provenance.json", "interpret": None}


def chapter_timing(ctx: RunContext) -> dict[str, float | int | str]:
    """What a chapter's last cell glues about its own run: how long it took and what it found.

    Returns
    -------
    dict
        ``chapter_seconds`` and ``chapter_minutes`` since :func:`start_chapter` (the set-up
        cell); ``chapter_profile``; and, for models (``model.keras`` files under ``models/``),
        datasets (``provenance.json`` under ``datasets/``) and interpretation caches (entries
        of ``interpret/``), how many were written during the chapter
        (``chapter_models_trained``, ``chapter_datasets_built``, ``chapter_caches_computed``:
        modified at or after the chapter started) and how many were already in the run
        directory (``chapter_models_found``, ``chapter_datasets_found``,
        ``chapter_caches_found``). An archive fetched with ``chromtransfer fetch runs`` keeps
        its members' (old) mtimes, so what it brought counts as found.
    """
    seconds = ctx.elapsed()
    out: dict[str, float | int | str] = {
        "chapter_seconds": round(seconds, 1),
        "chapter_minutes": round(seconds / 60, 2),
        "chapter_profile": ctx.profile.name,
    }
    names = {"models": ("trained", "found"), "datasets": ("built", "found"),
             "interpret": ("computed", "found")}  # fmt: skip
    for folder, marker in _ARTIFACTS.items():
        root = ctx.run_dir / folder
        if not root.is_dir():
            paths = []
        elif marker is None:
            paths = [p for p in root.iterdir() if not p.name.startswith(".")]
        else:
            paths = list(root.rglob(marker))
        new = sum(p.stat().st_mtime >= ctx.started for p in paths)
        what = "caches" if folder == "interpret" else folder
        made, found = names[folder]
        out[f"chapter_{what}_{made}"] = new
        out[f"chapter_{what}_{found}"] = len(paths) - new
    return out
