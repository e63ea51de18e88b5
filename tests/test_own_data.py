"""Own data: streaming BED reader, padded windows, the own-data dataset, prediction against an
independent reference, and the README example run end to end from the CLI — including a
SIGKILLed fine-tune that resumes to the same weights and a killed prediction that leaves nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyfaidx
import pytest

from chromtransfer_lib import predict as P
from chromtransfer_lib.config import load_profile
from chromtransfer_lib.data import own as O
from chromtransfer_lib.data.datasets import DatasetSpec
from chromtransfer_lib.genome.labels import read_label_file
from chromtransfer_lib.genome.regions import read_bed
from chromtransfer_lib.genome.sequence import chrom_sizes, encode_sequences, one_hot

ROOT = Path(__file__).resolve().parent.parent
SMOKE = load_profile("smoke")
L = SMOKE.data.seq_len
N_PREDICT = 100_000


def _cli() -> list[str]:
    """The ``chromtransfer`` console script (or the module, if the script is not installed)."""
    script = Path(sys.executable).with_name("chromtransfer")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "chromtransfer_lib.cli"]


def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CHROMTRANSFER_DATA": str(tmp / "cache")}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pretrained(path: Path, *, seq_len: int = L) -> Path:
    from chromtransfer_lib.models.network import build_pretrain_model

    m = SMOKE.model
    net = build_pretrain_model(
        seq_len=seq_len, stem_filters=m.stem_filters, res1_filters=m.res1_filters,
        res2_filters=m.res2_filters, top_filters=m.top_filters, head_units=m.pretrain_head,
        random_state=0,
    )  # fmt: skip
    net.save(path)
    return path


#: Planted over the centre of every peak (AP-1, GATA and HNF4 sites in a row) and learnt by the
#: pre-trained model: a signal the README's fine-tune must find within its four short epochs.
MOTIF = "TGACTCAGATAAGGGGTCAAAGGTCA"


def _plant_motif(fasta: Path, peaks: pd.DataFrame) -> None:
    """Write :data:`MOTIF` over the centre of every peak of ``fasta`` (rewritten in place)."""
    seqs: dict[str, bytearray] = {}
    for block in fasta.read_text().split(">")[1:]:
        name, _, body = block.partition("\n")
        seqs[name.split()[0]] = bytearray(body.replace("\n", "").encode())
    for r in peaks.itertuples():
        at = (r.start + r.end) // 2 - len(MOTIF) // 2
        seqs[r.chrom][at : at + len(MOTIF)] = MOTIF.encode()
    with open(fasta, "w") as fh:
        for name, seq in seqs.items():
            text = seq.decode()
            fh.write(
                f">{name}\n" + "".join(text[i : i + 60] + "\n" for i in range(0, len(text), 60))
            )


def _pretrain_on_motif(path: Path) -> Path:
    """A smoke-width pre-trained model that has learnt :data:`MOTIF`: 1,000 random windows
    (41 % GC), the motif at a random place in half of them, 8 epochs (seeded; AUROC 0.998 on
    them, ~60 s on a loaded 2-core machine)."""
    import keras

    from chromtransfer_lib.models.network import build_pretrain_model

    m, n, rng = SMOKE.model, 1000, np.random.default_rng(0)
    codes = rng.choice(4, size=(n, L), p=[0.295, 0.205, 0.205, 0.295]).astype(np.uint8)
    y = (np.arange(n) < n // 2).astype(np.float32)
    for i, at in enumerate(rng.integers(0, L - len(MOTIF), n // 2)):
        codes[i, at : at + len(MOTIF)] = encode_sequences([MOTIF])[0]
    order = rng.permutation(n)
    net = build_pretrain_model(
        seq_len=L, stem_filters=m.stem_filters, res1_filters=m.res1_filters,
        res2_filters=m.res2_filters, top_filters=m.top_filters, head_units=m.pretrain_head,
        random_state=0,
    )  # fmt: skip
    net.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy")
    net.fit(one_hot(codes[order]), y[order], batch_size=32, epochs=8, shuffle=False, verbose=0)
    net.save(path)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's files, made by the simulator (smoke world): genome (with :data:`MOTIF`
    planted in every HepG2 peak), HepG2 peaks, blacklist, 100,000 random regions of 50-500 bp,
    and a smoke-width pre-trained model that knows the motif."""
    from chromtransfer_lib.sim.world import simulate_world

    d = tmp_path_factory.mktemp("own")
    world = simulate_world(d / "world", spec=SMOKE.simulation, random_state=SMOKE.seed)
    shutil.copy(world.genome, d / "my_genome.fa")
    shutil.copy(world.blacklist_bed, d / "my_blacklist.bed")
    lab = pd.concat(
        [read_label_file(world.train_labels["HepG2"]), read_label_file(world.test_labels["HepG2"])]
    )
    peaks = lab[lab["y"] == 1][["chrom", "start", "end"]]
    peaks.to_csv(d / "my_peaks.bed", sep="\t", header=False, index=False)
    _plant_motif(d / "my_genome.fa", peaks)
    rng = np.random.default_rng(0)
    sizes = SMOKE.simulation.chrom_lengths
    chrom = rng.choice(list(sizes), N_PREDICT)
    start = rng.integers(0, np.array([sizes[c] for c in chrom]) - 500)
    end = start + rng.integers(50, 500, N_PREDICT)
    pd.DataFrame({"chrom": chrom, "start": start, "end": end}).to_csv(
        d / "my_regions.bed", sep="\t", header=False, index=False
    )
    _pretrain_on_motif(d / "pretrained.keras")
    _write_variants(d / "my_variants.vcf", d / "my_genome.fa", peaks)
    return d


#: Offsets in :data:`MOTIF` of the README's motif-breaking SNVs: the cores of its AP-1
#: (TGA(C)TCA), GATA (GA(T)AA) and HNF4 (GGTCA(A)AGG) sites.
BREAKING = (3, 9, 20)


def _write_variants(vcf: Path, fasta: Path, peaks: pd.DataFrame, *, n: int = 8) -> None:
    """The README's VCF: SNVs in :data:`MOTIF` at the first ``n`` peaks (``BREAKING``
    offsets, ID ``motif``) and one SNV 300 bp beyond each of those peaks (ID ``flank``), the
    alternative base the complement of the reference."""
    genome = pyfaidx.Fasta(str(fasta))
    comp = {"A": "T", "C": "G", "G": "C", "T": "A"}
    rows = []
    for k, r in enumerate(peaks.head(n).itertuples()):
        at = (r.start + r.end) // 2 - len(MOTIF) // 2
        pos0 = [(at + BREAKING[k % len(BREAKING)], "motif"), (r.end + 300, "flank")]
        for p0, kind in pos0:
            ref = str(genome[r.chrom][p0 : p0 + 1]).upper()
            rows.append((r.chrom, p0 + 1, f"{kind}{k}", ref, comp.get(ref, "A")))
    rows.sort(key=lambda x: (x[0], x[1]))
    with open(vcf, "w") as fh:
        fh.write("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        fh.writelines(f"{c}\t{p}\t{i}\t{ref}\t{alt}\t.\t.\t.\n" for c, p, i, ref, alt in rows)


# ------------------------------------------------------------------ library pieces


def _bed_files(tmp: Path) -> dict[str, Path]:
    rows = ["chr1\t10\t20\tr1", "chr1\t5\t30\tr2", "chr2\t0\t7\tr3", "chr1\t10\t20\tr1"]
    texts = {
        "plain": "\n".join(rows) + "\n",
        "track_header_crlf": "track name=x\r\n#c\r\nchrom\tstart\tend\tname\r\n"
        + "\r\n".join(rows)
        + "\r\n",
        "spaces": "\n".join(r.replace("\t", "  ") for r in rows),
    }
    out = {}
    for name, text in texts.items():
        out[name] = tmp / f"{name}.bed"
        out[name].write_text(text, newline="")
    out["gzip"] = tmp / "g.bed.gz"
    out["gzip"].write_bytes(gzip.compress(texts["track_header_crlf"].encode()))
    return out


@pytest.mark.parametrize("chunk_size", [1, 3, 1000])
def test_bed_chunks_equal_read_bed(tmp_path, chunk_size):
    """``read_bed(chunk_size=)`` (what predict streams) reads what ``read_bed`` reads."""
    sizes = {"chr1": 100, "chr2": 50}
    for path in _bed_files(tmp_path).values():
        chunks = list(read_bed(path, chrom_sizes=sizes, on_duplicate="keep", chunk_size=chunk_size))
        assert [len(c) for c in chunks] == [min(chunk_size, 4 - k) for k in range(0, 4, chunk_size)]
        got = pd.concat(chunks, ignore_index=True)
        ref = read_bed(path, chrom_sizes=sizes, on_duplicate="keep")
        assert len(got) == 4  # the duplicate is kept: one output row per BED line
        pd.testing.assert_frame_equal(got, ref)
        pd.testing.assert_frame_equal(
            got.drop_duplicates().reset_index(drop=True),
            read_bed(path, chrom_sizes=sizes, on_duplicate="drop"),
        )


def test_bed_chunks_name_the_file_line_of_an_error_in_a_later_chunk(tmp_path):
    bed = tmp_path / "r.bed"
    bed.write_text("track name=x\n" + "chr1\t1\t5\n" * 5 + "chr1\t7\t6\n")
    chunks = read_bed(bed, chunk_size=2, on_duplicate="keep")
    assert len(next(chunks)) == 2  # nothing past the first chunk is read yet
    with pytest.raises(ValueError, match=rf"{bed}:7: region chr1:7-6 has end < start"):
        list(chunks)
    (tmp_path / "e.bed").write_text("# nothing\n")
    with pytest.raises(ValueError, match="contains no regions"):
        next(read_bed(tmp_path / "e.bed", chunk_size=2))


def test_extract_windows_matches_brute_force(tmp_path):
    rng = np.random.default_rng(3)
    seqs = {"c1": "".join(rng.choice(list("ACGTacgtN"), 90)), "c2": "ACGTRYacgt"}
    fa = tmp_path / "g.fa"
    wrap = lambda s: "\n".join(s[i : i + 40] for i in range(0, len(s), 40))  # noqa: E731
    fa.write_text("".join(f">{c}\n{wrap(s)}\n" for c, s in seqs.items()))
    starts = [-7, 0, 13, 70, 85, -3, 2]
    chroms = ["c1"] * 5 + ["c2"] * 2  # c2 (10 bp) is shorter than a window
    win = pd.DataFrame({"chrom": chroms, "start": starts, "end": np.add(starts, 20)})
    got = P.extract_windows(fa, win, seq_len=20, sizes=chrom_sizes(fa))
    ref = [
        "".join(seqs[c][p] if 0 <= p < len(seqs[c]) else "N" for p in range(s, s + 20))
        for c, s in zip(chroms, starts, strict=True)
    ]
    np.testing.assert_array_equal(got, encode_sequences(ref))


def test_own_dataset_negatives_avoid_peaks_gaps_blacklist(inputs, tmp_path):
    genome = inputs / "my_genome.fa"
    files = O.OwnInputs(
        genome=genome,
        positives_bed=inputs / "my_peaks.bed",
        blacklist_bed=inputs / "my_blacklist.bed",
    )
    kw = {"spec": DatasetSpec(seq_len=L, random_state=4), "progress": False}
    info = O.build_own_dataset(tmp_path / "a", files, **kw)
    again = O.build_own_dataset(tmp_path / "b", files, **kw)
    from chromtransfer_lib.data.datasets import load_dataset

    ds, ds2 = load_dataset(info.path), load_dataset(again.path)
    np.testing.assert_array_equal(ds.codes, ds2.codes)  # seeded
    reg = ds.regions
    peaks = read_bed(inputs / "my_peaks.bed")
    neg = reg[reg["y"] == 0]
    assert reg["y"].sum() == len(peaks)
    assert abs(len(neg) / len(peaks) - 3.0) < 0.02
    bl = read_bed(inputs / "my_blacklist.bed")
    fa = pyfaidx.Fasta(str(genome), sequence_always_upper=True)
    for r in neg.itertuples():  # brute force: no N, no blacklist, >= 300 bp from every peak
        assert "N" not in str(fa[r.chrom][r.start : r.end])
        for other, pad in ((peaks, 300), (bl, 0)):
            o = other[other["chrom"] == r.chrom]
            assert not ((o["start"] - pad < r.end) & (o["end"] + pad > r.start)).any()
    for i in np.random.default_rng(0).choice(len(reg), 20, replace=False):
        r = reg.iloc[i]  # codes are the genome at the recentred window
        assert r["end"] - r["start"] == L
        mid = (r["region_start"] + r["region_end"]) // 2
        assert r["start"] == mid - L // 2
        ref = encode_sequences([str(fa[r["chrom"]][r["start"] : r["end"]])])[0]
        np.testing.assert_array_equal(ds.codes[i], ref)
    test = reg["split"] == "test"
    assert set(reg.loc[test, "chrom"]) == {"chr2", "chr3"}
    assert not reg.loc[~test, "chrom"].isin(["chr2", "chr3"]).any()
    assert set(reg.loc[~test, "fold"]) == {0, 1, 2}


def test_predict_matches_independent_reference(inputs, tmp_path):
    import keras

    model = _pretrained(tmp_path / "m.keras")
    bed = tmp_path / "r.bed"
    sizes = chrom_sizes(inputs / "my_genome.fa")
    rows = [("chr1", 0, 30), ("chr1", 5000, 5300), ("chr4", sizes["chr4"] - 20, sizes["chr4"])]
    rows += [("chr2", int(s), int(s) + 150) for s in np.linspace(20_000, 200_000, 40)]
    pd.DataFrame(rows).assign(name=[f"r{i}" for i in range(len(rows))]).to_csv(
        bed, sep="\t", header=False, index=False
    )
    a = P.predict_regions(model, genome=inputs / "my_genome.fa", regions_bed=bed,
                          out=tmp_path / "a.tsv", chunk_size=7, batch_size=5)  # fmt: skip
    P.predict_regions(model, genome=inputs / "my_genome.fa", regions_bed=bed,
                      out=tmp_path / "b.tsv")  # fmt: skip
    got = P.read_predictions(a.out)
    pd.testing.assert_frame_equal(got, P.read_predictions(tmp_path / "b.tsv"))  # chunking
    assert got["name"].tolist() == [f"r{i}" for i in range(len(rows))]
    fa = pyfaidx.Fasta(str(inputs / "my_genome.fa"))
    seqs = []
    for c, s, e in rows:  # independent: pyfaidx strings, N-padded, one Keras call
        w = (s + e) // 2 - L // 2
        seqs.append("".join(str(fa[c][p]) if 0 <= p < sizes[c] else "N" for p in range(w, w + L)))
    codes = encode_sequences(seqs)
    ref = keras.saving.load_model(model).predict(one_hot(codes), verbose=0)[:, 0]
    frac = (codes == 4).mean(1)
    np.testing.assert_allclose(got["n_fraction"], frac.round(4))
    ok = frac <= 0.5
    assert got["probability"].isna().tolist() == (~ok).tolist() and (~ok).any()
    np.testing.assert_allclose(got["probability"][ok], ref[ok], rtol=1e-5, atol=1e-6)


def test_every_own_command_help_is_complete():
    import argparse

    from chromtransfer_lib.cli.own import add_own_data_commands

    parser = argparse.ArgumentParser(prog="chromtransfer")
    add_own_data_commands(parser.add_subparsers(dest="command"))
    sub = next(a for a in parser._actions if a.dest == "command").choices
    assert set(sub) == {"pretrain", "finetune", "predict", "attribute", "motifs"}
    for name, p in sub.items():
        text = p.format_help()
        for action in p._actions:  # every option has a help line
            assert action.help, f"{name} {action.option_strings} has no help"
        assert "example:" in text and f"chromtransfer {name}" in text
    assert "recentred on their midpoint" in sub["predict"].format_help()
    assert "--negatives-from-genome" not in sub["finetune"].format_help()  # it did nothing


# ------------------------------------------------------------------ the README session


def readme_commands() -> str:
    """The ```bash block of README's "Use it on your own data" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Use it on your own data", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the section must hold exactly one ```bash block"
    return blocks[0]


def _smoke(script: str) -> str:
    """Smoke widths and 4 epochs of 17 steps of the new head instead of the quick profile.

    The trunk is frozen: training every layer of this tiny model for 4 epochs undoes what it
    learnt or leaves the head's random sign uncorrected (test AUROC 0.31-0.99 over seeds);
    the head alone learns the planted motif in every seed tried.
    """
    assert "--profile quick" in script
    return script.replace(
        "--profile quick",
        "--profile smoke --max-epochs 4 --patience 4 --batch-size 16 --learning-rate 3e-3 "
        "--freeze-trunk",
    )


def _bash(script: str, cwd: Path, **kw) -> subprocess.Popen:
    prefix = " ".join(shlex.quote(a) for a in _cli())
    body = f'chromtransfer() {{ {prefix} "$@"; }}\nset -eu\n{script}'
    return subprocess.Popen(["bash", "-c", body], cwd=cwd, env=_env(cwd), text=True, **kw)


@pytest.fixture(scope="module")
def session(inputs) -> Path:
    """Run the README example (fine-tune, predict 100,000 regions, attribute 100, motifs)."""
    proc = _bash(_smoke(readme_commands()), inputs, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return inputs


def test_readme_example_runs_end_to_end(session):
    d = session
    summary = json.loads((d / "my_model" / "finetune.json").read_text())
    assert summary["inputs"]["genome"]["sha256"] == _sha(d / "my_genome.fa")
    assert summary["inputs"]["pretrained"]["sha256"] == _sha(d / "pretrained.keras")
    assert summary["inputs"]["model"]["sha256"] == _sha(d / "my_model" / "model.keras")
    assert summary["versions"]["tensorflow"]
    # The fine-tune must find the planted motif: test AUROC 0.968-0.997 over 6 fine-tune seeds
    # (measured; 0.991 at the profile's); a head that learnt nothing ranks the test set at
    # ~0.5, or near 0 if its random sign is never corrected.
    assert summary["test_metrics"][0]["auroc"] >= 0.9, summary["test_metrics"]
    preds = P.read_predictions(d / "my_predictions.tsv")
    bed = pd.read_csv(d / "my_regions.bed", sep="\t", header=None)
    assert len(preds) == N_PREDICT
    np.testing.assert_array_equal(preds[["start", "end"]].to_numpy(), bed[[1, 2]].to_numpy())
    p = preds["probability"]
    assert p.between(0, 1).sum() + p.isna().sum() == N_PREDICT
    assert (preds.loc[p.isna(), "n_fraction"] > 0.5).all()
    head = [x for x in (d / "my_predictions.tsv").read_text().splitlines()[:12] if x[0] == "#"]
    assert f"sha256={_sha(d / 'my_model' / 'model.keras')}" in "\n".join(head)
    assert f"sha256={_sha(d / 'my_genome.fa')}" in "\n".join(head)
    attr = P.load_attributions(d / "my_attributions")
    assert attr.grad_x_input.shape == (100, L)
    hundredth = preds["probability"].nlargest(100).min()  # the README picked the top 100
    assert len(attr.regions) == 100 and (attr.regions["probability"] >= hundredth - 1e-5).all()
    enrichment = pd.read_csv(d / "my_motifs" / "enrichment.tsv", sep="\t")
    sites = pd.read_csv(d / "my_motifs" / "sites.tsv", sep="\t")
    assert len(sites) > 100 and set(enrichment["score"]) <= {"grad_x_input"}


def test_readme_variants_and_tracks(session):
    """The README's variant effects and tracks, read back: every VCF row scored in VCF order,
    the motif-breaking SNVs moving the fine-tuned model more than SNVs 300 bp beyond the peak;
    the prediction track covering every chromosome of the genome, the attribution track the
    top regions."""
    import pyBigWig

    from chromtransfer_lib.predict.variants import read_variant_scores

    d = session
    effects = read_variant_scores(d / "my_variant_effects.tsv")
    vcf = [x.split("\t") for x in (d / "my_variants.vcf").read_text().splitlines() if x[0] != "#"]
    assert effects["id"].tolist() == [x[2] for x in vcf]
    assert effects["p_value"].between(0, 1, inclusive="right").all()
    motif = effects["id"].str.startswith("motif")
    breaking, flank = effects.loc[motif, "delta_logit"], effects.loc[~motif, "delta_logit"]
    # measured: median |delta logit| 0.21 (motif) vs 0.07 (flank)
    assert breaking.abs().median() > flank.abs().median(), effects
    hnf4 = effects["id"].isin([f"motif{k}" for k in range(8) if k % len(BREAKING) == 2])
    assert effects.loc[hnf4, "sites_destroyed"].str.contains("HNF4A").all(), effects
    sizes = chrom_sizes(d / "my_genome.fa")
    with pyBigWig.open(str(d / "my_predictions.bw")) as bw:
        assert bw.chroms() == sizes  # FASTA order and lengths
        values = np.concatenate([np.nan_to_num(bw.values(c, 0, n)) for c, n in sizes.items()])
        assert values.max() <= 1 and (values > 0).mean() > 0.5
    top = pd.read_csv(d / "my_top_regions.bed", sep="\t", header=None)
    with pyBigWig.open(str(d / "my_attributions.bw")) as bw:
        r = top.iloc[0]
        mid = (int(r[1]) + int(r[2])) // 2  # the recentred window covers mid +- L/2
        assert np.isfinite(bw.values(r[0], mid - L // 4, mid + L // 4)).all()


def _finetune_argv(out: str) -> list[str]:
    """The README's finetune command (smoke recipe) as argv, writing to ``out``."""
    script = _smoke(readme_commands()).replace("\\\n", " ")
    line = next(x for x in script.splitlines() if x.startswith("chromtransfer finetune"))
    argv = shlex.split(line.replace("--out my_model", f"--out {out}"))
    return [*_cli(), *argv[1:]]


def _kill_during_training(argv: list[str], d: Path, out: str) -> None:
    """Start ``argv`` (writing to ``d/out``), SIGKILL it once its first epoch is written, and
    check that it left a learning curve and nothing final."""
    proc = subprocess.Popen(argv, cwd=d, env=_env(d), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    history = d / out / "runs" / "fold_0" / "history.csv"
    deadline = time.time() + 300
    while not history.is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)  # as hard as a power cut: no clean-up runs
    _, err = proc.communicate()
    assert history.is_file(), err[-2000:]
    assert not (d / out / "model.keras").exists()  # killed mid-training, nothing final
    assert len(pd.read_csv(history)) < 4


def _assert_same_run(d: Path, a: str, b: str) -> None:
    """Runs ``d/a`` and ``d/b`` ended with the same weights and the same learning curve."""
    import keras

    wa = keras.saving.load_model(d / a / "model.keras").get_weights()
    wb = keras.saving.load_model(d / b / "model.keras").get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(wa, wb, strict=True))
    h1 = pd.read_csv(d / a / "runs" / "fold_0" / "history.csv").drop(columns="seconds")
    h2 = pd.read_csv(d / b / "runs" / "fold_0" / "history.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(h1, h2)


def _run_cli(argv: list[str], d: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, cwd=d, env=_env(d), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


# ~50 s here (two fine-tuning processes, each tracing its model); kept in the default run
# because surviving a killed job is a promise of the CLI (issue: interruptions lose nothing).
def test_killed_finetune_resumes_to_the_same_weights(session):
    d = session
    argv = _finetune_argv("killed")
    _kill_during_training(argv, d, "killed")
    _run_cli(argv, d)
    resumed = json.loads((d / "killed" / "runs" / "fold_0" / "metrics.json").read_text())
    assert resumed["resumed_from_epoch"] >= 1
    _assert_same_run(d, "killed", "my_model")


#: The README test's smoke recipe with 20 epochs, for the commands that train from random
#: weights: on the 77 training positives of the README's peaks, 4 epochs (20 steps) left the
#: pre-trained model at test AUROC 0.46 and the baseline at 0.67; 20 epochs reach 1.00.
SMOKE_RECIPE = ["--profile", "smoke", "--max-epochs", "20", "--patience", "20", "--batch-size",
                "16", "--learning-rate", "3e-3", "--quiet"]  # fmt: skip


def _own_training_argv(command: str, out: str) -> list[str]:
    """``chromtransfer pretrain`` on the README's peaks as a compendium, or the baseline
    (``finetune --from-scratch``) on them, with :data:`SMOKE_RECIPE`, writing to ``out``."""
    files = ["--genome", "my_genome.fa", "--blacklist", "my_blacklist.bed", "--out", out]
    if command == "pretrain":
        return [*_cli(), "pretrain", "--regions", "my_peaks.bed", *files, *SMOKE_RECIPE]
    return [*_cli(), "finetune", "--from-scratch", "--positives", "my_peaks.bed", *files,
            *SMOKE_RECIPE]  # fmt: skip


# ~40 s each here: one full run, one killed after its first epoch, its resumption.
@pytest.mark.parametrize("command", ["pretrain", "from-scratch"])
def test_pretrain_and_baseline_run_and_resume_to_the_same_weights(command, session):
    from chromtransfer_lib.models.network import PRETRAIN_HEAD, load_model

    d, full, killed = session, f"{command}_full", f"{command}_killed"
    summary_name = "pretrain.json" if command == "pretrain" else "finetune.json"
    _run_cli(_own_training_argv(command, full), d)
    summary = json.loads((d / full / summary_name).read_text())
    assert summary["inputs"]["genome"]["sha256"] == _sha(d / "my_genome.fa")
    assert summary["inputs"]["model"]["sha256"] == _sha(d / full / "model.keras")
    assert summary["recipe"]["max_epochs"] == 20 and summary["recipe"]["learning_rate"] == 3e-3
    assert summary["recipe"]["batchnorm_refresh"] == SMOKE.pretrain.batchnorm_refresh
    model = load_model(d / full / "model.keras")
    assert int(model.inputs[0].shape[1]) == L
    counts = summary["counts"]["by_split_y"]
    if command == "pretrain":
        assert summary["model_kind"] == "pretrain" and model.name == "pretrain"
        assert any(la.name.startswith(PRETRAIN_HEAD) for la in model.layers)
        pos = sum(v for k, v in counts.items() if k.endswith("/1"))
        neg = sum(v for k, v in counts.items() if k.endswith("/0"))
        assert abs(neg - pos) <= 0.05 * pos  # the profile's one genome tile per positive
    else:
        assert summary["model_kind"] == "scratch" and model.name == "binary_baseline"
        assert summary["network"]["stem_filters"] == SMOKE.model.stem_filters
        assert "pretrained" not in summary["inputs"]
    # every positive carries the planted motif: both learn it
    assert summary["test_metrics"][0]["auroc"] >= 0.9, summary["test_metrics"]
    argv = _own_training_argv(command, killed)
    _kill_during_training(argv, d, killed)
    _run_cli(argv, d)
    resumed = json.loads((d / killed / "runs" / "fold_0" / "metrics.json").read_text())
    assert resumed["resumed_from_epoch"] >= 1
    _assert_same_run(d, killed, full)


def test_killed_predict_leaves_no_partial_output(session):
    d = session
    (d / "few.bed").write_text("".join(
        f"chr1\t{s}\t{s + 100}\n" for s in range(20_000, 220_000, 40)
    ))  # fmt: skip
    argv = [*_cli(), "predict", "--model", "my_model/model.keras", "--genome", "my_genome.fa",
            "--regions", "few.bed", "--out", "killed.tsv", "--chunk-size", "250"]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=d, env=_env(d), stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        tmp = list(d.glob(".killed.tsv.*.tmp"))
        if tmp and tmp[0].stat().st_size > 20_000:  # a few chunks written
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(d.glob(".killed.tsv.*.tmp")) and not (d / "killed.tsv").exists()
    P.predict_regions(d / "my_model" / "model.keras", genome=d / "my_genome.fa",
                      regions_bed=d / "few.bed", out=d / "killed.tsv")  # fmt: skip
    assert not list(d.glob(".killed.tsv.*.tmp"))  # the dead run's temporary file is gone
    assert len(P.read_predictions(d / "killed.tsv")) == 5_000


# ~2 min here (two processes each tracing the distributed step), so marked slow (`make
# test-all`); tests/test_multiworker.py checks in the default run that two workers train the
# model one process trains, through the library.
@pytest.mark.slow
def test_pretrain_cli_on_two_workers_from_tf_config(inputs):
    """``chromtransfer pretrain`` with TF_CONFIG naming two localhost workers: they train one
    model (MultiWorkerMirroredStrategy), the chief writes --out and worker 1 writes
    ``<out>.worker-1``, each with its own dataset, learning curve and provenance."""
    from cluster_workers import run_workers

    from chromtransfer_lib.models.network import load_model

    d = inputs
    argv = [*_cli(), "-v", "pretrain", "--regions", "my_peaks.bed", "--genome", "my_genome.fa",
            "--blacklist", "my_blacklist.bed", "--out", "two_workers", "--profile", "smoke",
            "--max-epochs", "2", "--patience", "2", "--batch-size", "16", "--quiet"]  # fmt: skip
    errs = run_workers(argv, cwd=d, env=_env(d))
    assert "MultiWorkerMirroredStrategy: worker 0 of 2 workers" in errs[0]
    assert "writes to two_workers.worker-1" in errs[1]
    chief, other = (
        load_model(d / f / "model.keras") for f in ("two_workers", "two_workers.worker-1")
    )
    assert all(la.synchronized for la in chief.layers
               if la.__class__.__name__ == "BatchNormalization")  # fmt: skip
    for a, b in zip(chief.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    for folder in ("two_workers", "two_workers.worker-1"):
        history = pd.read_csv(d / folder / "runs" / "fold_0" / "history.csv")
        assert len(history) == 2 and history["val_loss"].notna().all()
        summary = json.loads((d / folder / "pretrain.json").read_text())
        assert summary["model_kind"] == "pretrain"
