"""Profiles load strictly: unknown, missing or mistyped keys name the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chromtransfer_lib.config import (
    CELL_LINES,
    PROFILE_NAMES,
    ConfigError,
    Profile,
    load_profile,
    profile_path,
)


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_packaged_profiles_load(name: str) -> None:
    prof = load_profile(name)
    assert isinstance(prof, Profile)
    assert prof.name == name
    assert set(prof.simulation.drivers) == set(CELL_LINES)
    assert prof.data.test_chroms == ("chr2", "chr3")


def test_paper_profile_has_the_papers_recipes() -> None:
    prof = load_profile("paper")
    assert prof.data.seq_len == 600
    assert (prof.model.stem_filters, prof.model.res1_filters, prof.model.res2_filters) == (
        64,
        32,
        64,
    )
    assert prof.model.pretrain_head == (512, 128)
    assert prof.model.finetune_head == (1024, 32)
    assert (prof.pretrain.learning_rate, prof.pretrain.batch_size, prof.pretrain.patience) == (
        1e-3,
        256,
        15,
    )
    assert (prof.finetune.learning_rate, prof.finetune.batch_size, prof.finetune.patience) == (
        5e-6,
        128,
        10,
    )
    assert prof.bootstrap.fractions == (0.01, 0.05, 0.10, 0.15, 0.20, 0.25, 0.50, 0.75)
    assert prof.bootstrap.repetitions == 10


def _write_variant(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load(profile_path("smoke").read_text())
    edit(raw)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_unknown_key_is_named_with_file(tmp_path: Path) -> None:
    path = _write_variant(tmp_path, lambda r: r["pretrain"].update(learnig_rate=0.1))
    with pytest.raises(
        ConfigError, match=r"variant\.yaml\.pretrain: unknown key\(s\) 'learnig_rate'"
    ):
        load_profile(path)


def test_missing_key_is_named(tmp_path: Path) -> None:
    path = _write_variant(tmp_path, lambda r: r["model"].pop("dropout"))
    with pytest.raises(ConfigError, match=r"model: missing key\(s\) 'dropout'"):
        load_profile(path)


def test_wrong_type_is_named(tmp_path: Path) -> None:
    path = _write_variant(tmp_path, lambda r: r["finetune"].update(batch_size="128"))
    with pytest.raises(ConfigError, match=r"finetune\.batch_size: expected an integer"):
        load_profile(path)


def test_cross_field_checks(tmp_path: Path) -> None:
    path = _write_variant(tmp_path, lambda r: r["bootstrap"].update(cell_line="HeLa"))
    with pytest.raises(ConfigError, match=r"bootstrap\.cell_line 'HeLa'"):
        load_profile(path)
    path = _write_variant(tmp_path, lambda r: r["pretrain"].update(folds=[0, 3]))
    with pytest.raises(ConfigError, match=r"pretrain\.folds \[3\]"):
        load_profile(path)


def test_early_stopping_monitor_is_checked(tmp_path: Path) -> None:
    from chromtransfer_lib.config import MONITORS
    from chromtransfer_lib.models.train import MONITORS as DIRECTIONS

    assert set(MONITORS) == set(DIRECTIONS)
    path = _write_variant(tmp_path, lambda r: r["finetune"].update(monitor="val_auprc"))
    with pytest.raises(ConfigError, match=r"finetune\.monitor must be one of val_loss, val_auroc"):
        load_profile(path)
    path = _write_variant(tmp_path, lambda r: r["multiclass"].update(monitor="val_auroc"))
    with pytest.raises(ConfigError, match=r"multiclass\.monitor must be val_loss"):
        load_profile(path)
    path = _write_variant(tmp_path, lambda r: r["scratch"].update(monitor="val_auroc"))
    assert load_profile(path).scratch.monitor == "val_auroc"


def test_unknown_profile_name() -> None:
    with pytest.raises(ConfigError, match="unknown profile 'fast'"):
        load_profile("fast")


def test_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_profile(path)


def test_profiles_are_frozen_and_hash_stably(tmp_path: Path) -> None:
    a, b = load_profile("smoke"), load_profile("smoke")
    assert a.config_hash() == b.config_hash()
    assert a.config_hash("model") != load_profile("quick").config_hash("model")
    with pytest.raises(AttributeError):
        a.seed = 3  # type: ignore[misc]
    path = _write_variant(tmp_path, lambda r: r.update(seed=99))
    assert load_profile(path).config_hash() != a.config_hash()
    assert load_profile(path).config_hash("model") == a.config_hash("model")


def test_keys_at_their_neutral_value_leave_hashes_as_before(tmp_path: Path) -> None:
    import hashlib
    import json

    from chromtransfer_lib.config import HASH_NEUTRAL

    a = load_profile("paper")  # every neutral key at its neutral value
    # the hash the profile had before its neutral keys existed
    d = a.to_dict()
    for section, key in HASH_NEUTRAL:
        assert d[section][key] == HASH_NEUTRAL[section, key]
        del d[section][key]
    old = hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]
    assert a.config_hash() == old
    smoke = load_profile("smoke")
    bigger = load_profile(_write_variant(tmp_path, lambda r: r["simulation"].update(
        line_scale={"HepG2": 2.0})))  # fmt: skip
    assert bigger.config_hash("simulation") != smoke.config_hash("simulation")
    assert bigger.config_hash("model") == smoke.config_hash("model")
    refreshed = load_profile(_write_variant(tmp_path, lambda r: r["scratch"].update(
        batchnorm_refresh=512)))  # fmt: skip
    assert refreshed.config_hash("scratch") != smoke.config_hash("scratch")
    assert refreshed.config_hash("model") == smoke.config_hash("model")


def test_motif_thresholds_live_in_the_profiles() -> None:
    """``chromtransfer motifs`` once hard-coded these; the profiles now hold them (the paper's)."""
    from chromtransfer_lib.config import DEFAULT_PROFILE

    assert DEFAULT_PROFILE in PROFILE_NAMES
    for name in ("quick", "paper"):
        ip = load_profile(name).interpret
        assert (ip.p_value, ip.min_sites, ip.fdr, ip.jaspar_release) == (
            1e-5,
            100,
            1e-3,
            "JASPAR2022",
        )
