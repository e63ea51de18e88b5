"""Bad input through the CLI, the user's path: one clear message, exit code 2, no partial output.

Each case of ``book/bad_input.md`` is tried here. Inputs that are merely unusual (track and
header lines, CRLF, gzip, lowercase and IUPAC letters) must give the same predictions as a clean
file; all-N windows give ``NA`` with a warning.
"""

from __future__ import annotations

import gzip
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chromtransfer_lib import predict as P
from chromtransfer_lib.cli import main as cli

L = 100


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]):
    """``run(*argv) -> (exit code, stdout, stderr)`` of ``chromtransfer`` in this process."""

    def _run(*argv: object) -> tuple[int, str, str]:
        rc = cli.main([str(a) for a in argv])
        cap = capsys.readouterr()
        return rc, cap.out, cap.err

    return _run


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-chromosome genome with an N block, 20 regions and a width-4 model of 100 bp."""
    from chromtransfer_lib.models.network import build_pretrain_model

    d = tmp_path_factory.mktemp("bad")
    rng = np.random.default_rng(0)
    seqs = {c: "".join(rng.choice(list("ACGT"), n)) for c, n in (("chr1", 3000), ("chr2", 2000))}
    seqs["chr2"] = seqs["chr2"][:1000] + "N" * 400 + seqs["chr2"][1400:]
    (d / "seqs.txt").write_text("\n".join(f"{c}\t{s}" for c, s in seqs.items()))
    _write_fasta(d / "genome.fa", seqs)
    rows = [(c, int(s), int(s) + int(w)) for c, s, w in zip(
        ["chr1"] * 12 + ["chr2"] * 8, rng.integers(0, 1800, 20), rng.integers(1, 300, 20),
        strict=True,
    )]  # fmt: skip
    (d / "regions.bed").write_text("".join(f"{c}\t{s}\t{e}\tr{i}\n" for i, (c, s, e) in
                                           enumerate(rows)))  # fmt: skip
    net = build_pretrain_model(seq_len=L, stem_filters=4, res1_filters=4, res2_filters=4,
                               top_filters=4, head_units=(8, 4), random_state=0)  # fmt: skip
    net.save(d / "model.keras")
    return d


def _write_fasta(path: Path, seqs: dict[str, str]) -> None:
    with open(path, "w") as fh:
        for c, s in seqs.items():
            fh.write(f">{c}\n" + "".join(s[i : i + 60] + "\n" for i in range(0, len(s), 60)))


def _seqs(base: Path) -> dict[str, str]:
    return dict(line.split("\t") for line in (base / "seqs.txt").read_text().splitlines())


@pytest.fixture(scope="module")
def clean(base: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("clean") / "p.tsv"
    P.predict_regions(base / "model.keras", genome=base / "genome.fa",
                      regions_bed=base / "regions.bed", out=out)  # fmt: skip
    return P.read_predictions(out)


def _assert_error(result: tuple[int, str, str], command: str, fragment: str) -> None:
    rc, _, err = result
    assert rc == 2, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"chromtransfer {command}: error: "), err
    assert fragment in last, last


# ------------------------------------------------------------------ BED problems

BED_CASES = {
    "chromosome naming (1 vs chr1)": ("1\t100\t200\n", "The file uses 'chr1'"),
    "past a chromosome end": ("chr1\t2950\t3100\n", "end 3100 is past the end of chr1 (3000 bp"),
    "zero-length interval": ("chr1\t100\t100\n", "is zero-length (start == end)"),
    "negative interval": ("chr1\t200\t100\n", "has end < start (a negative interval)"),
    "negative start": ("chr1\t-5\t100\n", "has a negative start"),
    "non-integer coordinate": ("chr1\t10.5\t100\n", "start '10.5' is not an integer"),
    "too few columns": ("chr1\t100\n", "expected at least 3 columns"),
    "empty file": ("", "the file contains no regions"),
    "only track and header lines": ("track name=x\nchrom\tstart\tend\n", "contains no regions"),
}


@pytest.mark.parametrize("case", list(BED_CASES))
def test_bad_bed_is_one_clear_error_and_no_output(case, base, tmp_path, run):
    text, fragment = BED_CASES[case]
    bed = tmp_path / "r.bed"
    no_regions = "no regions" in fragment
    bed.write_text(text if no_regions else f"chr2\t5\t50\n{text}")  # the bad line is line 2
    out = tmp_path / "p.tsv"
    result = run("predict", "--model", base / "model.keras", "--genome", base / "genome.fa",
                 "--regions", bed, "--out", out)  # fmt: skip
    _assert_error(result, "predict", fragment)
    if not no_regions:
        assert f"{bed}:2:" in result[2]  # file and line named
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.bed"]  # nothing else written


def test_bad_bed_line_deep_in_a_big_file_leaves_no_partial_output(base, tmp_path, run):
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\t200\n" * 1500 + "chr1\t100\t9000\n")
    result = run("predict", "--model", base / "model.keras", "--genome", base / "genome.fa",
                 "--regions", bed, "--out", tmp_path / "p.tsv", "--chunk-size", "100")  # fmt: skip
    _assert_error(result, "predict", f"{bed}:1501: end 9000 is past the end of chr1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.bed"]


@pytest.mark.parametrize(
    "variant", ["track, browser, comment and header", "CRLF", "gzip", "spaces"]
)
def test_unusual_but_valid_bed_gives_the_same_predictions(variant, base, clean, tmp_path, run):
    text = (base / "regions.bed").read_text()
    bed = tmp_path / "r.bed"
    if variant == "CRLF":
        bed.write_bytes(text.replace("\n", "\r\n").encode())
    elif variant == "spaces":
        bed.write_text(text.replace("\t", "   "))
    elif variant == "gzip":
        bed = tmp_path / "r.bed.gz"
        bed.write_bytes(gzip.compress(text.encode()))
    else:
        head = (
            "browser position chr1:1-100\ntrack name=peaks\n# my peaks\nchrom\tstart\tend\tname\n"
        )
        bed.write_text(head + text)
    rc, _, err = run("predict", "--model", base / "model.keras", "--genome", base / "genome.fa",
                     "--regions", bed, "--out", tmp_path / "p.tsv")  # fmt: skip
    assert rc == 0, err
    got = P.read_predictions(tmp_path / "p.tsv")
    assert got.equals(clean)


# ------------------------------------------------------------------ FASTA problems


def test_lowercase_and_iupac_letters_read_as_upper_case_and_n(base, clean, tmp_path, run):
    seqs = _seqs(base)
    rng = np.random.default_rng(1)
    soft, iupac = {}, {}
    for c, s in seqs.items():
        chars = np.array(list(s))
        pos = rng.choice(len(s), 40, replace=False)
        ref = chars.copy()
        ref[pos] = "N"
        chars[pos] = rng.choice(list("RYSWKMBDHVn"), 40)
        low = rng.random(len(s)) < 0.5
        chars[low] = np.char.lower(chars[low])
        soft[c], iupac[c] = "".join(chars), "".join(ref)
    _write_fasta(tmp_path / "soft.fa", soft)
    _write_fasta(tmp_path / "ref.fa", iupac)
    for name in ("soft", "ref"):
        rc, _, err = run("predict", "--model", base / "model.keras", "--genome",
                         tmp_path / f"{name}.fa", "--regions", base / "regions.bed", "--out",
                         tmp_path / f"{name}.tsv")  # fmt: skip
        assert rc == 0, err
    a, b = (P.read_predictions(tmp_path / f"{n}.tsv") for n in ("soft", "ref"))
    assert a.equals(b) and not a.equals(clean)


def test_all_n_regions_get_na_and_a_warning(base, tmp_path, run, caplog):
    bed = tmp_path / "r.bed"
    bed.write_text("chr2\t1100\t1300\tgap\nchr1\t500\t600\tok\n")
    rc, _, err = run("predict", "--model", base / "model.keras", "--genome", base / "genome.fa",
                     "--regions", bed, "--out", tmp_path / "p.tsv")  # fmt: skip
    assert rc == 0, err
    got = P.read_predictions(tmp_path / "p.tsv")
    assert np.isnan(got["probability"][0]) and got["n_fraction"][0] == 1.0
    assert 0 <= got["probability"][1] <= 1
    assert "1 of 2 regions have windows with more than 50% N" in caplog.text


FASTA_CASES = {
    "empty FASTA": ("", "does not contain a valid sequence"),
    "invalid letter": (">chr1\nACGTXACGT\n>chr2\nACGT\n", "invalid letter"),
    "lines of unequal length": (
        ">chr1\nACGTACGT\nACG\nACGTACGT\n",
        "line found in >chr1 at line 3",
    ),
}


@pytest.mark.parametrize("case", list(FASTA_CASES))
def test_bad_fasta(case, base, tmp_path, run):
    text, fragment = FASTA_CASES[case]
    (tmp_path / "g.fa").write_text(text)
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t1\t5\n")
    result = run("predict", "--model", base / "model.keras", "--genome", tmp_path / "g.fa",
                 "--regions", bed, "--out", tmp_path / "p.tsv")  # fmt: skip
    _assert_error(result, "predict", fragment)
    assert not (tmp_path / "p.tsv").exists() and not list(tmp_path.glob(".p.tsv*"))


def test_gzip_but_not_bgzip_fasta(base, tmp_path, run):
    (tmp_path / "g.fa.gz").write_bytes(gzip.compress((base / "genome.fa").read_bytes()))
    result = run("predict", "--model", base / "model.keras", "--genome", tmp_path / "g.fa.gz",
                 "--regions", base / "regions.bed", "--out", tmp_path / "p.tsv")  # fmt: skip
    _assert_error(result, "predict", "must be bgzip-compressed to be indexed")
    assert not (tmp_path / "p.tsv").exists()


def _cli_command() -> list[str]:
    script = Path(sys.executable).with_name("chromtransfer")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "chromtransfer_lib.cli"]


def test_fasta_without_index_in_a_read_only_folder(base, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    shutil.copy(base / "genome.fa", ro / "genome.fa")
    out = tmp_path / "p.tsv"
    argv = [*_cli_command(), "predict", "--model", str(base / "model.keras"), "--genome",
            str(ro / "genome.fa"), "--regions", str(base / "regions.bed"),
            "--out", str(out)]  # fmt: skip
    if os.geteuid() == 0:  # root ignores permissions: make the folder a read-only mount
        if shutil.which("unshare") is None:
            pytest.skip("running as root without unshare: cannot make a read-only folder")
        script = f"mount --bind -o ro {shlex.quote(str(ro))} {shlex.quote(str(ro))} && exec "
        argv = ["unshare", "-m", "sh", "-c", script + shlex.join(argv)]
    else:
        ro.chmod(0o555)
    res = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})  # fmt: skip
    ro.chmod(0o755)
    if os.geteuid() == 0 and "mount" in res.stderr and res.returncode != 2:
        pytest.skip(f"cannot make a read-only mount here: {res.stderr.strip()}")
    _assert_error((res.returncode, res.stdout, res.stderr), "predict",
                  "has no index (genome.fa.fai) and its folder")  # fmt: skip
    assert "samtools faidx" in res.stderr
    assert not out.exists() and not (ro / "genome.fa.fai").exists()


# ------------------------------------------------------------------ model files


def _wrong_architecture(path: Path) -> None:
    import keras

    x = keras.Input((L, 4))
    y = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(keras.layers.Conv1D(2, 3)(x)))
    keras.Model(x, y).save(path)


MODEL_CASES = {
    "corrupt file": (lambda p, b: p.write_bytes(os.urandom(3000)), "corrupt or truncated"),
    "truncated file": (
        lambda p, b: p.write_bytes((b / "model.keras").read_bytes()[:5000]),
        "corrupt or truncated",
    ),
    "empty file": (lambda p, b: p.write_bytes(b""), "corrupt or truncated"),
    "wrong architecture": (lambda p, b: _wrong_architecture(p), "no layer named 'trunk_gap'"),
    "missing file": (lambda p, b: None, "does not exist; train the model first"),
    "not a .keras file": (lambda p, b: None, "expected a native Keras '.keras' file"),
}


@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_bad_model_file(case, base, tmp_path, run):
    make, fragment = MODEL_CASES[case]
    model = tmp_path / ("m.h5" if case == "not a .keras file" else "m.keras")
    if case == "not a .keras file":
        shutil.copy(base / "model.keras", model)
    make(model, base)
    result = run("predict", "--model", model, "--genome", base / "genome.fa", "--regions",
                 base / "regions.bed", "--out", tmp_path / "p.tsv")  # fmt: skip
    _assert_error(result, "predict", fragment)
    assert not (tmp_path / "p.tsv").exists() and not list(tmp_path.glob(".p.tsv*"))


def test_model_of_the_wrong_input_length(base, tmp_path, run):
    result = run("attribute", "--model", base / "model.keras", "--genome", base / "genome.fa",
                 "--regions", base / "regions.bed", "--seq-len", "600",
                 "--out", tmp_path / "a")  # fmt: skip
    _assert_error(result, "attribute", "takes 100 bp inputs but 600 bp were expected")
    assert not (tmp_path / "a").exists()


# ------------------------------------------------------------------ fine-tuning inputs


def _finetune(run, base: Path, tmp_path: Path, *extra: object) -> tuple[int, str, str]:
    return run("finetune", "--genome", base / "genome.fa", "--pretrained", base / "model.keras",
               "--profile", "smoke", "--out", tmp_path / "model", "--quiet", *extra)  # fmt: skip


def test_labels_file_with_one_class_only(base, tmp_path, run):
    labels = tmp_path / "HepG2.csv"
    labels.write_text("chr1:100-700,HEPG2\nchr1:1000-1600,HEPG2\n")
    result = _finetune(run, base, tmp_path, "--labels", labels)
    _assert_error(result, "finetune", "has no negative rows")
    assert not (tmp_path / "model").exists()


def test_finetune_positives_with_the_wrong_naming_leave_no_folder(base, tmp_path, run):
    bed = tmp_path / "peaks.bed"
    bed.write_text("chr1\t100\t200\n1\t300\t400\n")
    result = _finetune(run, base, tmp_path, "--positives", bed)
    _assert_error(result, "finetune", "unknown chromosome '1'")
    assert "The file uses 'chr1'" in result[2]
    assert not (tmp_path / "model").exists()  # the folder this call created is gone


class _Captured(Exception):
    """Raised by a stand-in fine-tune to hand back the arguments the CLI built."""


def test_finetune_negatives_come_from_a_bed_or_else_from_the_genome(
    base, tmp_path, run, monkeypatch, capsys
):
    import chromtransfer_lib.models.own as own

    def fake(out, **kw):
        raise _Captured(kw)

    monkeypatch.setattr(own, "finetune_own", fake)
    bed, neg = tmp_path / "peaks.bed", tmp_path / "neg.bed"
    bed.write_text("chr1\t100\t200\n")
    neg.write_text("chr1\t1000\t1100\n")
    with pytest.raises(_Captured) as got:
        _finetune(run, base, tmp_path, "--positives", bed, "--blacklist", bed)
    kw = got.value.args[0]  # no --negatives: the library samples genome tiles
    assert kw["negatives_bed"] is None and kw["blacklist_bed"] == bed
    assert "negatives_per_positive" not in kw  # the library's default ratio
    with pytest.raises(_Captured) as got:
        _finetune(run, base, tmp_path, "--positives", bed, "--negatives", neg)
    assert got.value.args[0]["negatives_bed"] == neg
    with pytest.raises(SystemExit) as exit_:  # declared but never read before: now gone
        _finetune(run, base, tmp_path, "--positives", bed, "--negatives-from-genome")
    assert exit_.value.code == 2
    assert "unrecognized arguments: --negatives-from-genome" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (("--labels", "L", "--negatives", "N"), "--negatives goes with --positives"),
        (("--positives", "P", "--negatives", "N", "--blacklist", "P"),
         "--blacklist shape(s) the negatives sampled from the genome"),
        (("--labels", "L", "--negatives-per-positive", "2"), "--negatives-per-positive shape(s)"),
        (("--positives", "P", "--folds", "0,7"), "folds [7] outside 0..2"),
    ],
)  # fmt: skip
def test_finetune_options_that_do_not_go_together(extra, fragment, base, tmp_path, run):
    files = {"L": tmp_path / "HepG2.csv", "N": tmp_path / "neg.bed", "P": tmp_path / "peaks.bed"}
    files["L"].write_text("chr1:100-700,HEPG2\nchr1:1000-1600,Negative\n")
    files["N"].write_text("chr1\t1000\t1100\n")
    files["P"].write_text("chr1\t100\t200\n")
    result = _finetune(run, base, tmp_path, *(files.get(x, x) for x in extra))
    _assert_error(result, "finetune", fragment)
    assert not (tmp_path / "model").exists()


def _pretrain(run, base: Path, tmp_path: Path, *extra: object) -> tuple[int, str, str]:
    return run("pretrain", "--genome", base / "genome.fa", "--profile", "smoke", "--out",
               tmp_path / "model", "--quiet", *extra)  # fmt: skip


def _scratch(run, base: Path, tmp_path: Path, *extra: object) -> tuple[int, str, str]:
    return run("finetune", "--genome", base / "genome.fa", "--from-scratch", "--profile",
               "smoke", "--out", tmp_path / "model", "--quiet", *extra)  # fmt: skip


@pytest.mark.parametrize("command", ["pretrain", "from-scratch"])
def test_pretrain_and_baseline_with_the_wrong_naming_leave_no_folder(command, base, tmp_path,
                                                                     run):  # fmt: skip
    bed = tmp_path / "peaks.bed"
    bed.write_text("chr1\t100\t200\n1\t300\t400\n")
    if command == "pretrain":
        result, name = _pretrain(run, base, tmp_path, "--regions", bed), "pretrain"
    else:
        result, name = _scratch(run, base, tmp_path, "--positives", bed), "finetune"
    _assert_error(result, name, "unknown chromosome '1'")
    assert f"{bed}:2:" in result[2] and "The file uses 'chr1'" in result[2]
    assert not (tmp_path / "model").exists()  # the folder this call created is gone


@pytest.mark.parametrize(
    ("command", "extra", "fragment"),
    [
        ("pretrain", ("--regions", "P", "--folds", "0,7"), "folds [7] outside 0..2"),
        ("pretrain", ("--regions", "P", "--test-chroms", "chr9"),
         "none of the test chromosomes ['chr9'] holds a region"),
        ("from-scratch", ("--positives", "P", "--freeze-trunk"), "--freeze-trunk needs"),
        ("from-scratch", ("--positives", "P", "--folds", "0,7"), "folds [7] outside 0..2"),
    ],
)  # fmt: skip
def test_pretrain_and_baseline_options_that_do_not_go_together(command, extra, fragment, base,
                                                               tmp_path, run):  # fmt: skip
    bed = tmp_path / "peaks.bed"
    bed.write_text("".join(f"chr{c}\t{s}\t{s + 150}\n" for c in (1, 2) for s in (200, 600, 900)))
    argv = [bed if x == "P" else x for x in extra]
    if command == "pretrain":
        _assert_error(_pretrain(run, base, tmp_path, *argv), "pretrain", fragment)
    else:
        _assert_error(_scratch(run, base, tmp_path, *argv), "finetune", fragment)
    assert not (tmp_path / "model").exists()


def test_finetune_needs_a_pretrained_model_or_from_scratch_not_both(base, tmp_path, run, capsys):
    bed = tmp_path / "peaks.bed"
    bed.write_text("chr1\t100\t200\n")
    for extra in ((), ("--pretrained", base / "model.keras", "--from-scratch")):
        with pytest.raises(SystemExit) as exit_:
            run("finetune", "--genome", base / "genome.fa", "--positives", bed, "--out",
                tmp_path / "model", *extra)  # fmt: skip
        assert exit_.value.code == 2
        assert "--pretrained" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()


def test_profile_yaml_with_an_unknown_key(base, tmp_path, run):
    from chromtransfer_lib.config import profile_path

    text = profile_path("smoke").read_text().replace("finetune:\n", "finetune:\n  bogus: 1\n", 1)
    bad = tmp_path / "mine.yaml"
    bad.write_text(text)
    bed = tmp_path / "peaks.bed"
    bed.write_text("chr1\t100\t200\n")
    result = run("finetune", "--genome", base / "genome.fa", "--pretrained",
                 base / "model.keras", "--positives", bed, "--profile", bad, "--out",
                 tmp_path / "model")  # fmt: skip
    _assert_error(result, "finetune", f"{bad}.finetune: unknown key(s) 'bogus'")
    assert not (tmp_path / "model").exists()


# ------------------------------------------------------------------ outputs and motifs


def test_output_folder_must_exist_and_attribution_folders_are_not_overwritten(base, tmp_path, run):
    result = run("predict", "--model", base / "model.keras", "--genome", base / "genome.fa",
                 "--regions", base / "regions.bed", "--out", tmp_path / "no" / "p.tsv")  # fmt: skip
    _assert_error(result, "predict", "does not exist; create it first")
    (tmp_path / "a").mkdir()
    result = run("attribute", "--model", base / "model.keras", "--genome", base / "genome.fa",
                 "--regions", base / "regions.bed", "--out", tmp_path / "a")  # fmt: skip
    _assert_error(result, "attribute", "already exists")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"] and not list(
        (tmp_path / "a").iterdir()
    )


def test_unknown_motif_name(base, tmp_path, run):
    result = run("motifs", "--model", base / "model.keras", "--genome", base / "genome.fa",
                 "--regions", base / "regions.bed", "--motifs", "HNF4A", "NOSUCHTF",
                 "--out", tmp_path / "m")  # fmt: skip
    _assert_error(result, "motifs", "'NOSUCHTF'")
    assert list(tmp_path.iterdir()) == []


def test_motifs_needs_attributions_or_a_model_and_regions(base, tmp_path, run):
    result = run("motifs", "--model", base / "model.keras", "--out", tmp_path / "m")
    _assert_error(result, "motifs", "give --attributions DIR, or --model, --genome and --regions")
    (tmp_path / "empty").mkdir()
    result = run("motifs", "--attributions", tmp_path / "empty", "--regions", base / "regions.bed",
                 "--out", tmp_path / "m")  # fmt: skip
    _assert_error(result, "motifs", "give --attributions DIR, or --model, --genome and --regions")
    result = run("motifs", "--attributions", tmp_path / "empty", "--out", tmp_path / "m")
    _assert_error(result, "motifs", "is not an attribution folder (missing regions.tsv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_motifs_with_no_region_above_min_probability(base, tmp_path, run):
    rc, _, err = run("attribute", "--model", base / "model.keras", "--genome",
                     base / "genome.fa", "--regions", base / "regions.bed", "--out",
                     tmp_path / "a", "--quiet")  # fmt: skip
    assert rc == 0, err
    result = run("motifs", "--attributions", tmp_path / "a", "--min-probability", "1.5",
                 "--motifs", "GATA1", "--out", tmp_path / "m")  # fmt: skip
    _assert_error(result, "motifs", "no region is predicted at probability >= 1.5")
    assert not (tmp_path / "m").exists()


def test_attributing_the_logit_of_a_softmax_model(base, tmp_path, run):
    from chromtransfer_lib.models.network import build_multiclass_baseline

    net = build_multiclass_baseline(seq_len=L, stem_filters=4, res1_filters=4, res2_filters=4,
                                    top_filters=4, head_units=(8, 4), random_state=0)  # fmt: skip
    net.save(tmp_path / "multi.keras")
    argv = ["attribute", "--model", tmp_path / "multi.keras", "--genome", base / "genome.fa",
            "--regions", base / "regions.bed", "--quiet"]  # fmt: skip
    result = run(*argv, "--out", tmp_path / "a")
    _assert_error(result, "attribute", "is not a sigmoid Dense layer")
    assert not (tmp_path / "a").exists()
    assert run(*argv, "--target", "probability", "--out", tmp_path / "b")[0] == 0


def test_bootstrap_shard_and_calibration_grid(tmp_path, run, capsys):
    with pytest.raises(SystemExit) as exit_:
        run("bootstrap", "--profile", "smoke", "--shard", "2/2")
    assert exit_.value.code == 2
    assert "--shard: must look like i/n with 0 <= i < n, got '2/2'" in capsys.readouterr().err
    _assert_error(run("calibrate", "--grid", tmp_path / "no.yaml"), "calibrate",
                  f"calibration grid {tmp_path / 'no.yaml'} does not exist")  # fmt: skip
    grid = tmp_path / "grid.yaml"
    grid.write_text("base: smoke\nseeds: [1]\nsettings:\n  a: {finetune.bogus: 1}\n")
    _assert_error(run("calibrate", "--grid", grid, "--out-dir", tmp_path / "cal"), "calibrate",
                  "override 'finetune.bogus': no key 'bogus' in the profile")  # fmt: skip
    grid.write_text("base: smoke\nsetings: {}\n")
    _assert_error(run("calibrate", "--grid", grid), "calibrate", "expected a mapping with a")


# ------------------------------------------------------------------ notebook parameters


def test_papermill_parameter_of_the_wrong_type(tmp_path):
    """``papermill ... -p profile 3`` injects the integer 3: the chapter must say so clearly."""
    from chromtransfer_lib.book.runner import BookError, execute_chapter

    (tmp_path / "notebooks").mkdir()
    source = tmp_path / "notebooks" / "99_params.py"
    source.write_text(
        '# %% tags=["parameters"]\nprofile = "smoke"\nrun_dir = None\n\n'
        "# %%\nfrom chromtransfer_lib.book.stages import RunContext\n\n"
        "ctx = RunContext.create(profile, run_dir)\n"
    )
    with pytest.raises(BookError) as err:
        execute_chapter(source, root=tmp_path, profile=3, run_dir=tmp_path / "run", progress=False)
    message = str(err.value)
    assert "ConfigError" in message and "parameter 'profile' must be" in message, message
    assert "got int 3" in message
    assert "re-run this chapter alone" in message
