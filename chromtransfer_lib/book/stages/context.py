"""A chapter's run context: the loaded profile and the run directory its artifacts live in."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from chromtransfer_lib.config import ConfigError, Profile, load_profile


@dataclass(frozen=True)
class RunContext:
    """A loaded profile and the directory its artifacts live in."""

    profile: Profile
    run_dir: Path

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
