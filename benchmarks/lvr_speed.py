"""How fast is latent vector recovery (LVR) on this machine, and how fast could it be?

Measures in one run, on one machine (issue 7):

1. ceiling: the fp32 rate of a large matrix product and of each transposed convolution of
   the generator at its own sizes (GFLOP/s);
2. flops: the generator's floating-point operations per image-step, counted layer by
   layer (forward 2*Cin*Cout*k*k*H_in*W_in per ConvTranspose2d; the backward pass of LVR
   needs the gradient with respect to the input only, which costs as much as the forward,
   so one step = 2 x forward; weight gradients are not computed);
3. throughput: ``recover()`` image-steps per second at batch 1, 16, 64 and 256, and the
   achieved rate against the two ceilings;
4. quality: PSNR against steps and against seconds on noisy generated and real
   (CelebA-sample test) images at sigma 25, 50 and 75, for the published settings and for
   lvrlib's defaults, with a long reference run ("converged");
5. bm3d: BM3D seconds per image on the same images, and the ratio
   (LVR seconds per image at the step count where it is within 0.1 dB of the reference) /
   (BM3D seconds per image) at sigma >= 50.

Prints a table and writes CSV files to ``--out`` (default benchmarks/results/). ``--quick``
runs tiny sizes (about 20 s on a 2-core CPU, for CI); the full run took 7.5 minutes there.
``--study`` instead runs the sweep that chose ``recover``'s defaults (optimisers, step
sizes, schedules, 32 images per set and sigma: hours on a CPU, 165 s on an H200) and writes
study_curves.csv, study_per_image.csv and study_machine.csv. The settings, thresholds and
goals are lvrlib.benchmarking's (the Performance chapter reads them there).

Threads: unless ``--threads`` is given, a short recover() is timed with 1 thread and with
every core, and the faster is used (on a loaded 2-core machine 2 threads can be far
slower than 1: OpenMP spin-waits).

    python benchmarks/lvr_speed.py [--quick] [--device cpu] [--threads N] [--out DIR]
    python benchmarks/lvr_speed.py --study --device cuda
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from lvrlib.benchmarking import (CONVERGED_DB, CURVE_STEPS, GOAL_EFFICIENCY, GOAL_RANDOM_OF_BM3D,
                                 OURS, REFERENCE, SPEED_SIGMAS, STUDY_REFERENCE, add_run_options,
                                 label, published_settings, reference_setting, study_settings,
                                 write_csv, write_facts)
from lvrlib.dcgan import resolve_device
from lvrlib.experiments import generator_for, noisy_set
from lvrlib.metrics import mean_ci, psnr
from lvrlib.recovery import recover
from lvrlib.settings import DEFAULT_STEPS, LVRSettings


# --------------------------------------------------------------------------- inputs
def image_sets(n: int, sigmas, seed: int = 0, device: str = "cpu"):
    """{(set, sigma): (clean, noisy)}: n generated images G(z) (z from the prior, seed
    ``seed``) and the first n CelebA-sample test images, with noise (seed + 1): the
    book's noisy sets (``lvrlib.experiments.noisy_set``)."""
    return {(name, s): noisy_set(name, s, n, seed, device=device)[:2]
            for name in ("generated", "celeba-test") for s in sigmas}


def _stack(sets):
    keys = list(sets)
    clean = torch.cat([sets[k][0] for k in keys])
    noisy = torch.cat([sets[k][1] for k in keys])
    owner = [k for k in keys for _ in range(len(sets[k][0]))]
    return keys, clean, noisy, owner


def _images(G, z: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    dev = next(G.parameters()).device
    with torch.no_grad():
        return torch.cat([G(z[i:i + chunk].to(dev)).cpu() for i in range(0, len(z), chunk)])


def _runs(G, noisy, settings: LVRSettings, seed: int, budgets) -> list[tuple]:
    """(steps, latents, seconds, steps taken) after each budget: one run with snapshots
    for a constant step size, else a complete run per budget (the schedule depends on
    the total step count)."""
    if settings.schedule == "constant":
        r = recover(G, noisy, settings, seed=seed, snapshots=budgets)
        return [(b, r.snapshots[b], r.snapshot_seconds[b], r.steps_taken.clamp(max=b))
                for b in budgets]
    runs = []
    for b in budgets:
        r = recover(G, noisy, settings.replace(steps=b), seed=seed)
        runs.append((b, r.z, r.seconds, r.steps_taken))
    return runs


def run_curve(G, sets, settings: LVRSettings, seed: int = 2, budgets=None) -> list[dict]:
    """Run one setting on every image of ``sets`` (one batch) and score the snapshots.

    Constant-step-size settings are run once, with snapshots at ``budgets``; settings
    whose schedule depends on the total step count are run once per budget (each budget
    is a complete run). Returns rows: setting, set, sigma, steps, seconds_per_image
    (wall time to that point / images), mean steps taken, PSNR mean and 95% CI, and the
    per-image PSNRs.
    """
    keys, clean, noisy, owner = _stack(sets)
    total = settings.steps
    if budgets is None:
        budgets = [k for k in CURVE_STEPS if k < total] + [total]
    budgets = sorted({min(b, total) for b in budgets})
    rows = []
    n_all = len(noisy)
    for b, z, sec, taken in _runs(G, noisy, settings, seed, budgets):
        p = psnr(_images(G, z), clean)
        for key in keys:
            idx = np.array([o == key for o in owner])
            ci = mean_ci(p[idx])
            rows.append(dict(setting=settings.id, set=key[0], sigma=key[1], steps=b,
                             seconds_per_image=sec / n_all,
                             steps_taken=float(taken[torch.from_numpy(idx)].float().mean()),
                             psnr=ci.mean, psnr_low=ci.low, psnr_high=ci.high,
                             per_image=p[idx]))
    return rows


# --------------------------------------------------------------------------- flops
def generator_flops(G) -> list[dict]:
    """Per ConvTranspose2d layer: shapes and forward FLOPs per image (2 * Cin * Cout * k * k
    * H_in * W_in: every input pixel is multiplied into a k x k x Cout patch)."""
    rows, h = [], 1
    for m in G.modules():
        if isinstance(m, torch.nn.ConvTranspose2d):
            k, s, p = m.kernel_size[0], m.stride[0], m.padding[0]
            h_out = (h - 1) * s - 2 * p + k
            f = 2 * m.in_channels * m.out_channels * k * k * h * h
            rows.append(dict(layer=len(rows) + 1, cin=m.in_channels, cout=m.out_channels, k=k,
                             stride=s, h_in=h, h_out=h_out, fwd_mflop=f / 1e6,
                             formula=f"2*{m.in_channels}*{m.out_channels}*{k}*{k}*{h}*{h}"))
            h = h_out
    return rows


# --------------------------------------------------------------------------- ceiling
def _timeit(fn, dev, min_seconds: float, min_reps: int = 3) -> float:
    """Median seconds per call of fn, after a warm-up, repeating for at least min_seconds."""
    fn()
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    sync()
    times, t_start = [], time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - t_start < min_seconds:
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def ceilings(G, dev, batch: int, quick: bool) -> list[dict]:
    """fp32 GFLOP/s of a large matrix product and of each generator layer alone (forward
    at ``batch`` images, the layer's own shapes)."""
    rows = []
    n = 512 if quick else 2048
    a = torch.randn(n, n, device=dev)
    b = torch.randn(n, n, device=dev)
    sec = _timeit(lambda: a @ b, dev, 0.3 if quick else 2.0)
    rows.append(dict(what=f"matmul {n}x{n}x{n}", gflop=2 * n ** 3 / 1e9, seconds=sec,
                     gflops_per_s=2 * n ** 3 / sec / 1e9))
    h = 1
    tot_f = tot_s = 0.0
    for m in (m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)):
        x = torch.randn(batch, m.in_channels, h, h, device=dev)
        with torch.no_grad():
            sec = _timeit(lambda: m(x), dev, 0.2 if quick else 1.0)
        k = m.kernel_size[0]
        f = 2 * m.in_channels * m.out_channels * k * k * h * h * batch
        rows.append(dict(what=f"convT {m.in_channels}->{m.out_channels} at {h}x{h}, batch {batch}",
                         gflop=f / 1e9, seconds=sec, gflops_per_s=f / sec / 1e9))
        tot_f, tot_s = tot_f + f, tot_s + sec
        h = (h - 1) * m.stride[0] - 2 * m.padding[0] + k
    rows.append(dict(what=f"all convT layers in sequence, batch {batch}", gflop=tot_f / 1e9,
                     seconds=tot_s, gflops_per_s=tot_f / tot_s / 1e9))
    return rows


def throughput(G, dev, batches, steps: int, quick: bool) -> list[dict]:
    """recover() image-steps per second at each batch size (random targets, defaults)."""
    rows = []
    for bs in batches:
        y = torch.rand(bs, 3, 64, 64, generator=torch.Generator().manual_seed(bs)) * 2 - 1
        recover(G, y, steps=2, seed=0)   # warm-up (allocator, kernels)
        best = None
        for _ in range(1 if quick else 2):
            r = recover(G, y, steps=steps, seed=0)
            best = r.seconds if best is None else min(best, r.seconds)
        rows.append(dict(batch=bs, steps=steps, seconds=best,
                         image_steps_per_s=bs * steps / best,
                         ms_per_image_step=1e3 * best / (bs * steps)))
    return rows


def bm3d_timing(sets, n: int) -> list[dict]:
    from lvrlib.baselines import bm3d_denoise

    rows = []
    for (name, s), (x, y) in sets.items():
        t = time.perf_counter()
        out = bm3d_denoise(y[:n], s)
        sec = time.perf_counter() - t
        ci = mean_ci(psnr(out, x[:n]))
        rows.append(dict(set=name, sigma=s, images=n, seconds_per_image=sec / n,
                         psnr=ci.mean, psnr_low=ci.low, psnr_high=ci.high))
    return rows


# --------------------------------------------------------------------------- output
def write_per_image(path: Path, rows: list[dict]) -> None:
    out = []
    for r in rows:
        for i, v in enumerate(r["per_image"]):
            out.append(dict(setting=r["setting"], set=r["set"], sigma=r["sigma"],
                            steps=r["steps"], image=i, psnr=float(v)))
    write_csv(path, out)


def table(rows: list[dict], cols: list[str], fmt: dict | None = None) -> str:
    fmt = fmt or {}
    cells = [[(fmt.get(c, "{:.4g}").format(r[c]) if isinstance(r[c], float) else str(r[c]))
              for c in cols] for r in rows]
    width = [max(len(c), *(len(x[i]) for x in cells)) for i, c in enumerate(cols)]
    line = lambda xs: "  ".join(x.rjust(w) for x, w in zip(xs, width))  # noqa: E731
    return "\n".join([line(cols), line(["-" * w for w in width]), *map(line, cells)])


def say(*args) -> None:
    print(*args, flush=True)


def machine_info(dev, threads: int) -> dict:
    info = dict(python=platform.python_version(), torch=torch.__version__, device=str(dev),
                threads=threads, processor=platform.processor() or platform.machine(),
                cores=os.cpu_count())
    try:
        info["load_average"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        pass
    if dev.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(dev)
    else:
        try:
            for line in open("/proc/cpuinfo"):
                if line.startswith("model name"):
                    info["processor"] = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
    return info


def pick_threads(G, requested: int | None) -> tuple[int, dict]:
    """Intra-op threads: as asked, else whichever of 1 and every core runs a short
    recover() (batch 16) faster right now. On a shared machine OpenMP's spin-waiting can
    make 2 threads far slower than 1, so this is measured, not assumed."""
    if requested:
        return requested, {}
    cores = os.cpu_count() or 1
    y = torch.rand(16, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    timing = {}
    for t in sorted({1, cores}):
        torch.set_num_threads(t)
        recover(G, y, steps=1, seed=0)
        timing[t] = min(recover(G, y, steps=3, seed=0).seconds for _ in range(2)) / 48
    best = min(timing, key=timing.get)
    return best, {f"ms_per_image_step_with_{t}_threads": 1e3 * v for t, v in timing.items()}


# --------------------------------------------------------------------------- study
def study(G, out: Path, n: int, quick: bool, device: str) -> None:
    """The sweep behind recover's defaults: PSNR after 25..400 steps for Adam at constant
    step sizes, Adam with cosine and step decay, plain gradient descent, and a long
    reference. Writes study_curves.csv (+ per image) and study_machine.csv, and prints a
    summary."""
    t_start = time.perf_counter()
    sets = image_sets(n, SPEED_SIGMAS, device=device)
    budgets = (25, 50, 100, 200, 400) if not quick else (5, 10)
    long = 5000 if not quick else 20
    cands, refs = study_settings(max(budgets), long)
    runs = [(c, budgets) for c in cands] + [(c, [long // 5, long // 2, long]) for c in refs]
    runs += [(c, None) for c in published_settings(1.0 if not quick else 0.01)[2:]]
    rows = []
    for c, b in runs:
        t = time.perf_counter()
        rows += run_curve(G, sets, c, budgets=b)
        say(f"{c.id}: {time.perf_counter() - t:.1f} s")
    write_csv(out / "study_curves.csv", rows)
    write_per_image(out / "study_per_image.csv", rows)
    # Says whether this is a quick run (lvrlib.records.is_quick reads *machine.csv).
    write_facts(out / "study_machine.csv", dict(
        quick=quick, images_per_cell=n, total_seconds=time.perf_counter() - t_start))
    summarise_study(rows, STUDY_REFERENCE, long)


def summarise_study(rows, ref_name: str, long: int) -> None:
    ref = {(r["set"], r["sigma"]): r for r in rows
           if r["setting"] == ref_name and r["steps"] == long}
    by = {}
    for r in rows:
        d = r["psnr"] - ref[r["set"], r["sigma"]]["psnr"]
        by.setdefault((r["setting"], r["steps"]), []).append(d)
    say(f"\nmean PSNR minus the reference ({ref_name}, {long} steps), dB, averaged "
        "over 2 sets x 3 sigmas; worst cell in brackets")
    for (name, steps), ds in by.items():
        say(f"  {name:22s} {steps:5d} steps: {np.mean(ds):+.3f} [{min(ds):+.3f}]")
    say("\nreference PSNR per cell:",
        {f"{k[0]}@{k[1]}": round(v["psnr"], 3) for k, v in ref.items()})


# --------------------------------------------------------------------------- benchmark
def flops_and_ceilings(G, dev, quick: bool) -> tuple[list, float, list, int]:
    """1-2: the generator's FLOPs per image-step and the fp32 ceilings, printed."""
    flops = generator_flops(G)
    fwd = sum(r["fwd_mflop"] for r in flops) * 1e6
    step_flop = 2 * fwd
    say("\n== generator FLOPs per image (forward = sum of 2*Cin*Cout*k*k*H_in*W_in) ==")
    say(table(flops, ["layer", "formula", "h_out", "fwd_mflop"], {"fwd_mflop": "{:.2f}"}))
    say(f"forward {fwd / 1e6:.1f} MFLOP; one LVR step = forward + backward to the input "
        f"(the same products, transposed; no weight gradients) = 2 x forward = "
        f"{step_flop / 1e6:.1f} MFLOP per image-step")
    ceil_batch = 8 if quick else 64
    ceil = ceilings(G, dev, ceil_batch, quick)
    say("\n== fp32 ceiling ==")
    say(table(ceil, ["what", "gflop", "seconds", "gflops_per_s"],
              {"gflop": "{:.3f}", "seconds": "{:.4f}", "gflops_per_s": "{:.1f}"}))
    return flops, step_flop, ceil, ceil_batch


def recover_throughput(G, dev, quick: bool, step_flop: float, ceil: list) -> list[dict]:
    """3: recover()'s image-steps per second at batch 1 to 256, against the ceilings."""
    matmul_rate, conv_rate = ceil[0]["gflops_per_s"], ceil[-1]["gflops_per_s"]
    tp = throughput(G, dev, (1, 16, 64, 256), 2 if quick else 10, quick)
    for r in tp:
        r["gflops_per_s"] = r["image_steps_per_s"] * step_flop / 1e9
        r["of_matmul_ceiling"] = r["gflops_per_s"] / matmul_rate
        r["of_conv_ceiling"] = r["gflops_per_s"] / conv_rate
    say("\n== recover() throughput (defaults) ==")
    say(table(tp, ["batch", "steps", "seconds", "image_steps_per_s", "ms_per_image_step",
                   "gflops_per_s", "of_matmul_ceiling", "of_conv_ceiling"],
              {"seconds": "{:.2f}", "image_steps_per_s": "{:.1f}", "ms_per_image_step": "{:.2f}",
               "gflops_per_s": "{:.1f}", "of_matmul_ceiling": "{:.0%}",
               "of_conv_ceiling": "{:.0%}"}))
    return tp


def paired_gap(rows, ref_rows) -> dict:
    """{(setting, steps): mean over every image of PSNR - the reference's PSNR (dB)}."""
    ref = {(r["set"], r["sigma"]): r["per_image"] for r in ref_rows}
    gaps = {}
    for r in rows:
        gaps.setdefault((r["setting"], r["steps"]), []).append(
            r["per_image"] - ref[r["set"], r["sigma"]])
    return {k: float(np.mean(np.concatenate(v))) for k, v in gaps.items()}


def time_to_quality(G, sets, n: int, scale: float, ours_budgets) -> tuple[list, list]:
    """4: PSNR against steps and seconds for the published settings and ours, as gaps to
    the reference run's; the rows per cell and the curve (mean over all images)."""
    ref = reference_setting(scale)
    quality = []
    say(f"\n== time to quality: {n} image(s) per set and sigma, {len(sets) * n} in all ==")
    for st in [*published_settings(scale), ref]:
        t = time.perf_counter()
        budgets = ours_budgets if st.id == OURS else ([st.steps] if st.id == REFERENCE else None)
        if st.id == OURS:
            st = st.replace(steps=max(ours_budgets))
        quality += run_curve(G, sets, st, budgets=budgets)
        say(f"  {st.id}: {time.perf_counter() - t:.0f} s")
    gap = paired_gap(quality, [r for r in quality if r["setting"] == REFERENCE])
    for r in quality:
        r["gap_to_reference"] = gap[r["setting"], r["steps"]]
    curve = []
    for (name, steps), g in gap.items():
        rs = [r for r in quality if r["setting"] == name and r["steps"] == steps]
        curve.append(dict(setting=name, steps=steps,
                          seconds_per_image=float(np.mean([r["seconds_per_image"] for r in rs])),
                          steps_taken=float(np.mean([r["steps_taken"] for r in rs])),
                          gap_to_reference=g))
    say(f"PSNR minus the reference run's ({label(ref)}), mean over all images, dB:")
    say(table(curve, ["setting", "steps", "seconds_per_image", "steps_taken", "gap_to_reference"],
              {"seconds_per_image": "{:.3f}", "steps_taken": "{:.0f}",
               "gap_to_reference": "{:+.2f}"}))
    return quality, curve


def _row(quantity: str, value: float, goal: str = "") -> dict:
    return dict(quantity=quantity, value=value, goal=goal, met="")


def _judge(summary: list[dict], conv, most_steps: int) -> None:
    """Fill the ``met`` column: each goal against its value."""
    for r in summary:
        g = r["goal"]
        if g:
            v = r["value"]
            ok = (v >= float(g[3:])) if g.startswith(">=") else (v <= float(g[3:]))
            r["met"] = "n/a" if np.isnan(v) else ("yes" if ok else "no")
        if r["quantity"].startswith("ours: fewest") and not conv:
            r["met"] = f"no (not within {most_steps} steps)"
        if r["quantity"].startswith("LVR / BM3D seconds per image at the converged") and not conv:
            r["met"] = "no (never converged)"


def goals(tp, ceil, ceil_batch, step_flop, curve, bm, quick, scale, most_steps) -> list[dict]:
    """The summary: ceilings, efficiency, convergence and time against BM3D, with goals."""
    ms64 = next(r for r in tp if r["batch"] == 64)["ms_per_image_step"] / 1e3
    best_tp = max(tp, key=lambda r: r["image_steps_per_s"])
    bm3d_hi = float(np.mean([r["seconds_per_image"] for r in bm if r["sigma"] >= 50]))
    ours_curve = sorted((c for c in curve if c["setting"] == OURS), key=lambda c: c["steps"])
    conv = next((c for c in ours_curve if c["gap_to_reference"] >= -CONVERGED_DB), None)
    default_steps = max(int(round(DEFAULT_STEPS * scale)), 2) if quick else DEFAULT_STEPS
    at_default = min(ours_curve, key=lambda c: abs(c["steps"] - default_steps))
    lvr_default_s = at_default["steps"] * ms64
    eff, speed, at = f">= {GOAL_EFFICIENCY:g}", f"<= {GOAL_RANDOM_OF_BM3D:g}", at_default["steps"]
    summary = [
        _row("fp32 ceiling, matmul (GFLOP/s)", ceil[0]["gflops_per_s"]),
        _row(f"fp32 ceiling, generator convT layers alone, batch {ceil_batch} (GFLOP/s)",
             ceil[-1]["gflops_per_s"]),
        _row("generator MFLOP per image-step (fwd + bwd to z)", step_flop / 1e6),
        _row("recover() at batch 64: achieved / matmul ceiling",
             next(r for r in tp if r["batch"] == 64)["of_matmul_ceiling"], eff),
        _row(f"recover() best (batch {best_tp['batch']}): achieved / matmul ceiling",
             best_tp["of_matmul_ceiling"], eff),
        _row(f"ours: PSNR gap to the {reference_setting(scale).steps}-step reference at {at} "
             "steps (dB)", at_default["gap_to_reference"], f">= -{CONVERGED_DB}"),
        _row("ours: fewest steps within 0.1 dB of the reference (mean over images)",
             float(conv["steps"]) if conv else float("nan"), f"<= {default_steps}"),
        _row("BM3D seconds per image, sigma >= 50", bm3d_hi),
        _row(f"LVR seconds per image at {at} steps (batch 64 rate)", lvr_default_s),
        _row(f"LVR / BM3D seconds per image at {at} steps, sigma >= 50",
             lvr_default_s / bm3d_hi, speed),
        _row("LVR / BM3D seconds per image at the converged step count, sigma >= 50",
             (conv["steps"] * ms64 / bm3d_hi) if conv else float("nan"), speed),
    ]
    _judge(summary, conv, most_steps)
    return summary


def run_benchmark(G, dev, out: Path, quick: bool, n: int | None, info: dict) -> int:
    t_start = time.perf_counter()
    n = n or (1 if quick else 2)
    scale = 0.02 if quick else 1.0
    flops, step_flop, ceil, ceil_batch = flops_and_ceilings(G, dev, quick)
    tp = recover_throughput(G, dev, quick, step_flop, ceil)
    sets = image_sets(n, SPEED_SIGMAS, device=str(dev))
    ours_budgets = [2, 4] if quick else [25, 50, 100, 200, 400, 1000]
    quality, curve = time_to_quality(G, sets, n, scale, ours_budgets)
    # 5. BM3D on the same images
    bm = bm3d_timing(sets, n)
    say("\n== BM3D (true sigma) on the same images ==")
    say(table(bm, ["set", "sigma", "images", "seconds_per_image", "psnr"],
              {"seconds_per_image": "{:.3f}", "psnr": "{:.2f}"}))
    summary = goals(tp, ceil, ceil_batch, step_flop, curve, bm, quick, scale, max(ours_budgets))
    say("\n== summary ==")
    say(table(summary, ["quantity", "value", "goal", "met"], {"value": "{:.3g}"}))
    total = time.perf_counter() - t_start
    say(f"\n{'quick' if quick else 'full'} run: {total:.0f} s on {info.get('processor')}, "
        f"{info['threads']} thread(s); load average before: {info.get('load_average')}, "
        f"after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    write_facts(out / "machine.csv", {
        **info, "quick": quick, "images_per_cell": n, "total_seconds": total,
        "load_average_after": " ".join(f"{v:.2f}" for v in os.getloadavg())})
    for name, rows in (("flops", flops), ("ceiling", ceil), ("throughput", tp),
                       ("quality", quality), ("quality_curve", curve), ("bm3d", bm),
                       ("summary", summary)):
        write_csv(out / f"{name}.csv", rows)
    write_per_image(out / "quality_per_image.csv", quality)
    say(f"CSV files in {out}")
    return 0


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--study", action="store_true", help="the sweep that chose the defaults")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads (default: 1 or every core, whichever a short "
                        "measurement finds faster)")
    p.add_argument("--n", type=int, default=None, help="images per set and sigma")
    a = add_run_options(p, "tiny sizes (CI): under ~3 minutes").parse_args(argv)
    dev = resolve_device(a.device)
    if dev.type == "cuda":
        # fp32 means fp32: no TF32 in the convolutions.
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    G = generator_for(None, str(dev))
    threads, timing = pick_threads(G, a.threads) if dev.type == "cpu" else (a.threads or 1, {})
    torch.set_num_threads(threads)
    info = {**machine_info(dev, threads), **timing}
    say("machine:", ", ".join(f"{k} {v}" for k, v in info.items()))
    if a.study:
        study(G, out, a.n or (32 if not a.quick else 2), a.quick, str(dev))
        return 0
    return run_benchmark(G, dev, out, a.quick, a.n, info)


if __name__ == "__main__":
    sys.exit(main())
