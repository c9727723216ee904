"""Check the paper's claims at a larger scale than the book's default profile.

    python recipes/claims_at_scale.py --out DIR [--profile sample] [--n-generated 256]
        [--n-celeba 100] [--n-unseen 100] [--steps 1000] [--restarts 4] [--device cuda]

Runs Tables 1-3 and the claims table of the book (lvrlib.paper) with the given profile
overrides and writes DIR/table1.csv, DIR/table2.csv, DIR/table3.csv (mean PSNR with 95%
CI per set, sigma and method: the files the claims chapter reads from
book/data/scale_h200), DIR/claims.csv and DIR/settings.json (the profile, the command and
the tables written so far; written first and after every table, so a run stopped by a
time limit still says what it ran). Meant for a GPU; BM3D runs on the CPU cores in
parallel.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from lvrlib.experiments import summary_table
from lvrlib.paper import (TABLE1_METHODS, TABLE2_METHODS, TABLE3_METHODS, claims, table1,
                          write_summary_csv, table2, table3)
from lvrlib.profiles import get_profile


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--profile", default="sample")
    p.add_argument("--n-generated", type=int)
    p.add_argument("--n-celeba", type=int)
    p.add_argument("--n-unseen", type=int)
    p.add_argument("--sharpness-n", type=int)
    p.add_argument("--steps", type=int)
    p.add_argument("--restarts", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    return p.parse_args(argv)


def main(argv=None):
    a = parse(argv)
    P = get_profile(a.profile, n_generated=a.n_generated, n_celeba=a.n_celeba,
                    n_unseen=a.n_unseen, sharpness_n=a.sharpness_n, steps=a.steps,
                    restarts=a.restarts, lr=a.lr)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    facts = {"profile": P.as_dict(), "seed": a.seed, "device": a.device, "written": [],
             "command": "python recipes/claims_at_scale.py " + " ".join(
                 sys.argv[1:] if argv is None else argv)}

    def note(name: str) -> None:
        if name:
            facts["written"].append(name)
        facts["seconds"] = round(time.perf_counter() - t0, 1)
        (out / "settings.json").write_text(json.dumps(facts, indent=1, default=str) + "\n")

    note("")
    for name, fn, methods in (("table1", table1, TABLE1_METHODS),
                              ("table2", table2, TABLE2_METHODS),
                              ("table3", table3, TABLE3_METHODS)):
        res = fn(P, seed=a.seed, device=a.device)
        write_summary_csv(summary_table(res, methods), out / f"{name}.csv")
        note(f"{name}.csv")
        print(f"{name} done at {time.perf_counter() - t0:.0f} s", flush=True)
    table = claims(P, seed=a.seed, device=a.device)
    table.to_csv(out / "claims.csv", index=False)
    note("claims.csv")
    with pd.option_context("display.max_colwidth", 90, "display.width", 200):
        print(table.drop(columns=["per cell (dB)"]).to_string())


if __name__ == "__main__":
    main()
