"""Start localhost workers of one ``MultiWorkerMirroredStrategy`` cluster (each with its
``TF_CONFIG``) and wait for them; shared by tests/test_multiworker.py and the CLI test in
tests/test_own_data.py."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path


def tf_config(workers: list[str], index: int) -> str:
    """TensorFlow's ``TF_CONFIG`` for worker ``index`` of ``workers``."""
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def run_workers(argv: list[str], *, cwd: Path | None = None, env: Mapping[str, str],
                n: int = 2, timeout: float = 600) -> list[str]:  # fmt: skip
    """Run ``argv`` as ``n`` workers on free localhost ports (the last started first); assert
    each exits 0; their stderr, by worker index."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    workers = [f"localhost:{s.getsockname()[1]}" for s in socks]
    for s in socks:
        s.close()
    procs = {i: subprocess.Popen(argv, cwd=cwd, env={**env, "TF_CONFIG": tf_config(workers, i)},
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for i in reversed(range(n))}  # fmt: skip
    try:
        errs = {i: p.communicate(timeout=timeout)[1] for i, p in procs.items()}
    finally:
        for p in procs.values():
            p.kill()
    for i, p in procs.items():
        assert p.returncode == 0, f"worker {i}: {errs[i][-3000:]}"
    return [errs[i] for i in range(n)]
