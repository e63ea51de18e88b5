"""``chromtransfer pack-run`` and ``chromtransfer fetch runs``: pre-computed runs for workshops.

A teacher packs a finished run directory into a checksummed archive; learners fetch it (from
its ``data_manifest/runs.yaml`` entry or a mirror) and unpack it into their run directory, so
chapters open without training. The work is :mod:`chromtransfer_lib.book.run_archive`; this
module parses the options. See ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from chromtransfer_lib.cli.common import HelpFormatter, UsageError, add_profile_option
from chromtransfer_lib.config import DEFAULT_PROFILE


def _cmd_pack_run(args: argparse.Namespace) -> int:
    from chromtransfer_lib.book.run_archive import archive_name, pack_run
    from chromtransfer_lib.book.runner import default_run_dir
    from chromtransfer_lib.config import load_profile

    name = load_profile(args.profile).name
    run_dir = args.run_dir if args.run_dir is not None else default_run_dir(name)
    packed = pack_run(run_dir, args.out, profile=args.profile)
    m = packed.manifest
    print(f"archive   {packed.archive}")
    print(f"sha256    {packed.sha256}")
    print(f"size      {packed.size} bytes ({m['files']} files, {m['bytes']} bytes unpacked)")
    print(f"checksum  {packed.checksum_file} (sha256sum -c reads it)")
    for item in m["left_out"]:
        print(f"left out  {item}")
    print(
        f"\nLearners: put it at <mirror>/runs/{archive_name(name)} (a folder or HTTPS URL) and run"
        f"\n  chromtransfer fetch runs --profile {args.profile} --mirror <mirror> "
        f"--sha256 {packed.sha256}"
    )
    return 0


def add_pack_run(sub: argparse._SubParsersAction) -> None:
    """Register ``chromtransfer pack-run``."""
    p = sub.add_parser(
        "pack-run",
        help="pack a finished run directory into a checksummed archive (for workshops)",
        description="Pack a finished book run (runs/<profile>) into run-<profile>.tar.gz: the "
        "world, datasets, models, cached interpretation arrays and tables, with a manifest "
        "(profile, its hash, library version, file count). The same run packs to the same "
        "bytes. Prints the sha256 and writes it to <archive>.sha256 (sha256sum format). "
        "Learners unpack it with `chromtransfer fetch runs`.",
        formatter_class=HelpFormatter,
    )
    add_profile_option(p, role="the profile the run was made with")
    p.add_argument("--run-dir", type=Path, default=None, help="the run (default runs/<profile>)")
    p.add_argument(
        "--out", type=Path, default=None, help="archive (default <run-dir>/../run-<profile>.tar.gz)"
    )
    p.set_defaults(func=_cmd_pack_run)


def add_fetch_runs_options(p: argparse.ArgumentParser) -> None:
    """The options of ``chromtransfer fetch runs`` (on the ``fetch`` parser)."""
    g = p.add_argument_group(
        "fetch runs --profile P",
        "download a pre-computed run (data_manifest/runs.yaml, or --mirror with --sha256) and "
        "unpack it into the run directory, so chapters open without training",
    )
    add_profile_option(g, role="whose run to fetch")
    g.add_argument("--run-dir", type=Path, default=None, help="default runs/<profile>")
    g.add_argument("--sha256", default=None, help="the archive's sha256 (what pack-run printed)")
    g.add_argument("--force", action="store_true", help="replace a non-empty run directory")


@contextlib.contextmanager
def _download_chatter_muted(muted: bool) -> Iterator[None]:
    """Without ``-v``, pooch's and the manifest's per-file INFO lines are left out, so that an
    offline fetch prints its one error line only (and a good one the summary)."""
    import pooch

    def warnings_only(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING

    # a filter, not setLevel: pooch's logger is not registered with logging, so a new level
    # would not reach the level cache it has already filled
    loggers = [pooch.get_logger(), logging.getLogger("chromtransfer_lib.data.manifest")]
    for lg in loggers if muted else ():
        lg.addFilter(warnings_only)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(warnings_only)


def fetch_runs_hook(args: argparse.Namespace) -> int | None:
    """Run ``fetch runs`` and return its exit status; ``None`` for any other ``fetch``."""
    run_options = {"--profile": args.profile != DEFAULT_PROFILE, "--run-dir": args.run_dir}
    run_options |= {"--sha256": args.sha256, "--force": args.force}
    if args.names[:1] != ["runs"]:
        given = [opt for opt, value in run_options.items() if value]
        if given:
            raise UsageError(f"only `fetch runs` takes {', '.join(given)}")
        return None
    if len(args.names) > 1 or args.all or args.status:
        raise UsageError("`fetch runs` takes no other names, --all or --status")
    from chromtransfer_lib.book.run_fetch import fetch_run

    profile = args.profile
    with _download_chatter_muted(not getattr(args, "verbose", False)):
        result = fetch_run(
            profile,
            run_dir=args.run_dir,
            mirror=args.mirror,
            sha256=args.sha256,
            cache_dir=args.cache_dir,
            force=args.force,
            progress=not args.quiet,
        )
    m = result.manifest
    print(f"unpacked the {m['profile']} run ({m['files']} files) into {result.run_dir}")
    if not result.profile_matches:
        print(
            "note: this checkout's profile differs from the one the run was made with; "
            "chapters recompute what the changed settings key"
        )
    print(f"open a chapter on it: chromtransfer book --profile {profile} --chapter 06", end="")
    print(f" --run-dir {result.run_dir}" if args.run_dir is not None else "")
    return 0
