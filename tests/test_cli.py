"""The ``chromtransfer`` command: every --help renders; one ``--profile`` default; bad input is
one line (exit 2) while a bug keeps its traceback; ``attribute`` differentiates the logit like
the book; ``motifs`` takes its thresholds from the profile."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from chromtransfer_lib.cli.main import build_parser, main
from chromtransfer_lib.config import DEFAULT_PROFILE, load_profile, profile_path

L = 100


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return next(a for a in parser._actions if a.dest == "command").choices


def _subcommands() -> list[str]:
    return sorted(_subparsers())


@pytest.mark.parametrize("command", _subcommands())
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: chromtransfer " + command)


def test_profile_prints_resolved_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "smoke"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "smoke"


def test_bad_profile_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "nonexistent"]) == 2
    assert "unknown profile 'nonexistent'" in capsys.readouterr().err


# ------------------------------------------------------------------ one --profile default


def test_every_profile_option_has_the_one_default(capsys: pytest.CaptureFixture[str]) -> None:
    defaults = {}
    for name, p in _subparsers().items():
        for action in p._actions:
            if action.dest == "profile":
                defaults[name] = action.default
    assert {"book", "bootstrap", "finetune", "motifs", "profile"} <= set(defaults)
    assert set(defaults.values()) == {DEFAULT_PROFILE} and DEFAULT_PROFILE == "quick"
    assert main(["profile"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == DEFAULT_PROFILE


def test_finetune_help_names_the_recipe_it_uses() -> None:
    text = " ".join(_subparsers()["finetune"].format_help().split())
    for name in (DEFAULT_PROFILE, "paper"):
        f = load_profile(name).finetune
        assert f"{name}: learning rate {f.learning_rate:g}, batch {f.batch_size}" in text


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("bug", [ValueError, OSError, KeyError, TypeError])
def test_a_bug_keeps_its_traceback(bug, monkeypatch) -> None:
    """Only the project's InputError is a one-line message; a ValueError from a bug is not."""
    import chromtransfer_lib.config as config

    def broken(name):
        raise bug("a bug, not bad input")

    monkeypatch.setattr(config, "load_profile", broken)
    with pytest.raises(bug, match="a bug, not bad input"):
        main(["profile", "smoke"])


def test_a_bug_prints_a_traceback_from_the_console_script(tmp_path) -> None:
    import subprocess
    import sys

    code = (
        "import chromtransfer_lib.config as c, sys\n"
        "def broken(name): raise ValueError('a bug, not bad input')\n"
        "c.load_profile = broken\n"
        "from chromtransfer_lib.cli.main import main\n"
        "sys.exit(main(['profile', 'smoke']))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1
    assert "Traceback (most recent call last)" in res.stderr
    assert res.stderr.strip().splitlines()[-1] == "ValueError: a bug, not bad input"


def test_bad_input_is_one_line_with_exit_status_2(tmp_path, capsys) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text(profile_path("smoke").read_text().replace("seed:", "sed:", 1))
    assert main(["profile", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith(f"chromtransfer profile: error: {bad}: unknown key(s) 'sed'")


# ------------------------------------------------------------------ attribute and motifs


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-chromosome genome, 12 regions and an untrained width-4 model of 100 bp."""
    from chromtransfer_lib.models.network import build_pretrain_model

    d = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    with open(d / "genome.fa", "w") as fh:
        for chrom, n in (("chr1", 3000), ("chr2", 2000)):
            s = "".join(rng.choice(list("ACGT"), n))
            fh.write(f">{chrom}\n" + "".join(s[i : i + 60] + "\n" for i in range(0, n, 60)))
    starts = rng.integers(0, 1800, 12)
    (d / "regions.bed").write_text(
        "".join(f"chr{1 + i % 2}\t{s}\t{s + 150}\tr{i}\n" for i, s in enumerate(starts))
    )
    net = build_pretrain_model(seq_len=L, stem_filters=4, res1_filters=4, res2_filters=4,
                               top_filters=4, head_units=(8, 4), random_state=0)  # fmt: skip
    net.save(d / "model.keras")
    return d


def _attribute(tiny: Path, out: Path, *extra: str) -> int:
    return main(["attribute", "--model", str(tiny / "model.keras"), "--genome",
                 str(tiny / "genome.fa"), "--regions", str(tiny / "regions.bed"), "--out",
                 str(out), "--quiet", *extra])  # fmt: skip


def test_attribute_differentiates_the_logit_like_the_book(tiny, tmp_path) -> None:
    from chromtransfer_lib.book.interpretation import logit_model
    from chromtransfer_lib.interpret.attribution import grad_x_input, in_silico_mutagenesis
    from chromtransfer_lib.models.network import load_model
    from chromtransfer_lib.predict import load_attributions

    assert _attribute(tiny, tmp_path / "default", "--ism") == 0
    default = load_attributions(tmp_path / "default")
    net = load_model(tiny / "model.keras")
    codes = default.codes
    book = grad_x_input(
        logit_model(net), codes
    )  # what book.interpretation.ensure_attributions does
    np.testing.assert_allclose(default.grad_x_input, book, rtol=1e-5, atol=1e-7)
    ism = in_silico_mutagenesis(logit_model(net), codes).delta  # ... and ensure_ism
    np.testing.assert_allclose(default.ism_delta, ism, rtol=1e-4, atol=1e-6)
    assert _attribute(tiny, tmp_path / "prob", "--target", "probability") == 0
    prob = load_attributions(tmp_path / "prob")
    np.testing.assert_allclose(prob.grad_x_input, grad_x_input(net, codes), rtol=1e-5, atol=1e-7)
    p = default.regions["probability"].to_numpy()
    np.testing.assert_allclose(prob.grad_x_input, (p * (1 - p))[:, None] * book, rtol=1e-3,
                               atol=1e-7)  # fmt: skip
    assert not np.allclose(prob.grad_x_input, default.grad_x_input)
    assert default.provenance["target"] == "logit" and prob.provenance["target"] == "probability"


@pytest.fixture
def motif_calls(monkeypatch):
    """Record what reaches the JASPAR loader, the scanner and the KS test (3 real matrices)."""
    import chromtransfer_lib.genome.jaspar as jaspar
    import chromtransfer_lib.interpret.enrichment as enrichment
    import chromtransfer_lib.interpret.scan as scan

    calls: dict[str, object] = {}
    load, prepare, ks = jaspar.load_jaspar, scan.prepare_motifs, enrichment.ks_enrichment
    three = tuple(m for m in load("JASPAR2022") if m.name in ("GATA1", "HNF4A", "CTCF"))

    def fake_load(release="JASPAR2022", *args, **kw):
        calls["release"] = release
        return three

    def spy_prepare(matrices, *, p_value, **kw):
        calls["p_value"] = p_value
        return prepare(matrices, p_value=p_value, **kw)

    def spy_ks(sites, *, min_sites, fdr, **kw):
        calls["min_sites"], calls["fdr"] = min_sites, fdr
        return ks(sites, min_sites=min_sites, fdr=fdr, **kw)

    monkeypatch.setattr(jaspar, "load_jaspar", fake_load)
    monkeypatch.setattr(scan, "prepare_motifs", spy_prepare)
    monkeypatch.setattr(enrichment, "ks_enrichment", spy_ks)
    return calls


def test_motifs_take_thresholds_from_the_profile_and_flags_override(
    tiny, tmp_path, motif_calls
) -> None:
    text = profile_path("smoke").read_text()
    for key, value in (("p_value", "3.0e-04"), ("min_sites", "7"), ("fdr", "0.05"),
                       ("jaspar_release", "JASPAR2020")):  # fmt: skip
        head, tail = text.split("\ninterpret:\n", 1)
        lines = [f"  {key}: {value}" if x.startswith(f"  {key}:") else x for x in tail.split("\n")]
        text = head + "\ninterpret:\n" + "\n".join(lines)
    mine = tmp_path / "mine.yaml"
    mine.write_text(text)
    assert load_profile(mine).interpret.min_sites == 7
    assert _attribute(tiny, tmp_path / "a") == 0
    argv = ["motifs", "--attributions", str(tmp_path / "a"), "--quiet"]
    assert main([*argv, "--profile", str(mine), "--out", str(tmp_path / "m1")]) == 0
    assert motif_calls == {"release": "JASPAR2020", "p_value": 3e-4, "min_sites": 7, "fdr": 0.05}
    prov = json.loads((tmp_path / "m1" / "provenance.json").read_text())
    assert (prov["jaspar"], prov["p_value"], prov["min_sites"], prov["fdr"]) == (
        "JASPAR2020", 3e-4, 7, 0.05)  # fmt: skip
    flags = ["--p-value", "1e-3", "--min-sites", "2", "--fdr", "0.2", "--jaspar-release", "J24"]
    assert main([*argv, "--profile", str(mine), "--out", str(tmp_path / "m2"), *flags]) == 0
    assert motif_calls == {"release": "J24", "p_value": 1e-3, "min_sites": 2, "fdr": 0.2}
    assert main([*argv, "--out", str(tmp_path / "m3")]) == 0  # no --profile: the default's
    ip = load_profile(DEFAULT_PROFILE).interpret
    assert motif_calls == {"release": ip.jaspar_release, "p_value": ip.p_value,
                           "min_sites": ip.min_sites, "fdr": ip.fdr}  # fmt: skip


def test_a_closed_stdout_pipe_stops_quietly() -> None:
    """``chromtransfer profile quick | head -1``: the reader goes away; the command stops with
    141 (128 + SIGPIPE) and no BrokenPipeError traceback."""
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)  # the reader has gone before anything is written
    try:
        res = subprocess.run(
            [sys.executable, "-m", "chromtransfer_lib.cli.main", "profile", "quick"],
            stdout=write, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    finally:
        os.close(write)
    assert res.returncode == 141, res.stderr
    assert "Traceback" not in res.stderr and "BrokenPipe" not in res.stderr
