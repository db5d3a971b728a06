"""Fit and grid-search time beside a competing busy process, per thread setting.

What is timed
-------------
* ``fit``: ``MultimodalAutoencoder(encoding_dim=10, max_epochs=5,
  random_state=0)`` (the defaults otherwise) on the first 1,000 rows of
  mfeat.
* ``grid``: ``GridSearchCV`` over ``encoding_dim`` in (4, 8), 2 folds,
  ``n_jobs=1``, of a pipeline of the estimator (``max_epochs=3``) and a
  logistic regression, on the first 600 rows of mfeat.

Each under two thread settings of the estimator, ``Speed(n_threads=None)`` (the
default: half the usable CPUs, within the limit in force) and
``Speed(n_threads=<torch's default>)`` (a thread per core, what torch does when
nothing limits it), and two conditions: ``quiet`` (nothing else running) and
``busy`` (one other process spinning a pure-Python loop on a core for the
whole measurement).

Protocol
--------
One warm-up fit, then ``--repeats`` rounds. In each round every setting runs
each workload once quiet; then the competing process starts, every setting
runs each workload once beside it, and it stops. The order of the settings
rotates by one place per round. Reported: the median seconds over rounds,
and ``busy / quiet``, the ratio of the medians of each setting. The target
of the thread policy: the default's ``busy / quiet`` at most 2x for a fit.

Run it on a quiet machine (nothing else running), e.g.::

    python benchmarks/bench_contention.py --repeats 3 --json contention.json
"""

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time

import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skmmae import MultimodalAutoencoder
from skmmae.options import Speed
from skmmae._threads import default_threads, usable_cpus
from skmmae.datasets import load_mfeat

BUSY_LOOP = "while True:\n    pass\n"


def workloads():
    X, y = load_mfeat(return_X_y=True)

    def fit(n_threads):
        MultimodalAutoencoder(
            10, max_epochs=5, speed=Speed(n_threads=n_threads), random_state=0
        ).fit(X[:1000])

    def grid(n_threads):
        pipe = make_pipeline(
            MultimodalAutoencoder(max_epochs=3, speed=Speed(n_threads=n_threads), random_state=0),
            LogisticRegression(max_iter=500),
        )
        grid = {"multimodalautoencoder__encoding_dim": [4, 8]}
        GridSearchCV(pipe, grid, cv=2, n_jobs=1).fit(X[:600], y[:600])

    return {"fit": fit, "grid": grid}


def timed(call, *args):
    start = time.perf_counter()
    call(*args)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", metavar="PATH", help="also write the results here")
    args = parser.parse_args()

    every_core = torch.get_num_threads()
    settings = {"n_threads=None (default)": None, f"n_threads={every_core} (torch)": every_core}
    tasks = workloads()
    tasks["fit"](None)  # warm-up: torch's one-off costs
    times = {(s, w, c): [] for s in settings for w in tasks for c in ("quiet", "busy")}
    start = time.perf_counter()
    for round_ in range(args.repeats):
        order = list(settings)[round_ % len(settings) :] + list(settings)[: round_ % len(settings)]
        for condition in ("quiet", "busy"):
            competitor = None
            if condition == "busy":
                competitor = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
                time.sleep(0.5)  # let it start spinning
            try:
                for setting in order:
                    for name, task in tasks.items():
                        seconds = timed(task, settings[setting])
                        times[setting, name, condition].append(seconds)
                        label = f"round {round_ + 1} {condition:5s} {name:4s} {setting}"
                        print(f"{label}: {seconds:.2f} s", flush=True)
            finally:
                if competitor is not None:
                    competitor.kill()
                    competitor.wait()

    print(f"\n{usable_cpus()} usable CPUs, torch {torch.__version__}, torch's threads "
          f"{torch.get_num_threads()}, default n_threads -> {default_threads()}; "
          f"{args.repeats} rounds, {time.perf_counter() - start:.0f} s")
    print(f"{'workload':8s} {'setting':28s} {'quiet s':>8s} {'busy s':>8s} {'busy/quiet':>10s}")
    rows = []
    for name in tasks:
        for setting in settings:
            quiet = statistics.median(times[setting, name, "quiet"])
            busy = statistics.median(times[setting, name, "busy"])
            rows.append(
                {
                    "workload": name,
                    "setting": setting,
                    "quiet_s": quiet,
                    "busy_s": busy,
                    "all_quiet_s": times[setting, name, "quiet"],
                    "all_busy_s": times[setting, name, "busy"],
                }
            )
            print(f"{name:8s} {setting:28s} {quiet:8.2f} {busy:8.2f} {busy / quiet:9.2f}x")
    if args.json:
        environment = {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpus": usable_cpus(),
            "torch_threads": torch.get_num_threads(),
            "default_threads": default_threads(),
            "repeats": args.repeats,
        }
        with open(args.json, "w") as f:
            json.dump({"environment": environment, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
