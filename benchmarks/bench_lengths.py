"""Series of different lengths within a modality: how the encoder should pool (issue "Time lags", item 1).

The protocol
------------
Data: :func:`skmmae.datasets.make_lagged` with ``min_length=32``: each
recording stops after 32 to 64 steps of ``"a"`` (``"b"`` at half the
rate), NaN after its end; lags -16..16 steps; noise 0.1; 3 classes; 1,000
samples per seed, a stratified 70/30 split.

Models: ``MultimodalAutoencoder(modalities={"a": TimeSeries(pooling=p),
"b": TimeSeries(pooling=p)}, lags=Lags(reference="a"), max_epochs=--epochs)``
for the two poolings, ``"flatten"`` (every position, with observed flags)
and ``"recorded"`` (mean and maximum over the recorded steps only); and,
for reference, ``"flatten"`` on the same recordings at full length.

Per pooling, over ``--seeds``: the accuracy of a logistic regression on
the codes (test part), the MSE of ``"b"`` predicted from ``"a"`` over its
recorded steps in units of its variance (in the frame of ``"a"``, against
``"b"`` moved back by the estimated lag), the lag MAE, and the fit time.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_lengths.py
"""

import argparse
import platform
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from bench_lags import print_table  # this folder's table printer
from skmmae import MultimodalAutoencoder
from skmmae.datasets import make_lagged
from skmmae.lags import Lags, shift_series
from skmmae.modalities import TimeSeries

MAX_LAG, PERIOD = 16, 2


def one_run(pooling, seed, epochs, min_length):
    lagged = make_lagged(1000, max_lag=MAX_LAG, min_length=min_length, random_state=seed)
    X, y, lags = lagged.data, lagged.target, lagged.lags
    train, test = train_test_split(np.arange(1000), test_size=0.3, stratify=y, random_state=seed)
    ae = MultimodalAutoencoder(
        modalities={"a": TimeSeries(pooling=pooling), "b": TimeSeries(pooling=pooling)},
        lags=Lags(reference="a"), max_epochs=epochs, random_state=seed,
    )
    start = time.perf_counter()
    ae.fit(X[train])
    fit_s = time.perf_counter() - start
    classifier = LogisticRegression(max_iter=3000).fit(ae.transform(X[train]), y[train])
    estimated = ae.estimate_lags(X[test])["b"]
    predicted = ae.predict_modality({"a": X["a"][test]}, "b")
    aligned = shift_series(np.nan_to_num(X["b"][test]), estimated / PERIOD)
    recorded = shift_series((~np.isnan(X["b"][test])).astype(float), estimated / PERIOD) == 1
    mse = float(np.mean((predicted - aligned)[recorded] ** 2) / np.nanvar(X["b"][train]))
    return {
        "code accuracy": classifier.score(ae.transform(X[test]), y[test]),
        "b from a, MSE / var over recorded steps": mse,
        "lag MAE": float(np.mean(np.abs(estimated - lags[test]))),
        "fit s": fit_s,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=50)
    args = parser.parse_args(argv)
    print(f"# {platform.platform()}; torch {torch.__version__} ({torch.get_num_threads()} threads); "
          f"seeds {args.seeds}, {args.epochs} epochs")
    columns = {
        "flatten, 32-64 steps": ("flatten", 32),
        "recorded, 32-64 steps": ("recorded", 32),
        "flatten, all 64 steps": ("flatten", None),
        "recorded, all 64 steps": ("recorded", None),
    }
    start = time.perf_counter()
    table = {
        column: [one_run(pooling, seed, args.epochs, min_length) for seed in args.seeds]
        for column, (pooling, min_length) in columns.items()
    }
    print_table(table, list(columns))
    print(f"# {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
