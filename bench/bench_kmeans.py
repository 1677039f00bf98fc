#!/usr/bin/python3
"""bench/bench_kmeans.py - statefleet's kmeans against scikit-learn's KMeans.

Usage: /usr/bin/python3 bench/bench_kmeans.py BENCH_KMEANS_BIN [--n N] [--d D] [--k K]

Runs `bench_kmeans train`, which trains on N seeded rows and writes them to
a temporary file, then fits scikit-learn's KMeans (Lloyd's, k-means++,
n_init=1, its default tol and max_iter) on exactly those rows. Prints both
times and inertias, the speed-up, and whether the goal holds: at least 2x
faster at an inertia within 1% of scikit-learn's.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.cluster import KMeans


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench_bin")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=50)
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "rows.f32")
        out = subprocess.run([args.bench_bin, "train", "--n", str(args.n), "--d", str(args.d),
                              "--k", str(args.k), "--data", path],
                             check=True, capture_output=True, text=True).stdout
        ours = json.loads(out.strip().splitlines()[-1])
        X = np.fromfile(path, dtype=np.float32).reshape(args.n, args.d)

    km = KMeans(n_clusters=args.k, init="k-means++", n_init=1, algorithm="lloyd", random_state=0)
    t = time.perf_counter()
    km.fit(X)
    secs = time.perf_counter() - t
    theirs = {"impl": "scikit-learn", "n": args.n, "d": args.d, "k": args.k,
              "seconds": round(secs, 3), "inertia": float(km.inertia_), "iterations": int(km.n_iter_)}

    speedup = theirs["seconds"] / ours["seconds"]
    gap = (ours["inertia"] - theirs["inertia"]) / theirs["inertia"]
    print(json.dumps(ours))
    print(json.dumps(theirs))
    ok = speedup >= 2 and gap <= 0.01
    print(json.dumps({"speedup": round(speedup, 2), "inertia_gap": round(gap, 5),
                      "goal": ">= 2x at inertia within 1%", "met": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
