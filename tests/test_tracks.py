"""Genome-browser tracks: bigWigs of predictions (genome tiles, BED regions) and attributions,
read back with pyBigWig and checked base by base against an independent reference: windows cut
from the FASTA's strings, a plain Keras call, and the overlap rule applied by brute force."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pyBigWig
import pytest

from chromtransfer_lib.errors import InputError
from chromtransfer_lib.genome.sequence import chrom_sizes, encode_sequences, one_hot
from chromtransfer_lib.genome.splits import tile_genome
from chromtransfer_lib.predict import tracks as T

L = 100
N_RUN = (1200, 1500)  #: chr1's assembly gap


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A genome whose FASTA order is not sorted (chr2, chr1 with an N run, chrM shorter than a
    window; soft-masked in part) and an untrained width-4 model of 100 bp."""
    from chromtransfer_lib.models.network import build_pretrain_model

    d, rng = tmp_path_factory.mktemp("tracks"), np.random.default_rng(1)
    seqs = {c: "".join(rng.choice(list("ACGT"), n)) for c, n in (("chr2", 2500), ("chr1", 3000),
                                                                 ("chrM", 80))}  # fmt: skip
    seqs["chr1"] = seqs["chr1"][: N_RUN[0]] + "N" * (N_RUN[1] - N_RUN[0]) + seqs["chr1"][N_RUN[1] :]
    with open(d / "genome.fa", "w") as fh:
        for c, s in seqs.items():
            s = s[:500] + s[500:900].lower() + s[900:]
            fh.write(f">{c}\n" + "".join(s[i : i + 70] + "\n" for i in range(0, len(s), 70)))
    net = build_pretrain_model(seq_len=L, stem_filters=4, res1_filters=4, res2_filters=4,
                               top_filters=4, head_units=(8, 4), random_state=0)  # fmt: skip
    net.save(d / "model.keras")
    return {"seqs": seqs, "genome": d / "genome.fa", "model": d / "model.keras", "net": net}


def _bed(path: Path, rows: list[tuple[str, int, int]]) -> Path:
    path.write_text("".join(f"{c}\t{s}\t{e}\tr{i}\n" for i, (c, s, e) in enumerate(rows)))
    return path


def _window_codes(seqs: dict[str, str], chrom: str, starts) -> np.ndarray:
    """Windows cut from the genome's strings, N beyond the chromosome (the reference)."""
    s = seqs[chrom]
    cut = ["".join(s[p] if 0 <= p < len(s) else "N" for p in range(w, w + L)) for w in starts]
    return encode_sequences(cut)


def _keras_proba(net, codes: np.ndarray) -> np.ndarray:
    """The model's probabilities from a plain eager Keras call (not the compiled predict)."""
    return np.asarray(net(one_hot(codes), training=False))[:, 0]


def _nearest_centre(size: int, starts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per base: the value of the window containing it whose centre is nearest (ties: the left
    one), NaN if none — the rule, by brute force. ``values`` is ``(n,)`` or ``(n, L)``."""
    out = np.full(size, np.nan)
    for x in range(size):
        inside = [i for i, s in enumerate(starts) if s <= x < s + L]
        if inside:
            i = min(inside, key=lambda i: (abs(x - (starts[i] + L // 2)), starts[i]))
            out[x] = values[i] if values.ndim == 1 else values[i, x - starts[i]]
    return out


def _read(path: Path) -> tuple[list[tuple[str, int]], dict[str, np.ndarray]]:
    bw = pyBigWig.open(str(path))
    try:
        header = list(bw.chroms().items())
        return header, {c: bw.values(c, 0, n, numpy=True) for c, n in header}
    finally:
        bw.close()


def _check_track(path: Path, tiny: dict, expected: dict[str, np.ndarray], **tol) -> None:
    header, got = _read(path)
    assert header == list(chrom_sizes(tiny["genome"]).items())  # FASTA order and lengths
    assert [c for c, _ in header] == ["chr2", "chr1", "chrM"]
    for chrom, n in header:
        want = expected.get(chrom, np.full(n, np.nan))
        np.testing.assert_allclose(got[chrom], want, equal_nan=True, **tol)


# ------------------------------------------------------------------ predictions


@pytest.mark.parametrize("step", [30, L])
def test_genome_tiles_give_each_base_the_nearest_tile_centre(tiny, tmp_path, step, caplog):
    out = tmp_path / "tiles.bw"
    with caplog.at_level("WARNING"):
        s = T.prediction_track(tiny["model"], genome=tiny["genome"], out=out, step=step,
                               chunk_size=7, batch_size=5)  # fmt: skip
    expected, kept, n_tiles, n_skipped = {}, {}, 0, 0
    for chrom, seq in tiny["seqs"].items():
        starts = np.arange(0, len(seq) - L + 1, step)
        if not len(starts):
            continue
        codes = _window_codes(tiny["seqs"], chrom, starts)
        ok = (codes == 4).mean(1) <= 0.5
        n_tiles, n_skipped = n_tiles + len(starts), n_skipped + int((~ok).sum())
        p = _keras_proba(tiny["net"], codes[ok])
        expected[chrom] = _nearest_centre(len(seq), starts[ok], p)
        kept[chrom] = starts[ok]
    _check_track(out, tiny, expected, rtol=1e-5, atol=1e-6)
    assert (s.n_windows, s.n_skipped, s.step) == (n_tiles, n_skipped, step) and n_skipped > 0
    assert f"{n_skipped} of {n_tiles} windows have more than 50% N" in caplog.text
    bw = pyBigWig.open(str(out))
    intervals = {c: bw.intervals(c) for c in ("chr2", "chr1")}
    bw.close()
    if step == L:  # non-overlapping tiles: each written whole, exactly genome/splits' tiles
        tiles = tile_genome(chrom_sizes(tiny["genome"]), width=L).windows
        for chrom in ("chr2", "chr1"):
            want = tiles[tiles["chrom"] == chrom]["start"].to_numpy()
            want = want[np.isin(want, kept[chrom])]
            assert [(a, b) for a, b, _ in intervals[chrom]] == [(w, w + L) for w in want]
    else:  # inside a run of tiles, each tile's central step bp
        a, b, _ = intervals["chr2"][3]
        assert (a, b) == (3 * step + L // 2 - step // 2 + 1, 4 * step + L // 2 - step // 2 + 1)
    prov = json.loads(s.provenance.read_text())
    assert prov["rule"] == T.TILE_RULE and prov["n_skipped_for_n"] == n_skipped
    assert set(prov["inputs"]) == {"model", "genome"} and prov["step"] == step


def test_bed_regions_take_the_maximum_where_they_overlap(tiny, tmp_path):
    rows = [("chr1", 100, 400), ("chr1", 300, 350), ("chr1", 320, 700), ("chr2", 2450, 2500),
            ("chr1", 1250, 1450), ("chr2", 10, 60), ("chrM", 0, 80),
            ("chr1", 100, 400)]  # fmt: skip
    bed = _bed(tmp_path / "r.bed", rows)
    s = T.prediction_track(tiny["model"], genome=tiny["genome"], regions_bed=bed,
                           out=tmp_path / "r.bw", chunk_size=3)  # fmt: skip
    mids = [(a + b) // 2 - L // 2 for _, a, b in rows]
    codes = np.concatenate([_window_codes(tiny["seqs"], c, [m]) for (c, _, _), m in
                            zip(rows, mids, strict=True)])  # fmt: skip
    ok = (codes == 4).mean(1) <= 0.5
    p = _keras_proba(tiny["net"], codes)
    expected = {c: np.full(len(seq), np.nan) for c, seq in tiny["seqs"].items()}
    for (c, a, b), keep, v in zip(rows, ok, p, strict=True):
        if keep:
            expected[c][a:b] = np.fmax(expected[c][a:b], v)
    _check_track(s.tracks["probability"], tiny, expected, rtol=1e-5, atol=1e-6)
    assert len(set(np.round(p[:3], 6))) == 3  # the three overlapping regions differ: a real max
    assert (s.n_windows, s.n_skipped, s.step) == (len(rows), 1, None) and not ok[4]
    assert json.loads(s.provenance.read_text())["rule"] == T.REGION_RULE


# ------------------------------------------------------------------ attributions


def test_attributions_come_from_the_window_whose_centre_is_nearest(tiny, tmp_path, caplog):
    from chromtransfer_lib.interpret.attribution import (
        grad_x_input,
        in_silico_mutagenesis,
        logit_model,
    )
    from chromtransfer_lib.models.network import load_model

    rows = [("chr1", 100, 150), ("chr1", 140, 180), ("chr1", 150, 170),
            ("chr1", 1250, 1450), ("chr1", 1180, 1220), ("chr2", 0, 20), ("chrM", 30, 50),
            ("chr2", 500, 600), ("chr2", 560, 640)]  # fmt: skip
    # rows 1 and 2 share a window; row 3's is all N; centres 550 and 600 tie at 575
    bed = _bed(tmp_path / "a.bed", rows)
    with caplog.at_level("WARNING"):
        s = T.attribution_track(tiny["model"], genome=tiny["genome"], regions_bed=bed, ism=True,
                                out=tmp_path / "a.bw", chunk_size=4, batch_size=64)  # fmt: skip
    assert s.tracks == {"grad_x_input": tmp_path / "a.bw", "ism_delta": tmp_path / "a.ism.bw"}
    attributed = logit_model(load_model(tiny["model"]))
    starts = {c: np.array(sorted({(a + b) // 2 - L // 2 for k, a, b in rows if k == c}))
              for c in tiny["seqs"]}  # fmt: skip
    codes = {c: _window_codes(tiny["seqs"], c, w) for c, w in starts.items()}
    ok = {c: (x == 4).mean(1) <= 0.5 for c, x in codes.items()}
    kept = np.concatenate([codes[c][ok[c]] for c in codes])  # one call each, split below
    cut = np.cumsum([ok[c].sum() for c in codes])[:-1]
    g = dict(zip(codes, np.split(grad_x_input(attributed, kept), cut), strict=True))
    d = dict(zip(codes, np.split(in_silico_mutagenesis(attributed, kept).delta, cut), strict=True))
    gxi = {c: _nearest_centre(len(seq), starts[c][ok[c]], g[c]) for c, seq in tiny["seqs"].items()}
    ism = {c: _nearest_centre(len(seq), starts[c][ok[c]], d[c]) for c, seq in tiny["seqs"].items()}
    _check_track(s.tracks["grad_x_input"], tiny, gxi, rtol=1e-4, atol=1e-6)
    _check_track(s.tracks["ism_delta"], tiny, ism, rtol=1e-4, atol=1e-6)
    assert (s.n_windows, s.n_skipped) == (len(rows) - 1, 1)  # one duplicate window, one all N
    assert "1 of 8 windows have more than 50% N" in caplog.text
    assert np.isnan(ism["chr1"][1200:1250]).all() and (gxi["chr1"][1200:1250] == 0).all()
    left, right = (g["chr2"][list(starts["chr2"][ok["chr2"]]).index(w)] for w in (500, 550))
    assert gxi["chr2"][575] == left[75] != right[25]  # the tie at 575 went to the left window
    prov = json.loads(s.provenance.read_text())
    assert prov["target"] == "logit" and prov["rule"] == T.ATTRIBUTION_RULE
    assert prov["tracks"] == {"grad_x_input": "a.bw", "ism_delta": "a.ism.bw"}


# ------------------------------------------------------------------ the command


def _command(argv: list[str]) -> argparse.Namespace:
    from chromtransfer_lib.cli.tracks import add_tracks

    parser = argparse.ArgumentParser(prog="chromtransfer")
    add_tracks(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["tracks", *argv])


def _run(tiny: dict, out: Path, *extra: str) -> int:
    args = _command(["--model", str(tiny["model"]), "--genome", str(tiny["genome"]),
                     "--out", str(out), "--quiet", *extra])  # fmt: skip
    return args.func(args)


def test_command_writes_track_provenance_and_browser_stanzas(tiny, tmp_path, capsys):
    assert _run(tiny, tmp_path / "p.bw") == 0
    out = capsys.readouterr().out
    assert "tiles every 50 bp" in out and "IGV: File > Load from File" in out
    prov = json.loads((tmp_path / "p.bw.provenance.json").read_text())
    assert prov["step"] == L // 2 and len(prov["inputs"]["model"]["sha256"]) == 64
    hub = (tmp_path / "p.bw.trackDb.txt").read_text()
    assert "bigDataUrl p.bw\n" in hub and "type bigWig\n" in hub and "viewLimits 0:1" in hub
    bw = pyBigWig.open(str(tmp_path / "p.bw"))
    first = bw.intervals("chr2")[0]
    bw.close()
    assert first[:2] == (0, L // 2 + L // 4 + 1)  # the default step L // 2: the first tile's span
    bed = _bed(tmp_path / "one.bed", [("chr2", 300, 420)])
    assert _run(tiny, tmp_path / "g.bw", "--what", "attributions", "--regions", str(bed),
                "--target", "probability") == 0  # fmt: skip
    assert json.loads((tmp_path / "g.bw.provenance.json").read_text())["target"] == "probability"
    assert "autoScale on" in (tmp_path / "g.bw.trackDb.txt").read_text()


def test_help_states_the_rules_and_an_example(capsys):
    with pytest.raises(SystemExit):
        _command(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for rule in (T.TILE_RULE, T.REGION_RULE, T.ATTRIBUTION_RULE):
        assert " ".join(rule.split()) in text
    assert "examples: chromtransfer tracks --model" in text and "IGV" in text and "UCSC" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--model": "missing.keras"}, "missing.keras does not exist"),
        ({"--genome": "missing.fa"}, "missing.fa does not exist"),
        ({"--seq-len": "200"}, "the model takes 100 bp inputs but 200 bp were expected"),
        ({"--regions": "bad.bed"}, "bad.bed:2: unknown chromosome 'chr9'"),
        ({"--out": "nowhere/t.bw"}, "output folder"),
        ({"--step": "101"}, "step must be between 1 and the model's window (100 bp), got 101"),
        ({"--what": "attributions"}, "--what attributions needs --regions BED"),
        ({"--regions": "ok.bed", "--step": "10"}, "--step is for genome tiles"),
    ],
)
def test_bad_input_is_a_clear_input_error(tiny, tmp_path, change, message):
    (tmp_path / "bad.bed").write_text("chr1\t10\t50\nchr9\t1\t50\n")
    _bed(tmp_path / "ok.bed", [("chr1", 10, 50)])
    argv = {"--model": str(tiny["model"]), "--genome": str(tiny["genome"]),
            "--out": str(tmp_path / "t.bw")}  # fmt: skip
    argv.update({k: str(tmp_path / v) if k in ("--model", "--genome", "--regions", "--out")
                 else v for k, v in change.items()})  # fmt: skip
    args = _command([*(x for kv in argv.items() for x in kv), "--quiet"])
    with pytest.raises(InputError) as err:
        args.func(args)
    assert message in str(err.value)
    assert not list(tmp_path.glob("*.bw*")) and not list(tmp_path.glob(".*tmp"))


def test_an_interrupted_track_leaves_nothing(tiny, tmp_path, monkeypatch):
    calls = []

    def fail_second(*args):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return add(*args)

    add = T._add_intervals
    monkeypatch.setattr(T, "_add_intervals", fail_second)
    with pytest.raises(KeyboardInterrupt):
        T.prediction_track(tiny["model"], genome=tiny["genome"], out=tmp_path / "x.bw")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_overlap_rules_equal_brute_force_on_random_intervals():
    rng = np.random.default_rng(0)
    for _ in range(20):
        size, n = 400, int(rng.integers(1, 30))
        s = rng.integers(0, size - 5, n)
        e = np.minimum(s + rng.integers(1, 80, n), size)
        v = rng.choice([0.1, 0.2, 0.3, 0.7], n)  # repeated values: merged segments
        a, b, m = T.max_over_overlaps(s, e, v)
        got, want = np.full(size, np.nan), np.full(size, np.nan)
        for x, y, val in zip(a, b, m, strict=True):
            got[x:y] = val
        for x, y, val in zip(s, e, v, strict=True):
            want[x:y] = np.fmax(want[x:y], val)
        np.testing.assert_array_equal(got, want)
        assert (a[1:] >= b[:-1]).all() and not ((a[1:] == b[:-1]) & (m[1:] == m[:-1])).any()
        starts = np.unique(rng.integers(-L // 2, size - L // 2, n))
        lo, hi = T.nearest_centre_spans(starts, length=L, size=size)
        got = np.full(size, np.nan)
        for i, (x, y) in enumerate(zip(lo, hi, strict=True)):
            assert np.isnan(got[x:y]).all()  # spans are disjoint
            got[x:y] = i
        want = _nearest_centre(size, starts, np.arange(len(starts), dtype=float))
        np.testing.assert_array_equal(got, want)
