"""``chromtransfer stage``: one unit of the book (a training unit, a chapter, the HTML build).

What a workflow engine calls for each independent unit (``workflow/Snakefile``): the units of
:func:`chromtransfer_lib.book.stages.jobs.workflow_units` run through the book's own resumable
stages in the run directory ``make book`` uses, chapters through the book's runner. Each call
writes, when it succeeds, a small JSON file (``--done``) that the engine tracks. See
ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

from chromtransfer_lib.cli.common import HelpFormatter, UsageError, add_profile_option

#: The units ``stage`` runs: the training units, then ``chapter`` and ``html``.
UNITS = ("world", "pretrain", "line", "multiclass", "bootstrap", "chapter", "html")


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected i/n (e.g. 3/12), got {text!r}") from None
    if not 1 <= i <= n:
        raise argparse.ArgumentTypeError(f"shard {text!r}: i must be in 1..n")
    return i - 1, n


def _job(args: argparse.Namespace):
    from chromtransfer_lib.models.parallel import Job

    need = {"pretrain": ("fold",), "line": ("line", "kind", "fold"), "bootstrap": ("shard",)}
    missing = [f"--{k}" for k in need.get(args.unit, ()) if getattr(args, k) is None]
    if missing:
        raise UsageError(f"stage {args.unit} needs {', '.join(missing)}")
    return Job(args.unit, tuple((k, getattr(args, k)) for k in need.get(args.unit, ())))


def _single_threaded_like_the_book(profile) -> None:
    """Training units that the book runs on its single-threaded workers run single-threaded
    here too, so that their models are the book's to the last bit."""
    from chromtransfer_lib.models.parallel import resolve_workers

    if resolve_workers(profile.workers, 2) > 1:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def _cmd_stage(args: argparse.Namespace) -> int:
    from chromtransfer_lib.book.runner import build_html, find_repo_root, run_book
    from chromtransfer_lib.book.stages import RunContext
    from chromtransfer_lib.book.stages.jobs import WORKER_UNITS, run_unit, unit_id
    from chromtransfer_lib.config import load_profile
    from chromtransfer_lib.fileio import write_json_atomic

    t0 = time.perf_counter()
    prof = load_profile(args.profile)
    run_dir = args.run_dir or find_repo_root() / "runs" / prof.name
    if args.unit == "chapter":
        if args.chapter is None:
            raise UsageError("stage chapter needs --chapter (e.g. 03 or 03_finetuning)")
        run_book(profile=args.profile, run_dir=run_dir, chapters=[args.chapter], html=False,
                 progress=not args.quiet)  # fmt: skip
        name = f"chapter-{args.chapter}"
    elif args.unit == "html":
        build_html(find_repo_root())
        name = "html"
    else:
        job = _job(args)
        if job.kind in WORKER_UNITS:
            _single_threaded_like_the_book(prof)
        ctx = RunContext.create(args.profile, run_dir)
        run_unit(ctx, job)
        name = unit_id(job)
    seconds = time.perf_counter() - t0
    print(f"{name}: done in {seconds:.1f} s")
    if args.done is not None:
        write_json_atomic(args.done, {
            "unit": name, "profile": prof.name, "run_dir": str(Path(run_dir).resolve()),
            "seconds": round(seconds, 1),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        })  # fmt: skip
    return 0


def add_stage(sub: argparse._SubParsersAction) -> None:
    """Register ``stage`` on ``sub``."""
    p = sub.add_parser(
        "stage",
        formatter_class=HelpFormatter,
        help="run one unit of the book (for workflow engines: workflow/Snakefile)",
        description=(
            "Run one independent unit of the book in its run directory, through the same "
            "resumable stages as `chromtransfer book`: world (the inputs and datasets), "
            "pretrain --fold K, line --line L --kind finetune|scratch --fold K, multiclass, "
            "bootstrap --shard I/N (one Table 1 grid unit), chapter --chapter NN (execute one "
            "chapter; its training is then already done) or html (build the HTML book from the "
            "executed chapters). A unit that is done returns at once. workflow/Snakefile calls "
            "this for every unit, so a cluster runs the book's units as separate jobs."
        ),
        epilog="example:\n\n  chromtransfer stage line --line HepG2 --kind finetune --fold 0 "
        "--profile paper --run-dir runs/paper",
    )
    p.add_argument("unit", choices=UNITS, help="the unit to run")
    add_profile_option(p, role="the sizes and recipes of every stage")
    p.add_argument("--run-dir", type=Path, default=None, help="artifacts folder (runs/<profile>)")
    p.add_argument("--fold", type=int, default=None, help="cross-validation fold (pretrain, line)")
    p.add_argument("--line", default=None, help="cell line (line)")
    p.add_argument("--kind", choices=("finetune", "scratch"), default=None, help="model (line)")
    p.add_argument("--shard", type=_shard, default=None, help="grid unit I of N (bootstrap)")
    p.add_argument("--chapter", default=None, help="chapter number or name (chapter)")
    p.add_argument("--done", type=Path, default=None, help="JSON file written on success")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_stage)
