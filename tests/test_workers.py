"""BM3D's worker processes (lvrlib.workers) never run the caller's code again.

multiprocessing's spawn start method re-imports the caller's ``__main__`` in every worker:
an unguarded script ran once per worker (and died with BrokenProcessPool), and a script
piped to ``python -`` died at once. These tests run such scripts for real, on two tiny
images with two workers, and check the pool's results, failures and clean-up.
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import lvrlib.workers as workers
from lvrlib.baselines import bm3d_denoise

SCRIPT = textwrap.dedent("""\
    import torch
    print("MARKER: the script's top level ran", flush=True)
    from lvrlib.baselines import bm3d_denoise

    g = torch.Generator().manual_seed(0)
    x = torch.linspace(-0.5, 0.5, 32).expand(2, 3, 32, 32)
    y = x + 0.2 * torch.randn(x.shape, generator=g)
    out = bm3d_denoise(y, 25, workers=2)
    print("shape", tuple(out.shape), "finite", bool(torch.isfinite(out).all()))
""")


def noisy(n: int, channels: int = 3, size: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    x = torch.linspace(-0.5, 0.5, size).expand(n, channels, size, size)
    return x + 0.2 * torch.randn(x.shape, generator=g)


@pytest.mark.parametrize("how", ["python script.py", "python - < script.py"])
def test_unguarded_script_runs_once(tmp_path, how):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    if how == "python script.py":
        proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
    else:
        proc = subprocess.run([sys.executable, "-"], input=SCRIPT, cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("MARKER") == 1, proc.stdout
    assert "shape (2, 3, 32, 32) finite True" in proc.stdout, proc.stdout


class CountedWorker(workers._Worker):
    started: list = []

    def __init__(self):
        super().__init__()
        CountedWorker.started.append(self)


@pytest.fixture
def counted(monkeypatch):
    CountedWorker.started = []
    monkeypatch.setattr(workers, "_Worker", CountedWorker)
    return CountedWorker.started


def test_two_workers_give_the_in_process_result_and_exit(counted):
    y = noisy(2, channels=1)                       # gray: BM3D is 3x faster than on colour
    here = bm3d_denoise(y, 25, workers=1)
    assert counted == []                           # one worker: BM3D runs in this process
    there = bm3d_denoise(y, 25, workers=2)
    assert len(counted) == 2
    assert there.shape == y.shape and there.dtype == torch.float32
    # Exact: the same BM3D code on the same float64 inputs on one thread in both processes
    # (workers.BM3D_PROFILE), so the same operations in the same order; the BLAS threads
    # that differ (one in the worker) split a product's outputs, not its sums.
    assert torch.equal(there, here)
    assert all(w.proc.returncode == 0 for w in counted)


def test_bad_arguments_are_refused_before_any_worker_starts(counted):
    with pytest.raises(ValueError, match="expected non-negative"):
        bm3d_denoise(noisy(4), -5, workers=2)
    with pytest.raises(ValueError, match="task='bm4d'"):
        workers.map_images("bm4d", [np.zeros((4, 4, 1))], [0.1], workers=2)
    assert counted == []


def test_a_failing_task_raises_with_the_workers_message(counted):
    bad = np.zeros((32, 32, 2))                    # two channels: BM3D's reshape fails
    with pytest.raises(RuntimeError, match="bm3d failed in a worker process: ValueError"):
        workers.map_images("bm3d", [bad], [0.1], workers=1)
    assert counted and all(w.proc.poll() is not None for w in counted)


def test_an_interruption_stops_every_worker(counted):
    def interrupt():
        raise KeyboardInterrupt

    images = [np.full((32, 32, 1), 0.5)] * 3
    with pytest.raises(KeyboardInterrupt):
        workers.map_images("bm3d", images, [0.1] * 3, workers=2, progress=interrupt)
    assert len(counted) == 2 and all(w.proc.poll() is not None for w in counted)
