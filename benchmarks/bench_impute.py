"""Missing cells: imputation error and downstream accuracy against sklearn's imputers.

The protocol (issue "Missing values and noise inside modalities")
-----------------------------------------------------------------
A data set's continuous views, a stratified 70/30 split (``random_state=0``),
each view standardized with the complete training part's mean and standard
deviation. Then cells are hidden in both parts, independently per cell:

- ``mcar``: each cell with probability ``rate``;
- ``mnar``: high values more likely: a cell of standardized value ``z`` with
  probability ``2 * rate * sigmoid(2 z)`` (``rate`` on average).

A sample that would lose every cell it has keeps one, chosen at random.

Every method is fitted on the training part, NaN and all, and fills both
parts. Reported per method:

- ``mse``: mean squared error on the hidden test cells, standardized units;
- ``accuracy``: ``LogisticRegression(max_iter=2000)`` trained on the training
  part and scored on the test part: on the imputed features for sklearn's
  imputers, on the codes for skmmae (``skmmae complete``: the same
  estimator's codes of the data with nothing hidden);
- ``seconds``: fitting the method and filling both parts (skmmae: fit,
  transform and impute).

Methods: ``mean`` (``SimpleImputer``), ``knn`` (``KNNImputer(5)``),
``iterative`` (``IterativeImputer(max_iter=10, n_nearest_features=100)``),
``skmmae`` (``MultimodalImputer()``'s estimator,
``skmmae.imputation.default_estimator``, with ``--params`` on top; its
accuracy is on the estimator's codes).
Data sets: ``mfeat`` (six views, 649 features) and ``penguins`` (its two
continuous views, body and isotopes, 6 features; penguins missing a view
in the data stay missing and are not scored).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_impute.py                      # everything
    python benchmarks/bench_impute.py --datasets mfeat --patterns mcar --rates 0.3
    python benchmarks/bench_impute.py --methods skmmae --params '{"noise_std": 0.2}'

Set ``OMP_NUM_THREADS=1`` on a small shared machine, and run it alone.
"""

import argparse
import json
import platform
import time

import numpy as np
import sklearn
import torch
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skmmae.datasets import load_mfeat, load_penguins
from skmmae.imputation import MultimodalImputer, default_estimator


DATASETS = {
    "mfeat": lambda: load_mfeat(return_X_y=True),
    "penguins": lambda: _penguins(),
}


def _penguins():
    X, y = load_penguins(return_X_y=True)
    views = {name: np.asarray(X[name], dtype=np.float64) for name in ("body", "isotopes")}
    # The two penguins with neither view measured have nothing to impute from.
    keep = ~np.all([np.isnan(v).all(axis=1) for v in views.values()], axis=0)
    return {name: view[keep] for name, view in views.items()}, y[keep]


def standardized_split(name):
    """The fixed split of a data set's views, standardized on the training part."""
    X, y = DATASETS[name]()
    rows = np.arange(len(y))
    train, test = train_test_split(rows, test_size=0.3, stratify=y, random_state=0)
    parts = ({}, {})
    for view, block in X.items():
        block = np.asarray(block, dtype=np.float64)
        mean, std = np.nanmean(block[train], axis=0), np.nanstd(block[train], axis=0)
        std = np.where(std > 0, std, 1.0)
        for part, index in zip(parts, (train, test)):
            part[view] = (block[index] - mean) / std
    return parts, y[train], y[test]


def hide(parts, pattern, rate, seed):
    """Copies of the parts with cells hidden, and each part's hidden-cell masks."""
    rng = np.random.default_rng(seed)
    hidden_parts, masks = [], []
    for part in parts:
        mask = {}
        for view, block in part.items():
            if pattern == "mcar":
                probability = np.full(block.shape, rate)
            else:  # mnar: high values more likely missing
                probability = 2 * rate / (1 + np.exp(-2 * np.nan_to_num(block)))
            mask[view] = (rng.random(block.shape) < probability) & ~np.isnan(block)
        _keep_one_cell(part, mask, rng)
        hidden = {view: np.where(mask[view], np.nan, block) for view, block in part.items()}
        hidden_parts.append(hidden)
        masks.append(mask)
    return hidden_parts, masks


def _keep_one_cell(part, mask, rng):
    """Unhide one observed cell of each sample that would lose every cell it has.

    A sample with nothing observed has no code; with few features (penguins)
    some samples would otherwise lose all.
    """
    observed = np.hstack([~np.isnan(part[v]) for v in part])
    hidden = np.hstack([mask[v] for v in part])
    widths = np.cumsum([0] + [part[v].shape[1] for v in part])
    for row in np.flatnonzero(observed.any(axis=1) & ~(observed & ~hidden).any(axis=1)):
        column = rng.choice(np.flatnonzero(observed[row]))
        view = np.searchsorted(widths, column, side="right") - 1
        mask[list(part)[view]][row, column - widths[view]] = False


def concat(part):
    return np.hstack([part[view] for view in part])


def hidden_mse(truth, filled, mask):
    errors = [(filled[v] - truth[v])[mask[v]] for v in truth]
    return float(np.mean(np.concatenate(errors) ** 2))


def accuracy(train_features, y_train, test_features, y_test):
    classifier = LogisticRegression(max_iter=2000).fit(train_features, y_train)
    return float(classifier.score(test_features, y_test))


def sklearn_imputer(method, seed):
    if method == "mean":
        return SimpleImputer()
    if method == "knn":
        return KNNImputer(n_neighbors=5)
    return IterativeImputer(max_iter=10, n_nearest_features=100, random_state=seed)


def run_sklearn(method, parts, hidden, masks, y_train, y_test, seed):
    views = list(parts[0])
    widths = np.cumsum([0] + [parts[0][v].shape[1] for v in views])
    start = time.perf_counter()
    imputer = sklearn_imputer(method, seed).fit(concat(hidden[0]))
    filled = [imputer.transform(concat(part)) for part in hidden]
    seconds = time.perf_counter() - start
    test = {v: filled[1][:, widths[i] : widths[i + 1]] for i, v in enumerate(views)}
    # Rows missing a whole view in the data set itself stay unscored.
    return {
        "mse": hidden_mse(parts[1], test, masks[1]),
        "accuracy": accuracy(filled[0], y_train, filled[1], y_test),
        "seconds": seconds,
    }


def skmmae_estimator(seed, params):
    """``MultimodalImputer()``'s estimator with this seed and ``--params`` on top."""
    return default_estimator(random_state=seed).set_params(**params)


def run_skmmae(parts, hidden, masks, y_train, y_test, seed, params):
    start = time.perf_counter()
    imputer = MultimodalImputer(skmmae_estimator(seed, params))
    test = imputer.fit(hidden[0]).transform(hidden[1])
    codes = [imputer.estimator_.transform(part) for part in hidden]
    seconds = time.perf_counter() - start
    return {
        "mse": hidden_mse(parts[1], test, masks[1]),
        "accuracy": accuracy(codes[0], y_train, codes[1], y_test),
        "seconds": seconds,
    }


def complete_accuracy(parts, y_train, y_test, seed, params):
    ae = skmmae_estimator(seed, params).fit(parts[0])
    return accuracy(ae.transform(parts[0]), y_train, ae.transform(parts[1]), y_test)


def summary(values):
    values = np.asarray(values)
    return f"{values.mean():.3f} ± {values.std():.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--patterns", nargs="+", default=["mcar", "mnar"])
    parser.add_argument("--rates", nargs="+", type=float, default=[0.1, 0.3, 0.5])
    parser.add_argument("--mnar-rates", nargs="+", type=float, default=[0.3])
    parser.add_argument("--methods", nargs="+", default=["mean", "knn", "iterative", "skmmae"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--params", type=json.loads, default={})
    parser.add_argument("--no-complete", action="store_true", help="skip the complete-data codes")
    args = parser.parse_args()
    params = args.params
    print(
        f"# torch {torch.__version__}, sklearn {sklearn.__version__}, "
        f"{platform.machine()}, {torch.get_num_threads()} threads; skmmae: "
        f"{skmmae_estimator(None, params)}"
    )
    print("| data | pattern | rate | method | MSE hidden | accuracy | seconds |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for dataset in args.datasets:
        parts, y_train, y_test = standardized_split(dataset)
        if "skmmae" in args.methods and not args.no_complete:
            complete = [complete_accuracy(parts, y_train, y_test, s, params) for s in args.seeds]
            print(f"| {dataset} | none | 0 | skmmae complete | | {summary(complete)} | |", flush=True)
        settings = [("mcar", r) for r in args.rates if "mcar" in args.patterns]
        settings += [("mnar", r) for r in args.mnar_rates if "mnar" in args.patterns]
        for pattern, rate in settings:
            for method in args.methods:
                results = []
                for seed in args.seeds:
                    hidden, masks = hide(parts, pattern, rate, seed)
                    if method == "skmmae":
                        result = run_skmmae(parts, hidden, masks, y_train, y_test, seed, params)
                    else:
                        result = run_sklearn(method, parts, hidden, masks, y_train, y_test, seed)
                    results.append(result)
                cells = " | ".join(summary([r[k] for r in results]) for k in ("mse", "accuracy", "seconds"))
                print(f"| {dataset} | {pattern} | {rate} | {method} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
