"""Pre-computed runs: ``pack-run`` archives, their checksum, safe unpacking, ``fetch runs``
from a local HTTPS mirror, and the one-line offline error.

These run on a small hand-made run directory (the smoke profile's folder names, a few bytes per
file). That a packed *finished* smoke run opens a late chapter without training is checked on
the smoke book itself, in ``tests/test_smoke_book.py`` (which builds the book once).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from paper_miniature import https_mirror

from chromtransfer_lib.book import run_archive as ra
from chromtransfer_lib.book import run_fetch as rf
from chromtransfer_lib.book.stages.world import world_folder
from chromtransfer_lib.cli.main import main
from chromtransfer_lib.config import load_profile
from chromtransfer_lib.data import manifest as mf

CLI = Path(sys.executable).with_name("chromtransfer")

#: Files a chapter reads (kept), relative to the run directory; the world's folder is added.
KEPT = {
    "datasets/pretrain-0123/codes.npy": bytes(range(256)) * 8,
    "datasets/pretrain-0123/provenance.json": b'{"files": {}}\n',
    "models/finetune-HepG2-abcd/fold_0/model.keras": b"keras" * 300,
    "models/finetune-HepG2-abcd/fold_0/test_proba.npy": b"proba" * 20,
    "models/finetune-HepG2-abcd/fold_0/history.csv": b"epoch,loss\n0,0.69\n",
    "interpret/regions-0123/codes.npy": b"\x00\x01\x02\x03" * 50,
    "metrics/06_attribution.json": b"{}\n",
    "ledger.csv": b"claim,holds\n",
    "book_timings.csv": b"chapter,seconds\n01_data,1.0\n",
}
#: What stays out, and why (the manifest's ``left_out``).
LEFT_OUT = [
    "book_timings.tmp (temporary or lock file)",
    "datasets/.sha256-cache.json (sha256 sums keyed by this machine's absolute paths)",
    "models/.fold_1.tmp-4242/ (temporary or lock file)",
    "notebooks/ (executed notebooks of a batch run)",
    "world/cache-link (a link to /etc/hostname: not portable)",
    "x.lock (temporary or lock file)",
]


def _fake_run(root: Path, profile: str = "smoke") -> Path:
    """A run directory of ``profile`` with :data:`KEPT` and one file of each left-out kind."""
    run = root / "run"
    world = world_folder(load_profile(profile), run).relative_to(run).as_posix()
    files = {**KEPT, f"{world}/genome.fa": b">chr1\nACGTN\n", f"{world}/world.json": b"{}\n"}
    files |= {
        "book_timings.tmp": b"half",
        "datasets/.sha256-cache.json": b'{"/abs/path": {}}',
        "models/.fold_1.tmp-4242/model.keras": b"partial",
        "notebooks/01_data.ipynb": b"{}",
        "x.lock": b"",
    }
    for rel, data in files.items():
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_bytes(data)
    (run / "world" / "cache-link").symlink_to("/etc/hostname")
    return run


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _kept(run: Path) -> dict[str, bytes]:
    return {k: v for k, v in _tree(run).items() if k in ra.archive_members(run).files}


def test_pack_is_deterministic_and_its_checksum_file_verifies(tmp_path: Path) -> None:
    run = _fake_run(tmp_path)
    one = ra.pack_run(run, tmp_path / "one" / "run-smoke.tar.gz", profile="smoke")
    for p in run.rglob("*"):  # other mtimes (a copy, a later day): the same bytes
        if p.is_file() and not p.is_symlink():
            os.utime(p, (1e9, 1e9))
    two = ra.pack_run(run, tmp_path / "two" / "run-smoke.tar.gz", profile="smoke")
    assert one.archive.read_bytes() == two.archive.read_bytes() and one.sha256 == two.sha256
    assert one.sha256 == hashlib.sha256(one.archive.read_bytes()).hexdigest()
    assert one.checksum_file.read_text() == f"{one.sha256}  run-smoke.tar.gz\n"
    assert ra.read_checksum_file(one.checksum_file) == one.sha256
    if shutil.which("sha256sum"):
        subprocess.run(["sha256sum", "-c", one.checksum_file.name], cwd=one.archive.parent,
                       check=True, capture_output=True)  # fmt: skip

    with tarfile.open(one.archive) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names[0] == "run/run-archive.json" and names[1:] == sorted(names[1:])
    assert {n.removeprefix("run/") for n in names[1:]} == set(_kept(run))
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {
        (ra.ARCHIVE_MTIME, 0, 0, "", "", 0o644)
    }
    prof = load_profile("smoke")
    manifest = ra.read_archive_manifest(one.archive)
    assert manifest == one.manifest
    assert manifest["profile"] == "smoke" and manifest["profile_hash"] == prof.config_hash()
    assert manifest["files"] == len(KEPT) + 2 and manifest["created_from"]["run_dir"] == "run"
    assert manifest["bytes"] == sum(len(v) for v in _kept(run).values())
    assert manifest["left_out"] == LEFT_OUT


def test_pack_run_command_prints_the_checksum_and_how_learners_fetch(tmp_path, capsys) -> None:
    run = _fake_run(tmp_path)
    out = tmp_path / "dist" / "run-smoke.tar.gz"
    assert main(["pack-run", "--profile", "smoke", "--run-dir", str(run), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    sha = ra.read_checksum_file(ra.checksum_path(out))
    assert f"sha256    {sha}" in printed and f"archive   {out}" in printed
    assert f"--mirror <mirror> --sha256 {sha}" in printed and "runs/run-smoke.tar.gz" in printed
    assert printed.count("left out  ") == len(LEFT_OUT)
    assert main(["pack-run", "--profile", "quick", "--run-dir", str(run)]) == 2
    assert "holds no run of profile 'quick'" in capsys.readouterr().err


def test_pack_refuses_a_run_of_another_profile_or_an_archive_inside_it(tmp_path: Path) -> None:
    run = _fake_run(tmp_path)
    with pytest.raises(ra.RunArchiveError, match=r"no run of profile 'quick' \(no world/"):
        ra.pack_run(run, tmp_path / "a.tar.gz", profile="quick")
    with pytest.raises(ra.RunArchiveError, match="must not be written inside the run"):
        ra.pack_run(run, run / "a.tar.gz", profile="smoke")
    with pytest.raises(ra.RunArchiveError, match="does not exist; run the book first"):
        ra.pack_run(tmp_path / "nowhere", profile="smoke")


def test_unpack_verifies_the_checksum_and_refuses_a_tampered_archive(tmp_path: Path) -> None:
    run = _fake_run(tmp_path)
    packed = ra.pack_run(run, tmp_path / "run-smoke.tar.gz", profile="smoke")
    data = bytearray(packed.archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered = tmp_path / "tampered.tar.gz"
    tampered.write_bytes(bytes(data))
    target = tmp_path / "learner"
    with pytest.raises(mf.ChecksumMismatchError, match="nothing was unpacked"):
        ra.unpack_run(tampered, target, sha256=packed.sha256)
    assert not target.exists()

    got = ra.unpack_run(packed.archive, target, sha256=packed.sha256, profile="smoke")
    assert got.profile_matches and got.manifest == packed.manifest
    tree = _tree(target)
    assert json.loads(tree.pop("run-archive.json")) == packed.manifest
    assert tree == _kept(run)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["run", "run-smoke.tar.gz", "run-smoke.tar.gz.sha256", "tampered.tar.gz", "learner"]
    )  # no temporary folder left beside the run directory
    with pytest.raises(ra.RunArchiveError, match="holds a run of profile 'smoke', not 'quick'"):
        ra.unpack_run(packed.archive, tmp_path / "q", sha256=packed.sha256, profile="quick")


def test_unpack_refuses_a_non_empty_run_dir_unless_forced(tmp_path: Path) -> None:
    packed = ra.pack_run(_fake_run(tmp_path), tmp_path / "a.tar.gz", profile="smoke")
    target = tmp_path / "learner"
    (target / "models").mkdir(parents=True)
    (target / "models" / "mine.keras").write_bytes(b"mine")
    with pytest.raises(ra.RunDirNotEmptyError, match=r"not empty .*pass --force"):
        ra.unpack_run(packed.archive, target, sha256=packed.sha256)
    assert _tree(target) == {"models/mine.keras": b"mine"}
    ra.unpack_run(packed.archive, target, sha256=packed.sha256, force=True)
    assert "models/mine.keras" not in _tree(target)
    assert _tree(target)["ledger.csv"] == KEPT["ledger.csv"]
    (tmp_path / "empty").mkdir()  # an empty folder is not in the way
    ra.unpack_run(packed.archive, tmp_path / "empty", sha256=packed.sha256)


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, 4 if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize(
    "member",
    [
        _member("../evil"),
        _member("/tmp/evil"),
        _member("run/../../evil"),
        _member("elsewhere/evil"),
        _member("run/evil", tarfile.SYMTYPE, "/etc/passwd"),
        _member("run/evil", tarfile.SYMTYPE, "../../evil"),
        _member("run/evil", tarfile.LNKTYPE, "/etc/passwd"),
        _member("run/evil", tarfile.FIFOTYPE),
    ],
    ids=["parent", "absolute", "climbs-out", "outside-run", "abs-link", "rel-link",
         "hardlink", "fifo"],
)  # fmt: skip
def test_unsafe_members_are_refused_and_nothing_is_written(tmp_path, member) -> None:
    archive = tmp_path / "a.tar.gz"
    blob = json.dumps({"format": ra.ARCHIVE_FORMAT, "profile": "smoke"}).encode()
    with tarfile.open(archive, "w:gz") as tar:
        tar.addfile(_info(blob), io.BytesIO(blob))
        tar.addfile(member, io.BytesIO(b"evil") if member.isfile() else None)
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    with pytest.raises(ra.UnsafeArchiveError, match="nothing was unpacked"):
        ra.unpack_run(archive, tmp_path / "learner", sha256=sha)
    assert [p.name for p in tmp_path.iterdir()] == ["a.tar.gz"]


def _info(blob: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(f"run/{ra.MANIFEST_NAME}")
    info.size = len(blob)
    return info


def test_not_a_run_archive_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.addfile(_member("run/models/x"), io.BytesIO(b"xxxx"))
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    with pytest.raises(ra.RunArchiveError, match=r"first member is not run/run-archive\.json"):
        ra.unpack_run(archive, tmp_path / "learner", sha256=sha)
    (tmp_path / "b.tar.gz").write_bytes(b"not gzip")
    sha = hashlib.sha256(b"not gzip").hexdigest()
    with pytest.raises(ra.RunArchiveError, match=r"not a readable tar\.gz"):
        ra.unpack_run(tmp_path / "b.tar.gz", tmp_path / "learner", sha256=sha)
    assert not (tmp_path / "learner").exists()


def _runs_manifest(folder: Path, packed: ra.PackedRun, url: str) -> Path:
    """A manifest override holding the smoke run's entry (the smoke world needs no data)."""
    folder.mkdir(parents=True)
    entry = {
        "name": "run-smoke", "url": url, "path": "runs/run-smoke.tar.gz",
        "sha256": packed.sha256, "size": packed.size, "license": "GPL-3.0-or-later",
        "citation": "test", "used_by": ["tests"], "description": "the smoke run",
    }  # fmt: skip
    (folder / "runs.yaml").write_text(yaml.safe_dump({"kind": "runs", "entries": [entry]}))
    return folder


def test_fetch_runs_from_a_local_https_mirror(tmp_path, monkeypatch, capsys) -> None:
    run = _fake_run(tmp_path / "teacher")
    mirror = tmp_path / "mirror"
    packed = ra.pack_run(run, mirror / "runs" / "run-smoke.tar.gz", profile="smoke")
    monkeypatch.delenv(mf.MIRROR_ENV, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with https_mirror(mirror, tmp_path / "tls") as srv:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(srv.cert))
        # the published way: a manifest entry (here an override) with the pinned checksum
        url = f"{srv.url}/runs/run-smoke.tar.gz"
        monkeypatch.setenv(mf.MANIFEST_ENV, str(_runs_manifest(tmp_path / "mf", packed, url)))
        one = tmp_path / "learner1"
        got = rf.fetch_run("smoke", run_dir=one, cache_dir=tmp_path / "c1", progress=False)
        assert got.run_dir == one and got.profile_matches
        assert srv.requests == ["/runs/run-smoke.tar.gz"]
        assert (tmp_path / "c1" / "runs" / "run-smoke.tar.gz").read_bytes() == (
            packed.archive.read_bytes()
        )  # kept in the data cache: a re-fetch is offline
        monkeypatch.delenv(mf.MANIFEST_ENV)

        # the workshop way: no entry, the teacher's mirror and the checksum pack-run printed
        two = tmp_path / "learner2"
        cmd = ["fetch", "runs", "--profile", "smoke", "--mirror", srv.url, "--sha256",
               packed.sha256, "--run-dir", str(two), "--cache-dir", str(tmp_path / "c2"),
               "--quiet"]  # fmt: skip
        assert main(cmd) == 0
        out = capsys.readouterr().out
        assert f"unpacked the smoke run ({len(KEPT) + 2} files) into {two}" in out
        assert _tree(two) == _tree(one)
        assert main(cmd) == 2  # not over a non-empty run directory ...
        assert "pass --force" in capsys.readouterr().err
        assert len(srv.requests) == 2  # ... and refused before downloading
        (two / "ledger.csv").write_text("changed")
        assert main([*cmd, "--force"]) == 0
        assert _tree(two) == _tree(one) and len(srv.requests) == 2  # from the cache, verified
        wrong = ["--sha256", "0" * 64, "--run-dir", str(tmp_path / "learner3")]
        assert main([*cmd[:6], *wrong, "--cache-dir", str(tmp_path / "c3"), "--quiet"]) == 2
        assert "does not match" in capsys.readouterr().err
        assert not (tmp_path / "learner3").exists()


def test_fetch_runs_without_an_archive_or_a_network_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed: offline
    packed = ra.pack_run(_fake_run(tmp_path), tmp_path / "a.tar.gz", profile="smoke")
    override = _runs_manifest(tmp_path / "mf", packed, f"https://127.0.0.1:{port}/r.tar.gz")
    env = {k: v for k, v in os.environ.items() if k not in (mf.MIRROR_ENV, mf.MANIFEST_ENV)}
    env[mf.DATA_ENV] = str(tmp_path / "cache")
    base = [str(CLI), "fetch", "runs", "--profile", "smoke", "--run-dir", str(tmp_path / "r")]
    for extra_env, expected in (
        ({}, "no published run archive for profile 'smoke'"),
        ({mf.MANIFEST_ENV: str(override)}, "could not download https://127.0.0.1:"),
    ):
        proc = subprocess.run(base, env={**env, **extra_env}, capture_output=True, text=True,
                              timeout=120, check=False)  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        errors = [ln for ln in lines if ln.startswith("chromtransfer fetch: error: ")]
        assert len(errors) == 1 and expected in errors[0], proc.stderr
        others = [ln for ln in lines if ln not in errors]  # only the override's own notice
        assert all(f"manifest from {mf.MANIFEST_ENV}" in ln for ln in others), proc.stderr
        assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert "(no connection); offline? point --mirror" in errors[0]
    assert not (tmp_path / "r").exists() and not list((tmp_path / "cache").rglob("*.tar.gz"))


def test_a_runs_manifest_entry_must_pin_its_checksum(tmp_path: Path) -> None:
    folder = tmp_path / "mf"
    folder.mkdir()
    entry = {"name": "run-smoke", "url": "https://example.org/r.tar.gz", "size": None,
             "path": "runs/run-smoke.tar.gz", "trust_on_first_use": True, "license": "x",
             "citation": "x", "used_by": ["x"], "description": "x"}  # fmt: skip
    (folder / "runs.yaml").write_text(yaml.safe_dump({"kind": "runs", "entries": [entry]}))
    with pytest.raises(mf.ManifestError, match="a run archive must pin its sha256"):
        mf.load_manifest(folder, kind="runs")
    assert mf.load_manifest(kind="runs") == []  # none published yet: no entry, no fake checksum
    assert all(e.kind == "data" for e in mf.load_manifest())  # fetch --all never sees runs
