"""doctor: each diagnosis and the GPU settings from given facts, and one real run here."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from chromtransfer_lib.cli import doctor as dr
from chromtransfer_lib.data import manifest as mf
from chromtransfer_lib.models import devices as dv

BUILD = {"cuda_version": "12.5.1", "cudnn_version": "9", "is_cuda_build": True}
#: Fake GPUs as TensorFlow describes them: Pascal (no tensor cores), Volta, Ampere, Hopper.
V100 = dv.GpuDevice("Tesla V100-SXM2-16GB", (7, 0))
A100 = dv.GpuDevice("NVIDIA A100-SXM4-40GB", (8, 0))
H100 = dv.GpuDevice("NVIDIA H100 80GB HBM3", (9, 0))
P100 = dv.GpuDevice("Tesla P100-PCIE-16GB", (6, 0))
BOTH = ("mixed_float16", "mixed_bfloat16")


@pytest.mark.parametrize(
    ("version", "status"),
    [((3, 11, 7), "ok"), ((3, 13, 1), "ok"), ((3, 10, 14), "fail"), ((3, 14, 0), "fail")],
)
def test_check_python(version, status):
    check = dr.check_python(version)
    assert check.status == status and ".".join(map(str, version)) in check.message


@pytest.mark.parametrize(
    ("facts", "status", "phrase"),
    [
        ({"gpus": ["/physical_device:GPU:0"]}, "ok", "1 GPU(s) visible: /physical_device:GPU:0"),
        ({"built_with_cuda": False, "build_info": {}}, "warn", "no CUDA support"),
        ({"cuda_visible_devices": "-1", "driver_found": True}, "warn", "hides every GPU"),
        ({"cuda_visible_devices": ""}, "warn", "hides every GPU"),
        ({}, "warn", "no NVIDIA driver found"),
        ({"driver_found": True}, "warn", "tensorflow[and-cuda]"),
        ({"driver_found": True, "cuda_libraries_found": True}, "warn", "TF_CPP_MIN_LOG_LEVEL"),
    ],
)
def test_check_gpu_explains_why(facts, status, phrase):
    kw = {"gpus": [], "built_with_cuda": True, "build_info": BUILD} | facts
    check = dr.check_gpu(**kw)
    assert check.status == status and phrase in check.message
    if status == "ok":
        assert "CUDA 12.5.1" in check.message
    else:  # the same diagnosis becomes a failure when a GPU is required
        strict = dr.check_gpu(require_gpu=True, **kw)
        assert strict.status == "fail" and phrase in strict.message


def test_check_gpu_required_and_present_is_ok():
    check = dr.check_gpu(
        gpus=["GPU:0", "GPU:1"], built_with_cuda=True, build_info=BUILD, require_gpu=True
    )
    assert check.status == "ok" and "2 GPU(s)" in check.message


@pytest.mark.parametrize(
    ("needed", "free", "writable", "status", "phrase"),
    [
        (10**9, 50 * 10**9, True, "ok", "50.0 GB free"),
        (10**9, 10**8, True, "warn", "not enough space"),
        (0, 50 * 10**9, False, "warn", "NOT writable"),
    ],
)
def test_check_cache(tmp_path, needed, free, writable, status, phrase):
    check = dr.check_cache(
        tmp_path, needed_bytes=needed, free_bytes=free, writable=writable, source="argument"
    )
    assert check.status == status and phrase in check.message and str(tmp_path) in check.message


def _tiny_manifest(tmp_path):
    """Two TOFU-free pinned entries; one present and good, one present but corrupted."""
    d = tmp_path / "manifest"
    d.mkdir()
    cache = tmp_path / "cache"
    (cache / "d").mkdir(parents=True)
    entries = []
    for name, body, stored in (
        ("good", b"abc" * 10, b"abc" * 10),
        ("bad", b"xyz" * 10, b"q" * 30),
        ("absent", b"123", None),
    ):
        entries.append(
            {
                "name": name,
                "url": f"https://example.org/{name}",
                "path": f"d/{name}",
                "sha256": hashlib.sha256(body).hexdigest(),
                "size": len(body),
                "license": "CC0",
                "citation": "test",
                "used_by": ["tests"],
                "description": "test file",
            }
        )
        if stored is not None:
            (cache / "d" / name).write_bytes(stored)
    (d / "t.yaml").write_text(yaml.safe_dump({"entries": entries}))
    return d, cache


def test_check_manifest_files(tmp_path):
    d, cache = _tiny_manifest(tmp_path)
    table = mf.status(manifest_dir=d, cache_dir=cache)
    check = dr.check_manifest_files(table)
    assert check.status == "warn"
    assert "1 of 3 manifest files present" in check.message
    assert "checksum mismatch: bad" in check.message and "missing: absent" in check.message
    assert "chromtransfer fetch --all" in check.message
    ok = dr.check_manifest_files(table[table["name"] == "good"])
    assert ok.status == "ok"


def test_run_doctor_on_this_machine(tmp_path, monkeypatch):
    import tensorflow as tf

    d, cache = _tiny_manifest(tmp_path)
    monkeypatch.setenv(mf.MIRROR_ENV, "/srv/mirror")
    report = dr.run_doctor(cache_dir=cache, manifest_dir=d, verify_checksums=True)
    names = [c.name for c in report.checks]
    assert names == [
        "python",
        "tensorflow",
        "keras",
        "gpu",
        "paper settings",
        "data cache",
        "manifest files",
        "mirror",
    ]
    assert tf.__version__ in report.get("tensorflow").message
    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    assert report.get("gpu").status == ("ok" if has_gpu else "warn")
    settings = report.gpu_settings
    gpus = dv.visible_gpus()
    assert settings == dv.recommend_gpu_settings(gpus, xla_available=dv.xla_supported())
    assert len(gpus) == len(tf.config.list_physical_devices("GPU"))
    if not has_gpu:
        assert settings.mixed_precision is None and settings.predict_batch_size == 512
    assert f"batch {settings.predict_batch_size:,}" in report.get("paper settings").message
    assert str(cache) in report.get("data cache").message
    assert "(argument)" in report.get("data cache").message
    assert "checksum mismatch: bad" in report.get("manifest files").message
    assert "/srv/mirror" in report.get("mirror").message
    assert report.ok and report.exit_code == 0
    text = dr.format_report(report)
    assert all(n in text for n in names) and text.splitlines()[-1].startswith("ready:")
    strict = dr.run_doctor(cache_dir=cache, manifest_dir=d, require_gpu=True)
    assert strict.ok == has_gpu and strict.exit_code == (0 if has_gpu else 1)
    if not has_gpu:
        assert dr.format_report(strict).splitlines()[-1].startswith("NOT ready:")
        assert "[FAIL] gpu" in dr.format_report(strict)


def test_run_doctor_reports_a_broken_manifest(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "x.yaml").write_text("entries: [{name: x}]\n")
    report = dr.run_doctor(cache_dir=tmp_path / "c", manifest_dir=tmp_path / "m")
    check = report.get("manifest files")
    assert check.status == "fail" and "missing key" in check.message and not report.ok
    with pytest.raises(KeyError, match="no check named"):
        report.get("nope")


def test_recommend_gpu_settings_without_a_gpu_keeps_the_cpu_defaults():
    s = dv.recommend_gpu_settings([], xla_available=True)
    assert s.mixed_precision is None and not s.loss_scaling and not s.xla
    assert s.supported_policies == ()
    assert s.predict_batch_size == 512 and "no GPU" in s.reasons[0]


@pytest.mark.parametrize(
    ("gpu", "supported"),
    [(V100, ("mixed_float16",)), (A100, BOTH), (H100, BOTH)],
)
def test_recommend_gpu_settings_one_tensor_core_gpu(gpu, supported):
    """cc >= 7.0: float16 with loss scaling (closer to float32 than bfloat16), XLA, big batches."""
    s = dv.recommend_gpu_settings([gpu], xla_available=True)
    assert s.mixed_precision == "mixed_float16" and s.loss_scaling
    assert s.supported_policies == supported
    assert s.xla and s.predict_batch_size == 4096
    assert gpu.name in s.reasons[0] and "XLA on" in s.reasons[-1]


def test_recommend_gpu_settings_old_or_unknown_gpu_stays_float32():
    for gpu in (P100, dv.GpuDevice("mystery", None)):
        s = dv.recommend_gpu_settings([gpu], xla_available=True)
        assert s.mixed_precision is None and not s.loss_scaling and s.supported_policies == ()
        assert s.predict_batch_size == 2048 and s.xla
    assert "no tensor cores" in dv.recommend_gpu_settings([P100], xla_available=True).reasons[1]


def test_recommend_gpu_settings_without_xla():
    s = dv.recommend_gpu_settings([A100], xla_available=False)
    assert not s.xla and s.mixed_precision == "mixed_float16" and "XLA off" in s.reasons[-1]


def test_recommend_gpu_settings_several_gpus():
    """The oldest GPU decides the precision; no XLA under MirroredStrategy."""
    same = dv.recommend_gpu_settings([A100, A100], xla_available=True)
    assert same.mixed_precision == "mixed_float16" and "mixed_bfloat16" in same.supported_policies
    assert not same.xla and "MirroredStrategy" in same.reasons[-1]
    mixed = dv.recommend_gpu_settings([H100, V100], xla_available=True)
    assert mixed.supported_policies == ("mixed_float16",) and "oldest (cc 7.0)" in mixed.reasons[1]
    old = dv.recommend_gpu_settings([A100, P100], xla_available=True)
    assert old.mixed_precision is None and old.predict_batch_size == 2048
    unknown = dv.recommend_gpu_settings([A100, dv.GpuDevice("?", None)], xla_available=True)
    assert unknown.mixed_precision is None


def test_check_gpu_settings_renders_the_recommendation():
    s = dv.recommend_gpu_settings([H100], xla_available=True)
    check = dr.check_gpu_settings(s)
    assert check.name == "paper settings" and check.status == "ok"
    assert "mixed_float16 with loss scaling, prediction batch 4,096, XLA on" in check.message
    assert s.to_dict()["supported_policies"] == ["mixed_float16", "mixed_bfloat16"]
    cpu = dr.check_gpu_settings(dv.recommend_gpu_settings([], xla_available=False))
    assert "float32, prediction batch 512, XLA off" in cpu.message
