"""Time lags between modalities: the lag-aware model against the lag-ignorant one and cross-correlation.

The protocol
------------
Data: :func:`skmmae.datasets.make_lagged` (two time series of one hidden
signal, ``"b"`` at half the rate of ``"a"`` and delayed by a lag drawn per
sample from -16 to 16 steps of ``"a"``, a quarter of its 64 steps; 3
classes), 4,000 samples per seed at two noise levels (0.1 and 0.5): a
stratified 70/30 split of the first 1,000, and 3,000 more to test codes
on.

Two models with the same encoders, ``MultimodalAutoencoder(modalities={"a":
"timeseries", "b": "timeseries"}, max_epochs=--epochs)``: lag-ignorant, and
lag-aware (``lags=Lags(reference="a")``). What is measured, per noise level,
over ``--seeds``:

- **lag recovery**: the mean absolute error, in steps of ``"a"``, of the
  lag-aware model's ``estimate_lags`` on the test part, and of a
  cross-correlation estimate (``scipy.signal.correlate`` of the first
  channel of ``"a"`` with the first channel of ``"b"`` held to the rate of
  ``"a"``, divided by the overlap's length, its peak taken within the lag
  range; it is told which channels
  correspond, which the model is not);
- **cross-modal prediction** of ``"b"`` from ``"a"`` (``predict_modality``)
  on the test part: the MSE against the recorded ``"b"``, in units of its
  variance. The lag-aware model predicts ``"b"`` in the frame of ``"a"``;
  its prediction is moved to the recorded frame by the lag estimated from
  the pair (``shift_series``). The lag-ignorant model's is taken as it is;
- **code accuracy under a shift of the lag range**: a logistic regression
  on each model's codes, both (model and regression) trained on the
  training samples whose lags lie in -8..8, tested on those of the 3,000
  more whose lags lie beyond (9..16 either way; about 1,500), and on those
  whose lags lie in the training range for comparison (about 1,500: with
  the 150 of the test part, the two accuracies differed by up to 10
  points by chance);
- **fit time** of each model on the training part.

Then the same on a real set, :func:`skmmae.datasets.load_basic_motions`
with ``max_lag=10`` (a smart watch's accelerometer and gyroscope, 80
recordings of 80 steps kept, the gyroscope delayed by -10..10 steps drawn
per recording and seed): 2 stratified folds of the recordings, each model
(``max_epochs=--real-epochs``) fitted on one and read on the other. The
lag MAE of the lag-aware model per activity, and of the cross-correlation
of the two sensors' magnitudes (the norm over their 3 axes), the usual way
to synchronize such sensors; and the code accuracy of each model (a
logistic regression fitted on the codes of the other fold).

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
from sklearn.model_selection import StratifiedKFold, train_test_split

from skmmae import MultimodalAutoencoder
from skmmae.datasets import load_basic_motions, make_lagged
from skmmae.lags import Lags, shift_series

LENGTH, MAX_LAG, PERIOD = 64, 16, 2
NOISES = (0.1, 0.5)


def cross_correlation_lags(a, b, period=PERIOD, max_lag=MAX_LAG):
    """Each sample's lag of ``b`` behind ``a``, in steps of ``a``, from their cross-correlation."""
    lags = np.arange(-max_lag, max_lag + 1)
    found = []
    for x, y in zip(a, b):
        held = np.repeat(y, period)[: len(x)]  # "b" held at the rate of "a"
        scores = signal.correlate(held - held.mean(), x - x.mean(), mode="full")
        shifts = signal.correlation_lags(len(held), len(x), mode="full")
        scores = scores / (len(x) - np.abs(shifts))  # per overlapping step: no bias to lag 0
        inside = np.isin(shifts, lags)
        found.append(shifts[inside][np.argmax(scores[inside])])
    return np.array(found)


def subset(X, rows):
    return {name: block[rows] for name, block in X.items()}


def model(aware, epochs, seed):
    return MultimodalAutoencoder(
        modalities={"a": "timeseries", "b": "timeseries"},
        lags=Lags(reference="a") if aware else None,
        max_epochs=epochs,
        random_state=seed,
    )


def timed_fit(estimator, X):
    start = time.perf_counter()
    estimator.fit(X)
    return estimator, time.perf_counter() - start


def shifted_accuracy(aware, X, y, lags, train, pool, epochs, seed):
    """Accuracy of codes on ``pool`` samples with lags in the training range (|lag| <= 8) and beyond it."""
    half = MAX_LAG // 2
    near = train[np.abs(lags[train]) <= half]
    near_test, far = pool[np.abs(lags[pool]) <= half], pool[np.abs(lags[pool]) > half]
    ae = model(aware, epochs, seed).fit(subset(X, near))
    classifier = LogisticRegression(max_iter=2000).fit(ae.transform(subset(X, near)), y[near])
    return (
        classifier.score(ae.transform(subset(X, near_test)), y[near_test]),
        classifier.score(ae.transform(subset(X, far)), y[far]),
    )


def one_run(noise, seed, epochs):
    lagged = make_lagged(
        4000, length=LENGTH, noise=noise, max_lag=MAX_LAG, rate_ratio=PERIOD, random_state=seed
    )
    X, y, lags = lagged.data, lagged.target, lagged.lags
    train, test = train_test_split(np.arange(1000), test_size=0.3, stratify=y[:1000], random_state=seed)
    pool = np.arange(1000, len(y))
    b_var = np.var(X["b"][train])
    ignorant, ignorant_s = timed_fit(model(False, epochs, seed), subset(X, train))
    aware, aware_s = timed_fit(model(True, epochs, seed), subset(X, train))
    estimated = aware.estimate_lags(subset(X, test))["b"]
    found = cross_correlation_lags(X["a"][test, 0], X["b"][test, 0])
    from_a = {"a": X["a"][test]}
    ignorant_b = ignorant.predict_modality(from_a, "b")
    # In the frame of "a"; delayed by the estimated lag (in steps of "b") to the recorded frame.
    aware_b = shift_series(aware.predict_modality(from_a, "b"), -estimated / PERIOD)
    row = {
        "lag MAE, cross-correlation": float(np.mean(np.abs(found - lags[test]))),
        "lag MAE, lag-aware": float(np.mean(np.abs(estimated - lags[test]))),
        "b from a, MSE / var, lag-ignorant": float(np.mean((ignorant_b - X["b"][test]) ** 2) / b_var),
        "b from a, MSE / var, lag-aware": float(np.mean((aware_b - X["b"][test]) ** 2) / b_var),
    }
    for name, is_aware in (("lag-ignorant", False), ("lag-aware", True)):
        inside, beyond = shifted_accuracy(is_aware, X, y, lags, train, pool, epochs, seed)
        row[f"accuracy, lags in the training range, {name}"] = inside
        row[f"accuracy, lags beyond it, {name}"] = beyond
    row["fit s, lag-ignorant"] = ignorant_s
    row["fit s, lag-aware"] = aware_s
    return row


def basic_motions_run(seed, epochs, max_lag=10):
    """Lag recovery and code accuracy on BasicMotions with lags, over 2 folds of the recordings."""
    motions = load_basic_motions(max_lag=max_lag, random_state=seed)
    X, y, lags = motions.data, motions.target, motions.lags
    names = {"a": "accelerometer", "b": "gyroscope"}
    errors, found_cc, accuracy = np.zeros(len(y)), np.zeros(len(y)), {False: [], True: []}
    folds = StratifiedKFold(2, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
    for train, test in folds:
        for aware in (False, True):
            ae = MultimodalAutoencoder(
                8, modalities={name: "timeseries" for name in names.values()},
                lags=Lags(reference=names["a"], max_lag=max_lag) if aware else None,
                max_epochs=epochs, random_state=seed,
            ).fit(X[train])
            classifier = LogisticRegression(max_iter=3000).fit(ae.transform(X[train]), y[train])
            accuracy[aware].append(classifier.score(ae.transform(X[test]), y[test]))
            if aware:
                errors[test] = np.abs(ae.estimate_lags(X[test])[names["b"]] - lags[test])
    magnitudes = {key: np.linalg.norm(X[name], axis=1) for key, name in names.items()}
    found_cc = cross_correlation_lags(magnitudes["a"], magnitudes["b"], period=1, max_lag=max_lag)
    row = {"lag MAE, cross-correlation of magnitudes": float(np.mean(np.abs(found_cc - lags)))}
    row["lag MAE, lag-aware"] = float(errors.mean())
    for activity, label in enumerate(motions.target_names):
        row[f"lag MAE, lag-aware, {label}"] = float(errors[y == activity].mean())
    row["code accuracy, lag-ignorant"] = float(np.mean(accuracy[False]))
    row["code accuracy, lag-aware"] = float(np.mean(accuracy[True]))
    return row


def print_table(table, columns):
    """A markdown table of the mean ± spread over seeds of each metric, one column per key."""
    metrics = list(next(iter(table.values()))[0])
    print("| metric | " + " | ".join(columns) + " |")
    print("| --- |" + " --- |" * len(columns))
    for metric in metrics:
        cells = []
        for key in table:
            values = [run[metric] for run in table[key]]
            cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}")
        print(f"| {metric} | " + " | ".join(cells) + " |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--real-epochs", type=int, default=100)
    args = parser.parse_args(argv)
    print(f"# {platform.platform()}; torch {torch.__version__} ({torch.get_num_threads()} threads); "
          f"seeds {args.seeds}, {args.epochs} epochs")
    start = time.perf_counter()
    table = {noise: [one_run(noise, seed, args.epochs) for seed in args.seeds] for noise in NOISES}
    print_table(table, [f"noise {noise}" for noise in NOISES])
    print(f"# make_lagged: {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    real = {"motions": [basic_motions_run(seed, args.real_epochs) for seed in args.seeds]}
    print_table(real, ["BasicMotions, lags -10..10"])
    print(f"# BasicMotions: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
