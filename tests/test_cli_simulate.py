"""``chromtransfer simulate``: a world in a folder, the same bytes for the same seed, driver TFs
from the command line, and one-line errors for bad lines, TFs and output folders.

Each call runs in-process on the smoke profile (its world: ~0.5 s).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from chromtransfer_lib.cli.main import main
from chromtransfer_lib.config import CELL_LINES, load_profile

SMOKE = load_profile("smoke")


def _simulate(out: Path, *extra: str) -> int:
    return main(["simulate", "--profile", "smoke", "--out", str(out), *extra])


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_other_seed_other_genome(tmp_path, capsys):
    assert _simulate(tmp_path / "a", "--seed", "7") == 0
    summary = capsys.readouterr().out
    assert _simulate(tmp_path / "b", "--seed", "7") == 0
    assert _simulate(tmp_path / "c", "--seed", "8") == 0
    a, b, c = (_digests(tmp_path / k) for k in "abc")
    assert {"genome.fa", "rdhs.bed", "ground_truth.tsv", "labels/train/HEPG2.csv"} <= set(a)
    assert len(a) == 22  # FASTA + index, 4 BEDs, 12 label files, 3 truth tables, manifest
    assert a == b
    assert set(c) == set(a) and c["genome.fa"] != a["genome.fa"]
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["random_state"] == 7
    # the summary says where the world is and counts regions and sites per class
    regions = pd.read_csv(tmp_path / "a" / "region_truth.tsv", sep="\t")
    n_specific = int((regions["region_class"] == "specific").sum())
    assert str((tmp_path / "a").resolve()) in summary and "seed 7" in summary
    assert f"specific {n_specific:,}" in summary and "background" in summary


def test_seed_defaults_to_the_profiles(tmp_path):
    assert _simulate(tmp_path / "w") == 0
    assert json.loads((tmp_path / "w" / "manifest.json").read_text())["random_state"] == SMOKE.seed


def test_drivers_replace_one_lines_driver_tfs(tmp_path):
    assert _simulate(tmp_path / "w", "--drivers", "hepg2=GATA4,nr1h4,MA0153") == 0
    motifs = pd.read_csv(tmp_path / "w" / "motifs.tsv", sep="\t", keep_default_na=False)
    driver_of = {
        c: set(motifs.loc[motifs["driver_of"].str.contains(c), "name"]) for c in CELL_LINES
    }
    assert driver_of["HepG2"] == {"GATA4", "Nr1H4", "HNF1B"}  # MA0153: HNF1B's base ID
    assert driver_of["K562"] == set(SMOKE.simulation.drivers["K562"])
    regions = pd.read_csv(tmp_path / "w" / "region_truth.tsv", sep="\t", keep_default_na=False)
    hepg2 = set(regions.loc[(regions["region_class"] == "specific")
                            & (regions["grammar"] == "HepG2"), "name"])  # fmt: skip
    truth = pd.read_csv(tmp_path / "w" / "ground_truth.tsv", sep="\t", keep_default_na=False)
    planted = set(truth.loc[truth["region"].isin(hepg2) & (truth["role"] == "driver"), "tf"])
    assert planted == {"GATA4", "Nr1H4", "HNF1B"}
    spec = json.loads((tmp_path / "w" / "manifest.json").read_text())["spec"]
    assert spec["drivers"]["HepG2"] == ["GATA4", "nr1h4", "MA0153"]
    assert spec["drivers"]["MCF7"] == list(SMOKE.simulation.drivers["MCF7"])


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("HepG2=HNF4A,NOTATF", ["'NOTATF'", "JASPAR2022"]),
        ("Liver=HNF4A", ["'Liver'", "A549, HCT116, HepG2, GM12878, K562, MCF7"]),
        ("HepG2", ["LINE=TF"]),
        ("HepG2=SOX10", ["SOX10", "decoy"]),
    ],
)
def test_bad_drivers_are_one_line_errors(tmp_path, capsys, value, names):
    assert _simulate(tmp_path / "w", "--drivers", value) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"chromtransfer simulate: error: --drivers {value!r}")
    assert "\n" not in err
    for name in names:
        assert name in err
    assert not (tmp_path / "w").exists()


def test_non_empty_out_is_refused_unless_forced(tmp_path, capsys):
    out = tmp_path / "w"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    assert _simulate(out) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(out) in err and "--force" in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert _simulate(out, "--force") == 0
    assert (out / "notes.txt").read_text() == "mine\n" and (out / "manifest.json").is_file()
    (out / "empty").mkdir()
    assert _simulate(out / "empty") == 0  # an existing empty folder is fine
