"""Time lags between modalities: the baselines a lag-aware model must beat (issue "Time lags").

The protocol
------------
Data: :func:`skmmae.datasets.make_lagged` (two time series of one hidden
signal, ``"b"`` at half the rate of ``"a"`` and delayed by a lag drawn per
sample from -8 to 8 steps of ``"a"``, 3 classes), 1,000 samples per seed, a
stratified 70/30 split, at two noise levels (0.1 and 0.5).

What is measured, per noise level, over ``--seeds``:

- **lag recovery**: the mean absolute error, in steps of ``"a"``, of a
  cross-correlation estimate (``scipy.signal.correlate`` of the first
  channel of ``"a"`` with the first channel of ``"b"`` held to the rate of
  ``"a"``, its peak taken within the lag range);
- **cross-modal prediction** of ``"b"`` from ``"a"`` by a lag-ignorant
  model, ``MultimodalAutoencoder(modalities={"a": "timeseries", "b":
  "timeseries"}, max_epochs=--epochs)``: the MSE of ``predict_modality``
  on the test part, in units of ``"b"``'s variance;
- **code accuracy under a shift of the lag range**: a logistic regression
  on the lag-ignorant model's codes, trained on samples whose lags lie in
  -4..4, tested on samples whose lags lie beyond (5..8 either way), and on
  test samples from the training range for comparison.

The rows of a lag-aware model join this table when it exists.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_lags.py
    python benchmarks/bench_lags.py --seeds 0 --epochs 10
"""

import argparse
import platform
import time

import numpy as np
import torch
from scipy import signal
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skmmae import MultimodalAutoencoder
from skmmae.datasets import make_lagged

MAX_LAG, PERIOD = 8, 2
NOISES = (0.1, 0.5)


def cross_correlation_lags(a, b, period=PERIOD, max_lag=MAX_LAG):
    """Each sample's lag of ``b`` behind ``a``, in steps of ``a``, from their cross-correlation."""
    lags = np.arange(-max_lag, max_lag + 1)
    found = []
    for x, y in zip(a, b):
        held = np.repeat(y, period)[: len(x)]  # "b" held at the rate of "a"
        scores = signal.correlate(held - held.mean(), x - x.mean(), mode="full")
        shifts = signal.correlation_lags(len(held), len(x), mode="full")
        inside = np.isin(shifts, lags)
        found.append(shifts[inside][np.argmax(scores[inside])])
    return np.array(found)


def subset(X, rows):
    return {name: block[rows] for name, block in X.items()}


def lag_ignorant(epochs, seed):
    return MultimodalAutoencoder(
        modalities={"a": "timeseries", "b": "timeseries"}, max_epochs=epochs, random_state=seed
    )


def one_run(noise, seed, epochs):
    lagged = make_lagged(1000, noise=noise, max_lag=MAX_LAG, rate_ratio=PERIOD, random_state=seed)
    X, y, lags = lagged.data, lagged.target, lagged.lags
    rows = np.arange(len(y))
    train, test = train_test_split(rows, test_size=0.3, stratify=y, random_state=seed)
    found = cross_correlation_lags(X["a"][test, 0], X["b"][test, 0])
    ae = lag_ignorant(epochs, seed).fit(subset(X, train))
    predicted = ae.predict_modality({"a": X["a"][test]}, "b")
    mse = float(np.mean((predicted - X["b"][test]) ** 2) / np.var(X["b"][train]))
    near, far = train[np.abs(lags[train]) <= 4], test[np.abs(lags[test]) > 4]
    near_test = test[np.abs(lags[test]) <= 4]
    shifted = lag_ignorant(epochs, seed).fit(subset(X, near))
    classifier = LogisticRegression(max_iter=2000).fit(shifted.transform(subset(X, near)), y[near])
    return {
        "lag MAE (cross-correlation)": float(np.mean(np.abs(found - lags[test]))),
        "b from a, MSE / var": mse,
        "accuracy, lags in the training range": classifier.score(shifted.transform(subset(X, near_test)), y[near_test]),
        "accuracy, lags beyond it": classifier.score(shifted.transform(subset(X, far)), y[far]),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=50)
    args = parser.parse_args(argv)
    print(f"# {platform.platform()}; torch {torch.__version__} ({torch.get_num_threads()} threads); "
          f"seeds {args.seeds}, {args.epochs} epochs")
    start = time.perf_counter()
    table = {noise: [one_run(noise, seed, args.epochs) for seed in args.seeds] for noise in NOISES}
    metrics = list(next(iter(table.values()))[0])
    print("| metric | " + " | ".join(f"noise {noise}" for noise in NOISES) + " |")
    print("| --- |" + " --- |" * len(NOISES))
    for metric in metrics:
        cells = []
        for noise in NOISES:
            values = [run[metric] for run in table[noise]]
            cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}")
        print(f"| {metric} | " + " | ".join(cells) + " |")
    print(f"# {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
