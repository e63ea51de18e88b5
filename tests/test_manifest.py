"""Manifest: validation, and downloads from a local HTTP server on 127.0.0.1 (never the network).

Every download test checks that nothing but completed, verified files (and the lock file) is
left in the cache: no partial or temporary file after a checksum mismatch, an interrupted
transfer or a refused connection.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from chromtransfer_lib.config import AUTHOR_SPELLING, CELL_LINES
from chromtransfer_lib.data import manifest as mf

GOOD = b"chr1:100-700,K562\nchr1:900-1500,K562_NEG\nchr2:50-650,Negative\n" * 50


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; paths in ``server.truncated`` send half the promised body, and
    paths in ``server.fail_once`` answer 503 to their first request."""

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        if self.path in self.server.fail_once:
            self.server.fail_once.discard(self.path)
            self.send_error(503)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if self.path in self.server.truncated:
            self.send_header("Content-Length", str(len(body) + 4096))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def server():
    srv = HTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.truncated, srv.fail_once, srv.requests = {}, set(), set(), []
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    srv.base = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused = offline)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _entry(name: str, url: str, path: str, **policy: object) -> dict:
    return {
        "name": name,
        "url": url,
        "path": path,
        "size": policy.pop("size", None),
        "license": "CC0",
        "citation": "test fixture",
        "used_by": ["tests"],
        "description": "a test file",
        **policy,
    }


def _manifest(tmp_path: Path, *entries: dict) -> list[mf.ManifestEntry]:
    d = tmp_path / "manifest"
    d.mkdir(exist_ok=True)
    (d / "test.yaml").write_text(yaml.safe_dump({"entries": list(entries)}))
    return mf.load_manifest(d, allow_http_loopback=True)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _fetch(entries, cache, **kw):
    return mf.fetch(
        "all",
        entries=entries,
        cache_dir=cache,
        progress=False,
        timeout=5,
        allow_http_loopback=True,
        **{"retries": 0, **kw},
    )


def _pinned(server, body=GOOD, served=None):
    server.files["/lab/K562.csv"] = body if served is None else served
    return _entry(
        "lab",
        server.base + "/lab/K562.csv",
        "labels/K562.csv",
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
    )


def test_shipped_manifest_is_complete_and_https_only():
    entries = mf.load_manifest()
    by_name = {e.name: e for e in entries}
    for split in ("train", "test"):
        for cell in CELL_LINES:
            e = by_name[f"labels-{split}-{cell}"]
            assert e.path == f"labels/{split}/{AUTHOR_SPELLING[cell]}.csv"
            assert e.url.endswith(
                f"/multiclass-baseline/data/raw/{split}/{AUTHOR_SPELLING[cell]}.csv"
            )
            assert e.checksum_policy == "pinned" and e.size > 100_000
    assert by_name["hg38-fasta"].checksum_source.format == "md5sum"
    assert by_name["encode-blacklist"].checksum_source.format == "encode-json"
    assert "ENCFF356LFX" in by_name["encode-blacklist"].url
    assert {by_name["encode-rdhs"].checksum_policy, by_name["ucsc-gap"].checksum_policy} == {"tofu"}
    assert len(entries) == 16
    for e in entries:
        assert e.url.startswith("https://") and e.license and e.citation and e.used_by
        if e.checksum_policy != "pinned":  # an unpinned file must say how it is checked
            assert e.note and e.expected_bytes


def test_good_file_is_fetched_once_and_verified(server, tmp_path):
    entries = _manifest(tmp_path, _pinned(server))
    cache = tmp_path / "cache"
    paths = _fetch(entries, cache)
    assert paths["lab"].read_bytes() == GOOD
    assert _files(cache) == {"labels/K562.csv"}  # pinned: no lock record needed
    _fetch(entries, cache)
    assert server.requests == ["/lab/K562.csv"]  # the verified copy is reused
    st = mf.status(entries=entries, cache_dir=cache)
    assert st.loc[0, "state"] == "present" and bool(st.loc[0, "verified"])


def test_wrong_checksum_leaves_nothing(server, tmp_path):
    entries = _manifest(tmp_path, _pinned(server, served=GOOD[:-1] + b"X"))
    cache = tmp_path / "cache"
    with pytest.raises(mf.ChecksumMismatchError, match=r"^lab: .*/lab/K562\.csv does not match"):
        _fetch(entries, cache)
    assert _files(cache) == set()


def test_a_failed_request_is_retried(server, tmp_path):
    entries = _manifest(tmp_path, _pinned(server))
    server.fail_once.add("/lab/K562.csv")
    with pytest.raises(mf.DataUnavailableError, match="503"):
        _fetch(entries, tmp_path / "once", retries=0)
    server.fail_once.add("/lab/K562.csv")
    paths = _fetch(entries, tmp_path / "cache", retries=1)
    assert paths["lab"].read_bytes() == GOOD
    assert server.requests == ["/lab/K562.csv"] * 3


def test_interrupted_transfer_leaves_nothing(server, tmp_path):
    entries = _manifest(tmp_path, _pinned(server))
    server.truncated.add("/lab/K562.csv")
    cache = tmp_path / "cache"
    with pytest.raises(mf.DataUnavailableError, match="lab"):
        _fetch(entries, cache)
    assert _files(cache) == set()


def test_offline_error_says_where_to_put_the_file(closed_port_url, tmp_path):
    e = _entry("lab", closed_port_url + "/K562.csv", "labels/K562.csv", sha256="0" * 64, size=10)
    cache = tmp_path / "cache"
    with pytest.raises(mf.DataUnavailableError) as info:
        _fetch(_manifest(tmp_path, e), cache)
    msg = str(info.value)
    assert str(cache / "labels" / "K562.csv") in msg and mf.MIRROR_ENV in msg
    assert "labels/K562.csv" in msg and "0" * 64 in msg
    assert _files(cache) == set()


def test_mirror_directory_and_env_vars(closed_port_url, tmp_path, monkeypatch):
    e = _entry(
        "lab",
        closed_port_url + "/K562.csv",
        "labels/K562.csv",
        sha256=hashlib.sha256(GOOD).hexdigest(),
        size=len(GOOD),
    )
    entries = _manifest(tmp_path, e)
    mirror = tmp_path / "mirror"
    monkeypatch.setenv(mf.DATA_ENV, str(tmp_path / "envcache"))
    monkeypatch.setenv(mf.MIRROR_ENV, str(mirror))
    with pytest.raises(mf.DataUnavailableError, match="not in the mirror"):
        mf.fetch(entries=entries, progress=False, retries=0)
    (mirror / "labels").mkdir(parents=True)
    (mirror / "labels" / "K562.csv").write_bytes(b"tampered")
    with pytest.raises(mf.ChecksumMismatchError, match=r"lab: .*mirror copy"):
        mf.fetch(entries=entries, progress=False, retries=0)
    assert _files(tmp_path / "envcache") == set()
    (mirror / "labels" / "K562.csv").write_bytes(GOOD)
    paths = mf.fetch(entries=entries, progress=False)
    assert paths["lab"] == tmp_path / "envcache" / "labels" / "K562.csv"
    assert paths["lab"].read_bytes() == GOOD


def test_manifest_override_env_replaces_data_manifest(tmp_path, monkeypatch):
    """$CHROMTRANSFER_MANIFEST replaces data_manifest/ for every reader, same validation."""
    override = tmp_path / "override"
    override.mkdir()
    e = _entry("lab", "https://example.org/K562.csv", "labels/K562.csv", trust_on_first_use=True)
    (override / "site.yaml").write_text(yaml.safe_dump({"entries": [e]}))
    assert mf.resolve_manifest_dir() == mf.default_manifest_dir()
    monkeypatch.setenv(mf.MANIFEST_ENV, str(override))
    assert mf.resolve_manifest_dir() == override
    assert [x.name for x in mf.load_manifest()] == ["lab"]
    assert mf.resolve_manifest_dir(mf.default_manifest_dir()) == mf.default_manifest_dir()
    assert list(mf.status(cache_dir=tmp_path / "cache")["name"]) == ["lab"]
    e["url"] = "http://example.org/K562.csv"  # the same rules: HTTPS only
    (override / "site.yaml").write_text(yaml.safe_dump({"entries": [e]}))
    with pytest.raises(mf.ManifestError, match="not an HTTPS URL"):
        mf.load_manifest()
    monkeypatch.setenv(mf.MANIFEST_ENV, str(tmp_path / "empty"))
    with pytest.raises(mf.ManifestError, match=f"no manifest files.*{mf.MANIFEST_ENV}"):
        mf.load_manifest()


def test_mirror_url(server, closed_port_url, tmp_path):
    e = _pinned(server)
    e["url"] = closed_port_url + "/elsewhere.csv"
    server.files["/mirror/labels/K562.csv"] = GOOD
    paths = _fetch(_manifest(tmp_path, e), tmp_path / "cache", mirror=server.base + "/mirror")
    assert paths["lab"].read_bytes() == GOOD
    assert server.requests == ["/mirror/labels/K562.csv"]


def test_trust_on_first_use_records_then_verifies(server, tmp_path):
    server.files["/gap.txt"] = GOOD
    entries = _manifest(
        tmp_path, _entry("gap", server.base + "/gap.txt", "ucsc/gap.txt", trust_on_first_use=True)
    )
    cache = tmp_path / "cache"
    path = _fetch(entries, cache)["gap"]
    lock = json.loads((cache / mf.LOCK_NAME).read_text())
    assert lock["gap"]["sha256"] == hashlib.sha256(GOOD).hexdigest()
    assert lock["gap"]["policy"] == "tofu" and lock["gap"]["size"] == len(GOOD)
    assert mf.status(entries=entries, cache_dir=cache).loc[0, "state"] == "present"
    path.unlink()
    server.files["/gap.txt"] = GOOD.replace(b"K562", b"K563")  # upstream changed
    with pytest.raises(mf.ChecksumMismatchError):
        _fetch(entries, cache)
    assert _files(cache) == {mf.LOCK_NAME}
    path.write_bytes(b"corrupted")
    assert mf.status(entries=entries, cache_dir=cache).loc[0, "state"] == "checksum mismatch"


@pytest.mark.parametrize("fmt", ["md5sum", "encode-json"])
@pytest.mark.parametrize("correct", [True, False])
def test_published_checksum(server, tmp_path, fmt, correct):
    md5 = hashlib.md5(GOOD if correct else b"other").hexdigest()
    if fmt == "md5sum":
        server.files["/sums.txt"] = f"{'1' * 32}  other.fa.gz\n{md5}  hg.fa.gz\n".encode()
        key = "hg.fa.gz"
    else:
        server.files["/sums.txt"] = json.dumps({"md5sum": md5, "file_size": 1}).encode()
        key = "md5sum"
    server.files["/hg.fa.gz"] = GOOD
    src = {"url": server.base + "/sums.txt", "path": "g/sums.txt", "format": fmt, "key": key}
    entries = _manifest(
        tmp_path, _entry("hg", server.base + "/hg.fa.gz", "g/hg.fa.gz", checksum_source=src)
    )
    cache = tmp_path / "cache"
    if not correct:
        with pytest.raises(mf.ChecksumMismatchError):
            _fetch(entries, cache)
        assert _files(cache) == {"g/sums.txt"}
        return
    _fetch(entries, cache)
    lock = json.loads((cache / mf.LOCK_NAME).read_text())["hg"]
    assert lock["published"] == f"md5:{md5}"
    assert lock["sha256"] == hashlib.sha256(GOOD).hexdigest()
    assert _files(cache) == {"g/hg.fa.gz", "g/sums.txt", mf.LOCK_NAME}


def test_corrupted_cache_copy_is_replaced(server, tmp_path):
    entries = _manifest(tmp_path, _pinned(server))
    cache = tmp_path / "cache"
    (cache / "labels").mkdir(parents=True)
    (cache / "labels" / "K562.csv").write_bytes(GOOD[::-1])  # same size, wrong bytes
    st = mf.status(entries=entries, cache_dir=cache)
    assert st.loc[0, "state"] == "checksum mismatch"
    assert mf.status(entries=entries, cache_dir=cache, verify=False).loc[0, "state"] == "present"
    _fetch(entries, cache)
    assert (cache / "labels" / "K562.csv").read_bytes() == GOOD
    assert _files(cache) == {"labels/K562.csv"}


def test_missing_file_status(tmp_path):
    e = _entry("x", "https://example.org/x", "x.bin", trust_on_first_use=True)
    st = mf.status(entries=_manifest(tmp_path, e), cache_dir=tmp_path / "cache")
    assert (
        st.loc[0, "state"] == "missing"
        and str(tmp_path / "cache" / "x.bin") in st.loc[0, "message"]
    )


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"url": "http://example.org/x"}, "not an HTTPS URL"),
        ({"url": "ftp://127.0.0.1/x"}, "not an HTTPS URL"),
        ({"trust_on_first_use": False}, "exactly one checksum policy"),
        ({"sha256": "a" * 64, "size": 3}, "exactly one checksum policy"),
        ({"path": "../escape"}, "must be relative"),
        ({"path": "/abs"}, "must be relative"),
        ({"colour": "red"}, "unknown key"),
        ({"used_by": []}, "used_by"),
        ({"license": ""}, "license"),
    ],
)
def test_invalid_entries_are_rejected(tmp_path, change, pattern):
    e = _entry("x", "https://example.org/x", "x.bin", trust_on_first_use=True) | change
    with pytest.raises(mf.ManifestError, match=pattern):
        _manifest(tmp_path, e)


def test_http_needs_explicit_loopback_opt_in_and_names_are_unique(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    e = _entry("x", "http://127.0.0.1:9/x", "x.bin", trust_on_first_use=True)
    (d / "a.yaml").write_text(yaml.safe_dump({"entries": [e]}))
    with pytest.raises(mf.ManifestError, match="HTTPS"):
        mf.load_manifest(d)
    assert mf.load_manifest(d, allow_http_loopback=True)[0].url == e["url"]
    (d / "b.yaml").write_text(yaml.safe_dump({"entries": [e | {"path": "y.bin"}]}))
    with pytest.raises(mf.ManifestError, match="duplicate name 'x'"):
        mf.load_manifest(d, allow_http_loopback=True)


def test_parse_published_checksum():
    text = "d41d8cd98f00b204e9800998ecf8427e *hg38.fa.gz\n" + "0" * 32 + "  hg38.2bit\n"
    assert mf.parse_published_checksum(text, format="md5sum", key="hg38.fa.gz") == (
        "md5:d41d8cd98f00b204e9800998ecf8427e"
    )
    with pytest.raises(mf.ManifestError, match=r"hg19\.fa\.gz"):
        mf.parse_published_checksum(text, format="md5sum", key="hg19.fa.gz")
    with pytest.raises(mf.ManifestError, match="not an md5"):
        mf.parse_published_checksum('{"md5sum": "xyz"}', format="encode-json", key="md5sum")
