"""A grid search in one process, in two, and on a Dask cluster of two workers.

The protocol (issue "Beyond one machine and beyond memory")
------------------------------------------------------------
``GridSearchCV(Pipeline(MultimodalAutoencoder, LogisticRegression))`` over
``encoding_dim`` in (4, 8, 16, 32), 3-fold, on mfeat (2,000 samples, six
views, as a SliceDict), with the estimator's defaults but ``max_epochs``
(``--epochs``, 20) and ``random_state=0``. Timed three ways, one after the
other in one run:

- ``n_jobs=1``: every fit in this process;
- ``n_jobs=2``: joblib's default (loky) backend, two worker processes;
- ``dask``: ``joblib.parallel_backend("dask")`` on a
  ``distributed.LocalCluster(n_workers=2, threads_per_worker=1)``, the
  cluster started before the clock starts.

Each mode must find the same ``best_params_`` and the same mean test
scores; the script says so, or stops. Seconds are wall-clock for
``fit`` (the refit on the whole data included).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_parallel.py
    python benchmarks/bench_parallel.py --epochs 5
    python benchmarks/bench_parallel.py --keep-malloc-trim

distributed's nannies start workers with ``MALLOC_TRIM_THRESHOLD_=65536``,
which slowed a fit in a worker (benchmarks/README.md); the
script unsets it unless ``--keep-malloc-trim`` is given.

Set ``OMP_NUM_THREADS=1`` (each process one thread, so that two processes
use two cores), and run it alone.
"""

import argparse
import os
import platform
import time

import numpy as np
import sklearn
import torch
from joblib import parallel_backend
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skmmae import MultimodalAutoencoder
from skmmae.datasets import load_mfeat

GRID = {"multimodalautoencoder__encoding_dim": [4, 8, 16, 32]}


def search(epochs, n_jobs):
    pipe = make_pipeline(
        MultimodalAutoencoder(max_epochs=epochs, random_state=0),
        LogisticRegression(max_iter=2000),
    )
    return GridSearchCV(pipe, GRID, cv=3, n_jobs=n_jobs)


def timed(grid_search, X, y):
    start = time.perf_counter()
    grid_search.fit(X, y)
    return time.perf_counter() - start, grid_search


def main(argv=None):
    import distributed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--keep-malloc-trim", action="store_true",
        help="leave distributed's MALLOC_TRIM_THRESHOLD_=65536 in the workers' environment",
    )
    args = parser.parse_args(argv)
    if not args.keep_malloc_trim:
        # Must be set before the first cluster of this process starts.
        import dask

        dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
    print(f"# {platform.platform()}; torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"scikit-learn {sklearn.__version__}, distributed {distributed.__version__}")
    X, y = load_mfeat(return_X_y=True)
    results = {}
    results["n_jobs=1"] = timed(search(args.epochs, 1), X, y)
    results["n_jobs=2 (loky)"] = timed(search(args.epochs, 2), X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster:
        with distributed.Client(cluster) as client, parallel_backend("dask"):
            trim = set(client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values())
            results[f"dask, 2 workers (MALLOC_TRIM_THRESHOLD_={trim})"] = timed(search(args.epochs, -1), X, y)
    serial = results["n_jobs=1"][1]
    for label, (_, fitted) in results.items():
        if fitted.best_params_ != serial.best_params_ or not np.allclose(
            fitted.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"], rtol=1e-6
        ):
            raise SystemExit(f"{label} found other results than n_jobs=1")
    print(f"# every mode: best {serial.best_params_}, mean test scores "
          f"{np.round(serial.cv_results_['mean_test_score'], 4).tolist()}")
    print("\n| mode | fit s | speed-up |\n| --- | --- | --- |")
    base = results["n_jobs=1"][0]
    for label, (seconds, _) in results.items():
        print(f"| {label} | {seconds:.1f} | {base / seconds:.2f}x |")


if __name__ == "__main__":
    main()
