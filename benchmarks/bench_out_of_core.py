"""A fit on memory-mapped files larger than memory budgets, against the same data in memory.

The protocol (issue "Beyond one machine and beyond memory")
------------------------------------------------------------
Two float32 modalities written with ``np.save`` and opened with
``np.load(..., mmap_mode="r")``: "a" with 1,536 features and "b" with 512
(8 KiB a sample), low-rank signal plus noise, ``--gigabytes`` in all
(8 by default), generated in chunks into ``--dir`` and deleted afterwards.
The estimator: ``MultimodalAutoencoder(encoding_dim=16,
hidden_dims=(128,), batch_size=512, max_epochs=--epochs,
readout="decoder", random_state=0)``, the other parameters at their
defaults. The kernel read-out is left out: its cost grows with the rows
and does not depend on where they are read from.

Each measurement runs in a fresh process, which reports its peak resident
memory (``VmHWM``: memory-mapped pages that stay mapped count too):

- ``disk, all``: the fit on the whole files;
- ``disk, subset``: the fit on the first ``--subset-gigabytes`` of rows,
  still on disk (a memmap of those rows);
- ``memory, subset``: the same rows loaded into arrays first (the load is
  not timed).

Throughput is training samples per second, from skorch's epoch times
(``dur``); the fit's wall time, which adds the missing-row scan, the
statistics pass and the post-fit steps, is reported beside it.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_out_of_core.py --dir /var/tmp
    python benchmarks/bench_out_of_core.py --gigabytes 1 --subset-gigabytes 0.25

Run it alone; it needs ``--gigabytes`` of free disk and page cache to be
quick.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FEATURES = {"a": 1536, "b": 512}
ROW_BYTES = 4 * sum(FEATURES.values())
RANK = 8


def write_data(directory, n_rows, seed=0):
    """Low-rank signal plus noise, written a chunk of rows at a time."""
    rng = np.random.default_rng(seed)
    loadings = {name: rng.normal(size=(RANK, d)).astype(np.float32) for name, d in FEATURES.items()}
    files = {
        name: np.lib.format.open_memmap(directory / f"{name}.npy", mode="w+", dtype=np.float32, shape=(n_rows, d))
        for name, d in FEATURES.items()
    }
    for start in range(0, n_rows, 65536):
        stop = min(start + 65536, n_rows)
        latent = rng.normal(size=(stop - start, RANK)).astype(np.float32)
        for name, array in files.items():
            noise = rng.standard_normal((stop - start, FEATURES[name]), dtype=np.float32)
            array[start:stop] = latent @ loadings[name] + noise
    for array in files.values():
        array.flush()


def peak_rss_kib():
    """This process's peak resident memory (VmHWM; ru_maxrss would count the parent's, forked)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))


def child(args):
    import torch

    from skmmae import MultimodalAutoencoder

    torch.set_num_threads(1)
    directory = Path(args.dir)
    X = {name: np.load(directory / f"{name}.npy", mmap_mode="r") for name in FEATURES}
    if args.rows:
        X = {name: block[: args.rows] for name, block in X.items()}
    if args.child == "memory":
        X = {name: np.array(block) for name, block in X.items()}
    ae = MultimodalAutoencoder(
        encoding_dim=16, hidden_dims=(128,), batch_size=512, max_epochs=args.epochs,
        readout="decoder", random_state=0,
    )
    start = time.perf_counter()
    ae.fit(X)
    seconds = time.perf_counter() - start
    n_rows = len(X["a"])
    training = sum(ae.net_.history[:, "dur"])
    print(json.dumps({
        "rows": n_rows,
        "gigabytes": n_rows * ROW_BYTES / 2**30,
        "fit_s": seconds,
        "samples_per_s": n_rows * args.epochs / training,
        "peak_rss_gib": peak_rss_kib() / 2**20,
        "loss": ae.net_.history[-1, "train_loss"],
    }))


def measure(kind, rows, args):
    command = [sys.executable, __file__, "--child", kind, "--dir", str(args.dir), "--epochs", str(args.epochs)]
    if rows:
        command += ["--rows", str(rows)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=8.0)
    parser.add_argument("--subset-gigabytes", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--child", choices=("disk", "memory"), help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    n_rows = int(args.gigabytes * 2**30 // ROW_BYTES)
    subset = int(args.subset_gigabytes * 2**30 // ROW_BYTES)
    args.dir = Path(tempfile.mkdtemp(prefix="skmmae-out-of-core-", dir=args.dir))
    print(f"# {platform.platform()}; {os.cpu_count()} CPUs; {n_rows} rows of {ROW_BYTES} bytes "
          f"({n_rows * ROW_BYTES / 2**30:.2f} GiB) in {args.dir}; {args.epochs} epoch(s)")
    try:
        start = time.perf_counter()
        write_data(args.dir, n_rows)
        print(f"# written in {time.perf_counter() - start:.0f} s")
        results = {
            "memory, subset": measure("memory", subset, args),
            "disk, subset": measure("disk", subset, args),
            "disk, all": measure("disk", 0, args),
        }
    finally:
        shutil.rmtree(args.dir)
    base = results["memory, subset"]["samples_per_s"]
    print("| data | rows | GiB | fit s | samples/s | vs memory | peak RSS GiB | last loss |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, r in results.items():
        print(f"| {label} | {r['rows']} | {r['gigabytes']:.2f} | {r['fit_s']:.1f} | "
              f"{r['samples_per_s']:.0f} | {r['samples_per_s'] / base:.2f}x | "
              f"{r['peak_rss_gib']:.2f} | {r['loss']:.4f} |")


if __name__ == "__main__":
    main()
