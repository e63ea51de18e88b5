"""The paper's path in miniature: mirror → ``chromtransfer fetch --all`` → ``chromtransfer book``.

The GPU workflow (``.github/workflows/book-gpu.yml``) runs ``chromtransfer fetch --all`` and
then the book at the ``paper`` profile. Here the same two commands run, as subprocesses, on the
paper's inputs in miniature (:mod:`paper_miniature`: the published formats, a few Mb, served by
a local HTTPS mirror through ``$CHROMTRANSFER_MIRROR``, with their checksums in a manifest
override through ``$CHROMTRANSFER_MANIFEST``), at a profile derived from ``paper`` with tiny
widths and two epochs. The book test is ``slow`` (7 minutes on an idle 2-core machine, 12 on a
busy one); ``.ci/run`` runs it as its own step (``make test-paper-mini``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from paper_miniature import (
    https_mirror,
    write_manifest_override,
    write_miniature_mirror,
    write_miniature_profile,
)

from chromtransfer_lib.book.results import load_metrics
from chromtransfer_lib.config import CELL_LINES, load_profile
from chromtransfer_lib.data import manifest as mf
from chromtransfer_lib.data import paper as pdm

CLI = Path(sys.executable).with_name("chromtransfer")


def _env(mirror_url: str, cert: Path, cache: Path, manifest_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        mf.MIRROR_ENV: mirror_url,
        mf.DATA_ENV: str(cache),
        mf.MANIFEST_ENV: str(manifest_dir),
        "REQUESTS_CA_BUNDLE": str(cert),  # trust the mirror's self-signed certificate
        "NO_PROXY": "127.0.0.1,localhost",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    )
    return proc


@pytest.fixture(scope="module")
def miniature(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("paper_miniature")
    mirror = write_miniature_mirror(tmp / "mirror")
    return tmp, mirror, write_manifest_override(mirror, tmp / "manifest")


def test_miniature_inputs_fetch_and_prepare_like_the_paper(miniature, monkeypatch) -> None:
    """`chromtransfer fetch --all` through the HTTPS mirror takes every policy's path (pinned,
    published md5, first use), and the prepared world holds what the mirror served."""
    tmp, mirror, manifest_dir = miniature
    cache = tmp / "fetch-cache"
    entries = mf.load_manifest(manifest_dir)
    assert {e.checksum_policy for e in entries} == {"pinned", "published", "tofu"}
    assert [(e.name, e.url, e.path) for e in entries] == [
        (e.name, e.url, e.path) for e in mf.load_manifest()
    ]  # only checksums and sizes differ from data_manifest/
    with https_mirror(mirror.root, tmp / "tls-fetch") as srv:
        env = _env(srv.url, srv.cert, cache, manifest_dir)
        _run([str(CLI), "fetch", "--all", "--quiet"], env=env)
        served = sorted(srv.requests)
        _run([str(CLI), "fetch", "--all", "--quiet"], env=env)  # cached: verified, no download
        assert sorted(srv.requests) == served
    assert served == sorted(f"/{p}" for p in mirror.files)
    lock = mf.read_lock(cache / mf.LOCK_NAME)
    assert {k: v["policy"] for k, v in lock.items()} == {
        "encode-rdhs": "tofu", "ucsc-gap": "tofu",
        "encode-blacklist": "published", "hg38-fasta": "published",
    }  # fmt: skip
    assert lock["hg38-fasta"]["published"].startswith("md5:")
    status = mf.status(entries=entries, cache_dir=cache)
    assert (status["state"] == "present").all() and status["verified"].all()

    monkeypatch.setenv(mf.MANIFEST_ENV, str(manifest_dir))
    paths = mf.fetch("all", cache_dir=cache, mirror=tmp / "nowhere", progress=False)
    world = pdm.prepare_paper_world(pdm.paper_inputs(paths), tmp / "world")
    assert {k: world.counts[k] for k in mirror.counts} == mirror.counts
    assert world.counts["accessible_six_lines"] > 0
    genome = world.genome_fasta.read_text()
    assert any(c.islower() for c in genome[:200_000]) and "NNNNNNNNNN" in genome
    assert ">chrUn_KI270302v1" in genome and ">chrM" in genome


@pytest.mark.slow
@pytest.mark.notebook
def test_paper_book_from_mirror_miniature(miniature, copy_book) -> None:
    """The GPU workflow's commands, at a miniature of the paper profile, to rendered HTML."""
    tmp, mirror, manifest_dir = miniature
    profile = write_miniature_profile(tmp / "paper-miniature.yaml")
    prof = load_profile(profile)
    assert prof.data.source == "paper" and prof.data.seq_len == 600
    root = copy_book(tmp / "book_root")
    run_dir, cache = tmp / "run", tmp / "cache"
    t0 = time.perf_counter()
    with https_mirror(mirror.root, tmp / "tls") as srv:
        env = _env(srv.url, srv.cert, cache, manifest_dir)
        _run([str(CLI), "fetch", "--all", "--quiet"], env=env, cwd=root)
        n_fetched = len(srv.requests)
        book = _run(
            [str(CLI), "book", "--profile", str(profile), "--run-dir", str(run_dir), "--quiet"],
            env=env,
            cwd=root,
        )
        assert len(srv.requests) == n_fetched  # the book found every input in the cache
    seconds = time.perf_counter() - t0
    print(book.stdout)
    print(f"paper miniature: fetch + book in {seconds:.0f} s")

    chapters = sorted(p.stem for p in (root / "notebooks").glob("[0-9][0-9]_*.py"))
    timings = pd.read_csv(run_dir / "book_timings.csv")
    assert set(chapters) | {"html_build"} == set(timings["chapter"])
    html = root / "_build" / "html"
    assert (html / "index.html").is_file()
    for name in chapters:
        nb = nbformat.read(root / "book" / "chapters" / f"{name}.ipynb", as_version=4)
        errors = [
            o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o.get("output_type") == "error"
        ]  # fmt: skip
        assert not errors, f"{name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
        page = html / "book" / "chapters" / f"{name}.html"
        assert page.is_file(), page
        assert "Traceback" not in page.read_text(), f"{name} rendered an exception"

    paperdata = json.loads((run_dir / "world" / "paper" / "paperdata.json").read_text())
    assert {k: paperdata["counts"][k] for k in mirror.counts} == mirror.counts
    ledger = pd.read_csv(run_dir / "ledger.csv")
    assert len(ledger) > 0
    metrics = {p.stem for p in (run_dir / "metrics").glob("*.json")}
    assert {"01_data", "02_pretraining", "03_finetuning"} <= metrics
    merged = load_metrics(run_dir)
    for line in CELL_LINES:
        assert 0 <= merged[f"finetune.{line}.test.auroc"] <= 1
