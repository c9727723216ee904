"""Worker processes that run only lvrlib code, and the per-image tasks they run.

:func:`map_images` spreads numpy images over worker processes. Each worker is a fresh
interpreter started as ``python -c "<import lvrlib.workers; serve()>"``: it imports this
module (numpy and bm3d, no torch) and nothing of the caller. multiprocessing's ``spawn``
start method instead re-imports the caller's ``__main__`` in every worker, which re-runs an
unguarded script (everything above its first call, in every worker) and fails outright
for a script piped to ``python -`` (there is no file ``<stdin>`` to import). Here the
caller's code never runs again, from a script, a piped script, a notebook or a REPL.

The parent and each worker talk over the worker's stdin and stdout, one task at a time:
a JSON header line, then the raw bytes of one array (no pickle). A worker's own prints go
to its stderr, which is collected in a temporary file and copied to the caller's stderr
afterwards (or quoted in the error when the worker fails).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from queue import Queue
from typing import Callable, Sequence

import bm3d
import numpy as np

__all__ = ["TASKS", "BM3D_PROFILE", "bm3d_image", "map_images", "default_workers", "serve"]


# --------------------------------------------------------------------------- tasks
#: bm3d's default profile ("np") on one thread. With its default (num_threads = 0: a
#: thread per core) BM3D is not bit-reproducible (threads add in varying order) and, on 8
#: 64x64 colour images on 2 cores, spent 23.7 s of CPU for 12.2 s of wall time against
#: 13.2 s and 13.2 s on one thread: the threads mostly wait. Parallelism comes from the
#: worker processes instead.
BM3D_PROFILE = bm3d.BM3DProfile()
BM3D_PROFILE.num_threads = 1


def bm3d_image(im: np.ndarray, sigma01: float) -> np.ndarray:
    """BM3D of one H x W x C image (C = 3 or 1) on the 0..1 scale, noise std ``sigma01``
    on that scale: ``bm3d.bm3d_rgb`` for colour, ``bm3d.bm3d`` for gray, with
    ``BM3D_PROFILE`` (deterministic). Same shape back."""
    if im.shape[-1] == 3:
        return np.asarray(bm3d.bm3d_rgb(im, sigma01, profile=BM3D_PROFILE))
    return np.asarray(bm3d.bm3d(im[..., 0], sigma01, profile=BM3D_PROFILE)).reshape(im.shape)


#: What a worker can run: name -> f(image: np.ndarray, sigma01: float) -> np.ndarray.
TASKS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {"bm3d": bm3d_image}


def default_workers(n_images: int) -> int:
    """One process per CPU this process may use, at most one per image; 1 (no worker
    processes) below 4 images, where starting workers costs more than it saves."""
    if n_images < 4:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, n_images))


# --------------------------------------------------------------------------- wire format
def _send(stream, header: dict, array: np.ndarray | None = None) -> None:
    if array is not None:
        array = np.ascontiguousarray(array)
        header = {**header, "shape": list(array.shape), "dtype": array.dtype.str}
    stream.write(json.dumps(header).encode() + b"\n")
    if array is not None:
        stream.write(memoryview(array).cast("B"))
    stream.flush()


def _receive(stream) -> tuple[dict, np.ndarray | None] | None:
    """The next (header, array) from ``stream``; None at end of stream."""
    line = stream.readline()
    if not line:
        return None
    header = json.loads(line)
    if "shape" not in header:
        return header, None
    dtype = np.dtype(header["dtype"])
    nbytes = int(np.prod(header["shape"], dtype=np.int64)) * dtype.itemsize
    data = stream.read(nbytes)
    if len(data) != nbytes:
        return None
    return header, np.frombuffer(data, dtype).reshape(header["shape"]).copy()


# --------------------------------------------------------------------------- worker side
def serve() -> None:
    """A worker's main loop: read (task, image, sigma), answer with the result, until
    stdin closes. Started by :func:`map_images`; not meant to be called by hand."""
    # Keep the pipes for the protocol only: anything printed (by Python or C code) goes
    # to stderr, and nothing else can read the parent's tasks.
    wire_in = os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    wire_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, sys.stdin.fileno())
    sys.stdout = sys.stderr
    try:
        while True:
            msg = _receive(wire_in)
            if msg is None:
                return
            header, image = msg
            try:
                task = TASKS[header["task"]]
                out = np.asarray(task(image, float(header["sigma"])), dtype=np.float64)
            except Exception as e:  # reported to the parent, which raises it
                _send(wire_out, {"error": f"{type(e).__name__}: {e}"})
            else:
                _send(wire_out, {}, out)
    except (KeyboardInterrupt, BrokenPipeError):
        return


# --------------------------------------------------------------------------- parent side
# The worker's first lines: drop the current folder from sys.path (a file there named like
# a module must not shadow it), load the very lvrlib package the caller uses, from its
# folder (sys.argv[1]), without touching sys.path, and serve.
_BOOT = """\
import sys
sys.path[:] = [p for p in sys.path if p not in ('', '.')]
import importlib.util
spec = importlib.util.spec_from_file_location(
    'lvrlib', sys.argv[1] + '/__init__.py', submodule_search_locations=[sys.argv[1]])
lvrlib = importlib.util.module_from_spec(spec)
sys.modules['lvrlib'] = lvrlib
spec.loader.exec_module(lvrlib)
import lvrlib.workers
lvrlib.workers.serve()
"""


class _Worker:
    """One worker process and the temporary file that collects its stderr."""

    def __init__(self):
        env = dict(os.environ)
        # Parallelism comes from the processes: one thread each for BLAS and OpenMP.
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.log = tempfile.TemporaryFile()
        package = str(Path(__file__).resolve().parent)
        self.proc = subprocess.Popen([sys.executable, "-c", _BOOT, package],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, env=env)

    def run(self, task: str, image: np.ndarray, sigma01: float) -> np.ndarray:
        try:
            _send(self.proc.stdin, {"task": task, "sigma": float(sigma01)}, image)
            msg = _receive(self.proc.stdout)
        except (BrokenPipeError, ValueError):  # ValueError: the pipe was closed meanwhile
            msg = None
        if msg is None:
            raise RuntimeError(f"a {task} worker process stopped unexpectedly "
                               f"(exit code {self.proc.poll()}){self.stderr_tail()}")
        header, out = msg
        if "error" in header:
            raise RuntimeError(f"{task} failed in a worker process: {header['error']}")
        return out

    def stderr_text(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stderr_tail(self) -> str:
        lines = self.stderr_text().strip().splitlines()
        return "; its last words: " + " | ".join(lines[-3:]) if lines else ""

    def close(self, kill: bool) -> str:
        """Stop the worker (kill it when ``kill``, else let it finish on end of input);
        return what it wrote to stderr."""
        if kill and self.proc.poll() is None:
            self.proc.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        text = self.stderr_text()
        self.log.close()
        return text


def map_images(task: str, images: Sequence[np.ndarray], sigmas01: Sequence[float],
               workers: int, progress: Callable[[], None] | None = None) -> list[np.ndarray]:
    """``[TASKS[task](im, s) for im, s in zip(images, sigmas01)]``, computed by ``workers``
    worker processes (each takes the next image when it is done with one).

    ``images`` are float arrays (the task's input); ``sigmas01`` one float per image.
    ``progress`` is called once per finished image. A task that raises, or a worker that
    dies, raises RuntimeError here (with the worker's message) once every worker has been
    stopped; an interruption (KeyboardInterrupt) of the caller also stops them all first.
    Returns the task's outputs, in the order of ``images``.
    """
    if task not in TASKS:
        raise ValueError(f"task={task!r}; expected one of {sorted(TASKS)}.")
    if len(images) != len(sigmas01):
        raise ValueError(f"{len(images)} images but {len(sigmas01)} sigmas; expected one each.")
    n = len(images)
    if n == 0:
        return []
    pool: list[_Worker] = []
    try:
        for _ in range(max(1, min(workers, n))):
            pool.append(_Worker())
    except BaseException:
        for w in pool:
            w.close(kill=True)
        raise
    results: list[np.ndarray | None] = [None] * n
    done: Queue = Queue()
    lock, next_index = threading.Lock(), iter(range(n))
    stop = threading.Event()

    def feed(worker: _Worker) -> None:
        # One thread per worker: it hands the worker one image at a time.
        try:
            while not stop.is_set():
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                results[i] = worker.run(task, images[i], sigmas01[i])
                done.put(None)
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            done.put(e)

    threads = [threading.Thread(target=feed, args=(w,), daemon=True) for w in pool]
    failed = True
    try:
        for t in threads:
            t.start()
        for _ in range(n):
            err = done.get()
            if err is not None:
                raise err
            if progress is not None:
                progress()
        failed = False
    finally:
        stop.set()
        logs = [w.close(kill=failed) for w in pool]
        for t in threads:
            t.join(timeout=10)
    for text in logs:  # warnings a worker printed, shown as if BM3D had run here
        if text.strip():
            sys.stderr.write(text)
    return results  # type: ignore[return-value]
