"""Output a learner can read: progress bars only on a terminal (or in Jupyter), ``TQDM_DISABLE``
honoured by every bar, one log line per epoch instead of per-batch redraws, and TensorFlow's
start-up notices hidden on a CPU-only machine unless ``chromtransfer -v``.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_own_data import SMOKE, _cli, _pretrained
from test_train import TINY

from chromtransfer_lib import progress as P
from chromtransfer_lib.cli import quiet as Q
from chromtransfer_lib.predict import read_predictions

#: What TensorFlow printed on this (CPU-only, 2-core) machine before quiet.py, on every start.
TF_NOTICES = (
    "All log messages before absl::InitializeLog()",
    "cudart_stub",
    "Could not find cuda drivers",
    "cpu_feature_guard",
    "failed call to cuInit",
    "Memory patch applied",
    "oneDNN custom operations",
)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def no_bar_env(monkeypatch):
    monkeypatch.delenv(P.DISABLE_ENV, raising=False)
    monkeypatch.delitem(sys.modules, "ipykernel.zmqshell", raising=False)


# ------------------------------------------------------------------ the bar factory


def test_bar_is_drawn_on_a_terminal_only(no_bar_env):
    term, pipe = _Terminal(), io.StringIO()
    assert P.bars_enabled(file=term) and not P.bars_enabled(file=pipe)
    assert not P.bars_enabled(False, file=term)  # the caller's progress=False always wins
    for _ in P.progress_bar(range(3), file=term, desc="on a terminal"):
        pass
    assert "on a terminal" in term.getvalue() and "\r" in term.getvalue()
    bar = P.progress_bar(range(3), file=pipe, desc="in a pipe")
    assert bar.disable and list(bar) == [0, 1, 2]  # a disabled bar still iterates
    bar.update(1), bar.set_postfix(loss="0.1"), bar.close()
    assert pipe.getvalue() == ""
    with pytest.raises(TypeError, match="enabled="):
        P.progress_bar(range(3), disable=False)


def test_default_stream_is_stderr_at_call_time(no_bar_env, monkeypatch):
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert P.bars_enabled()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not P.bars_enabled()


@pytest.mark.parametrize(
    ("value", "drawn"), [("1", False), ("True", False), ("0", True), ("", True)]
)
def test_tqdm_disable_is_read_at_each_call(no_bar_env, monkeypatch, value, drawn):
    monkeypatch.setenv(P.DISABLE_ENV, value)  # after tqdm was imported, as in a worker
    assert P.bars_enabled(file=_Terminal()) is drawn


def test_jupyter_kernel_keeps_its_bars(no_bar_env, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", sys)  # what tqdm.auto checks too
    assert P.bars_enabled(file=io.StringIO())
    monkeypatch.setenv(P.DISABLE_ENV, "1")
    assert not P.bars_enabled(file=io.StringIO())


def test_tqdm_disable_silences_the_extract_bar(no_bar_env, monkeypatch, tmp_path):
    """The 'extract' bar passed ``disable=not progress`` to tqdm, which then ignored
    ``TQDM_DISABLE`` (tqdm reads it at import, and only for arguments left out)."""
    from chromtransfer_lib.genome.sequence import extract_sequences

    fasta = tmp_path / "g.fa"
    fasta.write_text(">c1\n" + "ACGT" * 50 + "\n>c2\n" + "GGCC" * 50 + "\n")
    regions = pd.DataFrame({"chrom": ["c1", "c2"], "start": [0, 10], "end": [20, 30]})
    for env, drawn in (("1", False), ("0", True)):
        monkeypatch.setenv(P.DISABLE_ENV, env)
        monkeypatch.setattr(sys, "stderr", _Terminal())
        extract_sequences(fasta, regions, length=20, progress=True, cache=False)
        assert ("extract" in sys.stderr.getvalue()) is drawn


def test_training_in_a_pipe_logs_one_line_per_epoch_and_draws_no_bar(
    no_bar_env, monkeypatch, tmp_path, caplog
):
    from chromtransfer_lib.models import network as M
    from chromtransfer_lib.models import train as T

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (64, TINY["seq_len"])).astype(np.uint8)
    y = (np.arange(64) % 2).astype(np.int64)
    caplog.set_level(logging.INFO, logger=T.__name__)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # 2>&1 | tee log
    model = M.build_pretrain_model(head_units=(8, 4), random_state=0, **TINY)
    recipe = T.Recipe(learning_rate=3e-3, batch_size=16, max_epochs=2, patience=5)
    T.train_model(model, recipe, train=(codes, y, np.arange(48)), val=(codes, y, np.arange(48, 64)),
                  out_dir=tmp_path / "run", random_state=1, progress=True)  # fmt: skip
    lines = [r.getMessage() for r in caplog.records if "run epoch" in r.getMessage()]
    assert [x.split(":")[0] for x in lines] == ["run epoch 1", "run epoch 2"]
    assert all("val_loss" in x for x in lines)
    assert sys.stderr.getvalue() == ""  # no bar: not one carriage return


def test_epoch_bar_is_drawn_on_a_terminal(no_bar_env, monkeypatch):
    from chromtransfer_lib.models import train as T

    monkeypatch.setattr(sys, "stderr", _Terminal())
    bar = T._BatchBar(3, "run")
    bar.on_epoch_begin(0)
    for batch in range(3):
        bar.on_train_batch_end(batch, {"loss": 0.5})
    bar.on_epoch_end(0)
    assert "run epoch 1" in sys.stderr.getvalue() and "\r" in sys.stderr.getvalue()


# ------------------------------------------------------------------ TensorFlow's notices

_NOISY = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796287190.035687    4922 cudart_stub.cc:31] Could not find cuda drivers on your \
machine, GPU will not be used.
I0000 00:00:1796287190.225601    4922 cpu_feature_guard.cc:227] This TensorFlow binary is \
optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with \
the appropriate compiler flags.
/x/y.py:3: UserWarning: a Python warning
W0000 00:00:1796287190.5    4922 some_op.cc:1] a warning
E0000 00:00:1796287212.378639    4922 cuda_platform.cc:52] failed call to cuInit: INTERNAL
Traceback (most recent call last):
"""


def test_drop_notices_applies_the_level_to_early_lines():
    lines = _NOISY.splitlines(keepends=True)
    assert Q.drop_notices(_NOISY, 0) == _NOISY
    assert Q.drop_notices(_NOISY, 1) == "".join(lines[4:])
    assert Q.drop_notices(_NOISY, 2) == lines[4] + "".join(lines[6:])
    assert Q.drop_notices(_NOISY, 3) == lines[4] + lines[7]


def test_quiet_tensorflow_setdefaults_the_level_unless_verbose(monkeypatch):
    monkeypatch.setattr(Q, "nvidia_driver_found", lambda: False)
    monkeypatch.delenv(Q.LEVEL_ENV, raising=False)
    Q.quiet_tensorflow(verbose=True)()
    assert Q.LEVEL_ENV not in os.environ
    monkeypatch.setenv(Q.LEVEL_ENV, "0")  # the user's own value wins (doctor's hint)
    hooks = list(sys.meta_path)
    restore = Q.quiet_tensorflow(verbose=False)
    assert os.environ[Q.LEVEL_ENV] == "0" and sys.meta_path == hooks  # level 0: no filter
    restore()
    assert os.environ[Q.LEVEL_ENV] == "0"
    monkeypatch.delenv(Q.LEVEL_ENV)
    restore = Q.quiet_tensorflow(verbose=False)
    assert os.environ[Q.LEVEL_ENV] == "3"
    if "tensorflow" not in sys.modules:  # only the first import is wrapped
        assert isinstance(sys.meta_path[0], Q._QuietTensorFlowImport)
    restore()
    assert Q.LEVEL_ENV not in os.environ and sys.meta_path == hooks
    monkeypatch.setattr(Q, "nvidia_driver_found", lambda: True)  # a GPU machine: as TF does
    Q.quiet_tensorflow(verbose=False)
    assert Q.LEVEL_ENV not in os.environ and sys.meta_path == hooks


_CHILD = """
import os, sys
os.write(2, sys.argv[1].encode())
"""


def _book_like(noisy: str, *, verbose: bool, level: str = "3") -> str:
    """stderr of a process that, inside :func:`kernels_quiet`, starts a child (as papermill
    starts a kernel) writing ``noisy`` to its inherited fd 2, then logs one line itself."""
    code = (
        "import subprocess, sys\n"
        "from chromtransfer_lib.cli import quiet as Q\n"
        "Q.nvidia_driver_found = lambda: False\n"
        f"with Q.kernels_quiet(verbose={verbose}):\n"
        f"    subprocess.run([sys.executable, '-c', {_CHILD!r}, sys.argv[1]], check=True)\n"
        "    print('book: chapter done', file=sys.stderr)\n"
        "print('after', file=sys.stderr)\n"
    )
    env = {**os.environ, Q.LEVEL_ENV: level}
    done = subprocess.run([sys.executable, "-c", code, noisy], capture_output=True, env=env,
                          check=True)  # fmt: skip
    return done.stderr.decode()  # bytes: keep the progress bar's \\r


def test_kernels_quiet_filters_children_and_keeps_everything_else():
    tcp = (
        "[IPKernelApp] WARNING | Kernel is running over TCP without encryption. All "
        "communication (including code and outputs) is sent in plain text.\n"
    )
    progress = "Executing:  50%|#####     | 1/2\rExecuting: 100%|##########| 2/2\n"
    noisy = _NOISY + tcp + progress + "Traceback (most recent call last): real error\n"
    out = _book_like(noisy, verbose=False)
    assert out == (
        Q.drop_notices(_NOISY, 3) + progress + "Traceback (most recent call last): real error\n"
        "book: chapter done\nafter\n"
    )
    assert _book_like(noisy, verbose=True) == noisy + "book: chapter done\nafter\n"
    assert _book_like(noisy, verbose=False, level="0") == noisy + "book: chapter done\nafter\n"


@pytest.fixture(scope="module")
def predict_inputs(tmp_path_factory) -> Path:
    """The smoke world's genome, 40 regions on it and a smoke-width model."""
    from chromtransfer_lib.sim.world import simulate_world

    d = tmp_path_factory.mktemp("output")
    world = simulate_world(d / "world", spec=SMOKE.simulation, random_state=SMOKE.seed)
    starts = np.linspace(20_000, 200_000, 40).astype(int)
    pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + 300}).to_csv(
        d / "regions.bed", sep="\t", header=False, index=False
    )
    _pretrained(d / "model.keras")
    assert world.genome == d / "world" / "genome.fa"
    return d


def _predict(d: Path, out: str, *verbose: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (Q.LEVEL_ENV, P.DISABLE_ENV)}
    env["CHROMTRANSFER_DATA"] = str(d / "cache")
    argv = [*_cli(), *verbose, "predict", "--model", "model.keras", "--genome",
            "world/genome.fa", "--regions", "regions.bed", "--out", out]  # fmt: skip
    run = subprocess.run(argv, cwd=d, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert len(read_predictions(d / out)) == 40
    return run


def _tf_prints_cuda_notices() -> bool:
    """What was seen here: a CUDA-built TensorFlow on a machine without an NVIDIA driver."""
    import tensorflow as tf

    return tf.test.is_built_with_cuda() and not Q.nvidia_driver_found()


def test_piped_cli_output_has_no_redraws_and_no_tf_notices(predict_inputs):
    run = _predict(predict_inputs, "p.tsv")
    assert "\r" not in run.stderr
    if not Q.nvidia_driver_found():
        assert not [n for n in TF_NOTICES if n in run.stderr], run.stderr


def test_verbose_keeps_tf_notices(predict_inputs):
    run = _predict(predict_inputs, "pv.tsv", "-v")
    assert "\r" not in run.stderr  # -v is more logging, not bars in a pipe
    if _tf_prints_cuda_notices():
        for notice in ("Could not find cuda drivers", "failed call to cuInit"):
            assert notice in run.stderr
