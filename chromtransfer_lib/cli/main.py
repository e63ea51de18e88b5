"""``chromtransfer`` — the book's stages from a terminal.

Each sub-command is a thin wrapper over library functions; ``chromtransfer <cmd> --help``
documents every option. Bad input (a :class:`chromtransfer_lib.errors.InputError`) is printed
as one line, ``chromtransfer <cmd>: error: <message>``, with exit status 2; any other exception
is a bug and keeps its traceback (ARCHITECTURE.md, "Errors").
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from chromtransfer_lib import __version__
from chromtransfer_lib.cli.common import add_profile_option
from chromtransfer_lib.config import DEFAULT_PROFILE
from chromtransfer_lib.errors import InputError

log = logging.getLogger("chromtransfer")

Handler = Callable[[argparse.Namespace], int]


def _cmd_book(args: argparse.Namespace) -> int:
    from chromtransfer_lib.book.runner import run_book
    from chromtransfer_lib.cli.quiet import kernels_quiet

    with kernels_quiet(verbose=args.verbose):  # the chapters' kernels import TensorFlow too
        result = run_book(
            profile=args.profile,
            run_dir=args.run_dir,
            chapters=args.chapter or None,
            html=not args.no_html,
            progress=not args.quiet,
        )
    for ch in result.chapters:
        print(f"  {ch.name:<32s} {ch.seconds:7.1f} s")
    if result.index_html is not None:
        print(f"  {'html build':<32s} {result.build_seconds:7.1f} s")
        print(f"\nThe book is at {result.index_html}")
        print(f"Open it with:  python -m webbrowser file://{result.index_html}")
    ledger = result.run_dir / "ledger.csv"
    if ledger.is_file():
        print(f"Reproduction ledger: {ledger}")
    print(f"Run artifacts: {result.run_dir}")
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    from chromtransfer_lib.config import load_profile

    prof = load_profile(args.profile)
    print(json.dumps(prof.to_dict(), indent=2))
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from chromtransfer_lib.cli.doctor import format_report, run_doctor

    report = run_doctor(
        cache_dir=args.cache_dir,
        require_gpu=args.require_gpu,
        verify_checksums=args.verify,
    )
    print(format_report(report))
    return report.exit_code


def _cmd_fetch(args: argparse.Namespace) -> int:
    from chromtransfer_lib.cli.runs import fetch_runs_hook
    from chromtransfer_lib.data import manifest

    if (status := fetch_runs_hook(args)) is not None:  # `fetch runs --profile P`
        return status
    if args.status:
        table = manifest.status(args.names or "all", cache_dir=args.cache_dir)
        print(table.drop(columns=["expected_sha256"]).to_string(index=False))
        return 0 if (table["state"] == "present").all() else 1
    if not args.all and not args.names:
        print("chromtransfer fetch: name files to fetch, or --all (see --status)", file=sys.stderr)
        return 2
    paths = manifest.fetch(
        "all" if args.all else args.names,
        cache_dir=args.cache_dir,
        mirror=args.mirror,
        progress=not args.quiet,
    )
    for name, path in paths.items():
        print(f"{name}\t{path}")
    return 0


def _add_doctor(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor",
        help="check Python, TensorFlow, GPU visibility, the data cache and manifest files",
        description="Diagnose the installation: versions, whether a GPU is visible (and why "
        "not), the data cache location and free space, which manifest files are present.",
    )
    p.add_argument("--cache-dir", type=Path, default=None, help="data cache ($CHROMTRANSFER_DATA)")
    p.add_argument(
        "--require-gpu", action="store_true", help="fail (exit 1) when no GPU is visible"
    )
    p.add_argument("--verify", action="store_true", help="verify checksums of cached files")
    p.set_defaults(func=_cmd_doctor)


def _add_fetch(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fetch",
        help="download the paper's inputs (data_manifest/) into the data cache, with checksums",
        description="Download manifest entries into $CHROMTRANSFER_DATA (or --cache-dir), "
        "verifying checksums; partial files are never left behind. Offline sites can point "
        "--mirror (or $CHROMTRANSFER_MIRROR) at a directory or URL laid out like the cache. "
        "`fetch runs --profile P` fetches and unpacks a pre-computed book run instead.",
    )
    p.add_argument("names", nargs="*", help="manifest entry names (see --status), or `runs`")
    p.add_argument("--all", action="store_true", help="fetch every manifest entry")
    p.add_argument(
        "--status", action="store_true", help="show which files are present; no download"
    )
    p.add_argument("--cache-dir", type=Path, default=None, help="data cache ($CHROMTRANSFER_DATA)")
    p.add_argument("--mirror", default=None, help="mirror directory or URL ($CHROMTRANSFER_MIRROR)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    from chromtransfer_lib.cli.runs import add_fetch_runs_options

    add_fetch_runs_options(p)
    p.set_defaults(func=_cmd_fetch)


def _cmd_bootstrap(args: argparse.Namespace) -> int:
    from chromtransfer_lib.book import stages
    from chromtransfer_lib.models.grids import bootstrap_table, collect_units

    i, n = args.shard
    ctx = stages.RunContext.create(args.profile, args.run_dir)
    datasets = stages.ensure_datasets(ctx, stages.ensure_world(ctx))
    pre = stages.ensure_pretrained(ctx, datasets)
    done = stages.ensure_bootstrap(ctx, datasets, pre, shard=(i, n))
    print(f"shard {i}/{n}: {len(done)} units finished")
    units = collect_units(stages.bootstrap_dir(ctx))
    print(f"grid folder {stages.bootstrap_dir(ctx)}: {len(units)} units finished in all")
    if not units.empty:
        print(bootstrap_table(units).round(3).to_string(index=False))
    return 0


def _shard(text: str) -> tuple[int, int]:
    """``i/n`` → ``(i, n)`` with ``0 <= i < n``."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        i, n = -1, 0
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"must look like i/n with 0 <= i < n, got {text!r}")
    return i, n


def _add_bootstrap(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bootstrap",
        help="run (or resume) the Table 1 grid: fine-tuning on fractions of one line's data",
        description="Run the profile's bootstrap grid (fractions x repetitions, optionally the "
        "binary baseline too). Each unit is a resumable folder; finished units are skipped, so "
        "a killed run continues. --shard i/n runs every n-th unit (job arrays, several "
        "processes). Builds the world, datasets and pre-trained model first if missing.",
    )
    add_profile_option(p, role="the grid, recipe and world")
    p.add_argument("--run-dir", type=Path, default=None, help="artifacts folder (runs/<profile>)")
    p.add_argument(
        "--shard",
        type=_shard,
        default=(0, 1),
        help="i/n: run units i, i+n, i+2n, ... (default 0/1)",
    )
    p.set_defaults(func=_cmd_bootstrap)


def _cmd_calibrate(args: argparse.Namespace) -> int:
    import yaml

    from chromtransfer_lib.book.calibration import (
        CALIBRATION_COLUMNS,
        calibration_table,
        run_calibration,
    )
    from chromtransfer_lib.config import ConfigError

    if not args.grid.is_file():
        raise ConfigError(f"calibration grid {args.grid} does not exist")
    try:
        grid = yaml.safe_load(args.grid.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{args.grid}: not valid YAML: {err}") from err
    if not isinstance(grid, dict) or not isinstance(grid.get("settings"), dict):
        raise ConfigError(f"{args.grid}: expected a mapping with a 'settings' mapping")
    unknown = set(grid) - {"base", "out_dir", "seeds", "settings"}
    if unknown:
        raise ConfigError(f"{args.grid}: unknown key(s) {sorted(unknown)}")
    settings = grid["settings"]
    if args.setting:
        missing = set(args.setting) - set(settings)
        if missing:
            raise ConfigError(f"{args.grid}: no setting(s) {sorted(missing)}")
        settings = {k: settings[k] for k in args.setting}
    out_dir = Path(args.out_dir or grid.get("out_dir", "experiments/calibration"))
    runs = run_calibration(
        settings,
        seeds=args.seeds or grid.get("seeds", [1]),
        out_dir=out_dir,
        base=grid.get("base", DEFAULT_PROFILE),
    )
    cols = ["setting", "status", *CALIBRATION_COLUMNS]
    print(runs[[c for c in cols if c in runs]].round(3).to_string(index=False))
    if args.choose:
        table = calibration_table(runs, setting=args.choose)
        path = out_dir / "calibration.csv"
        table.to_csv(path, index=False)
        print(f"wrote {path}")
    return 0


def _add_calibrate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="run the book over settings x seeds and tabulate the calibration criteria",
        description="Calibration runner: every setting x seed of a grid YAML is one full book "
        "run (no HTML) at a derived profile; each becomes a row of <out_dir>/runs.csv with its "
        "metrics, wall time and the quick profile's five criteria. Resumable.",
    )
    p.add_argument("--grid", type=Path, default=Path("experiments/calibration_grid.yaml"))
    p.add_argument("--setting", action="append", help="run only this setting (repeatable)")
    p.add_argument("--seeds", type=int, nargs="+", help="seeds (default: the grid's)")
    p.add_argument("--out-dir", type=Path, default=None, help="default: the grid's out_dir")
    p.add_argument(
        "--choose", default=None, help="write calibration.csv for this setting (one row per seed)"
    )
    p.set_defaults(func=_cmd_calibrate)


def _add_book(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "book",
        help="run every chapter with papermill and build the HTML book",
        description="Execute notebooks/NN_*.py at a profile and render the book into _build/html.",
    )
    add_profile_option(p, role="the sizes and recipes of every stage")
    p.add_argument("--run-dir", type=Path, default=None, help="artifacts folder (runs/<profile>)")
    p.add_argument(
        "--chapter", action="append", help="run only this chapter (e.g. 03 or 03_finetuning)"
    )
    p.add_argument("--no-html", action="store_true", help="execute notebooks but skip the HTML")
    p.add_argument("--quiet", action="store_true", help="no per-cell progress bars")
    p.set_defaults(func=_cmd_book)


def _add_profile(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile", help="print a resolved profile as JSON")
    p.add_argument(
        "profile",
        nargs="?",
        default=DEFAULT_PROFILE,
        help=f"smoke | quick | paper | path/to/profile.yaml (default: {DEFAULT_PROFILE})",
    )
    p.set_defaults(func=_cmd_profile)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to test that every ``--help`` renders)."""
    parser = argparse.ArgumentParser(
        prog="chromtransfer",
        description="ChromTransfer: transfer learning of cell-type-specific chromatin "
        "accessibility from DNA sequence — the book's stages from a terminal.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_book, _add_profile, _add_doctor, _add_fetch, _add_bootstrap, _add_calibrate):
        add(sub)
    from chromtransfer_lib.cli.denovo import add_denovo
    from chromtransfer_lib.cli.own import add_own_data_commands
    from chromtransfer_lib.cli.runs import add_pack_run
    from chromtransfer_lib.cli.simulate import add_simulate
    from chromtransfer_lib.cli.stage import add_stage
    from chromtransfer_lib.cli.tracks import add_tracks
    from chromtransfer_lib.cli.variants import add_variants

    add_own_data_commands(sub)
    add_stage(sub)
    add_pack_run(sub)
    add_simulate(sub)
    add_variants(sub)
    add_tracks(sub)
    add_denovo(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``chromtransfer`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    from chromtransfer_lib.cli.quiet import quiet_tensorflow

    restore = quiet_tensorflow(verbose=args.verbose)  # before anything imports TensorFlow
    try:
        code = args.func(args)
        sys.stdout.flush()  # a reader gone (``| head``) shows here, inside the handler
        return code
    except InputError as err:  # bad input: one line; anything else is a bug (traceback)
        print(f"chromtransfer {args.command}: error: {_message(err)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of stdout has gone: stop quietly, as shell tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 141  # 128 + SIGPIPE: what a shell reports for a tool stopped by a closed pipe
    finally:
        restore()


def _message(err: InputError) -> str:
    """The error's message (a ``KeyError`` would print it quoted)."""
    if isinstance(err, KeyError) and len(err.args) == 1:
        return str(err.args[0])
    return str(err)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
