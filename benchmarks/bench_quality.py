"""Quality against the peers on mfeat: codes, reconstructions, cross-modal prediction.

The protocol (issue "Quality against the peers")
------------------------------------------------
UCI Multiple Features (mfeat, shipped with skmmae): a stratified 70/30 split
with ``random_state=0``; each view standardized with the training part's
per-feature mean and standard deviation (for the metrics; the estimator
standardizes inside itself). For each method and code size:

- accuracy: ``LogisticRegression(max_iter=2000)`` trained on the training
  codes, scored on the test codes;
- recon: mean squared error over all 649 features of the test part, in
  those standardized units;
- pix from others: the 240 ``pix`` features predicted from a code computed
  from the other five views only, same units.

skmmae runs with the estimator's defaults except ``encoding_dim`` (and, for
the table of fusions, ``fusion``), over ``--seeds`` (the estimator's
``random_state``; the split stays fixed); PCA runs on the concatenated
standardized training views, and predicts pix from the others by least
squares on the other views' loadings. ``--params`` overrides estimator
parameters (a JSON dict) to try candidate defaults.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_quality.py                 # defaults, dims 10 and 32
    python benchmarks/bench_quality.py --fusions mean poe --dims 10
    python benchmarks/bench_quality.py --params '{"noise_std": 0.5}' --dims 10 --seeds 0

Set ``OMP_NUM_THREADS=1`` on a small shared machine: oversubscribed torch
threads slow the fits many times over.
"""

import argparse
import json
import platform
import time

import numpy as np
import sklearn
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skmmae import MultimodalAutoencoder
from skmmae.datasets import load_mfeat

TARGET = "pix"


def split_and_scale():
    """The fixed split, and each view's training mean and standard deviation."""
    X, y = load_mfeat(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    stats = {}
    for name, block in X_train.items():
        std = block.std(axis=0)
        stats[name] = (block.mean(axis=0), np.where(std > 0, std, 1.0))
    return X_train, X_test, y_train, y_test, stats


def standardized(block, name, stats):
    mean, std = stats[name]
    return (np.asarray(block, dtype=np.float64) - mean) / std


def mse(pred, truth, names, stats):
    """Mean squared error over all features of ``names``, standardized units."""
    errors = [
        (standardized(pred[n], n, stats) - standardized(truth[n], n, stats)) ** 2 for n in names
    ]
    return float(np.concatenate(errors, axis=1).mean())


def accuracy(Z_train, y_train, Z_test, y_test):
    classifier = LogisticRegression(max_iter=2000).fit(Z_train, y_train)
    return float(classifier.score(Z_test, y_test))


def run_skmmae(data, dim, seed, params):
    X_train, X_test, y_train, y_test, stats = data
    names = list(X_train)
    ae = MultimodalAutoencoder(encoding_dim=dim, random_state=seed, **params)
    start = time.perf_counter()
    ae.fit(X_train)
    seconds = time.perf_counter() - start
    Z_train, Z_test = ae.transform(X_train), ae.transform(X_test)
    others = {n: X_test[n] for n in names if n != TARGET}
    pix = ae.predict_modality(others, TARGET)
    return {
        "accuracy": accuracy(Z_train, y_train, Z_test, y_test),
        "recon": mse(ae.inverse_transform(Z_test), X_test, names, stats),
        "pix_from_others": mse({TARGET: pix}, X_test, [TARGET], stats),
        "seconds": seconds,
    }


def run_pca(data, dim):
    X_train, X_test, y_train, y_test, stats = data
    names = list(X_train)
    concat = lambda X: np.hstack([standardized(X[n], n, stats) for n in names])  # noqa: E731
    start = time.perf_counter()
    pca = PCA(n_components=dim, random_state=0).fit(concat(X_train))
    seconds = time.perf_counter() - start
    Z_train, Z_test = pca.transform(concat(X_train)), pca.transform(concat(X_test))
    recon = pca.inverse_transform(Z_test)
    widths = np.cumsum([0] + [X_train[n].shape[1] for n in names])
    columns = {n: slice(widths[i], widths[i + 1]) for i, n in enumerate(names)}
    # pix from the others: the code that best explains the other views'
    # standardized values through their loadings, then pix's loadings.
    test = concat(X_test)
    others = np.hstack([test[:, columns[n]] for n in names if n != TARGET])
    loadings_others = np.hstack(
        [pca.components_[:, columns[n]] for n in names if n != TARGET]
    )
    mean_others = np.hstack([pca.mean_[columns[n]] for n in names if n != TARGET])
    code, *_ = np.linalg.lstsq(loadings_others.T, (others - mean_others).T, rcond=None)
    pix = code.T @ pca.components_[:, columns[TARGET]] + pca.mean_[columns[TARGET]]
    truth = standardized(X_test[TARGET], TARGET, stats)
    return {
        "accuracy": accuracy(Z_train, y_train, Z_test, y_test),
        "recon": float(((recon - test) ** 2).mean()),
        "pix_from_others": float(((pix - truth) ** 2).mean()),
        "seconds": seconds,
    }


def summarize(runs):
    keys = ("accuracy", "recon", "pix_from_others", "seconds")
    values = {k: np.array([r[k] for r in runs]) for k in keys}
    return {k: (float(v.mean()), float(v.max() - v.min())) for k, v in values.items()}


def cell(stat, digits=3):
    mean, spread = stat
    return f"{mean:.{digits}f} ± {spread / 2:.{digits}f}"


def machine_line():
    """The machine and library versions a benchmark ran with, as a comment line."""
    return (f"# {platform.platform()}, {platform.processor() or 'cpu'}; torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), scikit-learn {sklearn.__version__}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[10, 32])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--fusions", nargs="+", default=[None],
                        help="fusions to run (default: the estimator's default only)")
    parser.add_argument("--params", default="{}", help="estimator parameters, a JSON dict")
    parser.add_argument("--no-pca", action="store_true")
    parser.add_argument("--json", help="write all runs to this file")
    args = parser.parse_args(argv)
    params = json.loads(args.params)
    print(machine_line())
    print(f"# params: {params or 'defaults'}; seeds {args.seeds}")
    data = split_and_scale()
    rows, everything = [], {}
    start = time.perf_counter()
    for dim in args.dims:
        if not args.no_pca:
            rows.append(("PCA (concatenated views)", dim, summarize([run_pca(data, dim)])))
        for fusion in args.fusions:
            run_params = dict(params, **({"fusion": fusion} if fusion else {}))
            runs = [run_skmmae(data, dim, seed, run_params) for seed in args.seeds]
            label = f"skmmae ({fusion or run_params.get('fusion', 'default fusion')})"
            if params:
                label += " + params"
            rows.append((label, dim, summarize(runs)))
            everything[f"{label} dim={dim}"] = runs
            print(f"  {label} dim={dim}: {summarize(runs)}", flush=True)
    print()
    print("| method | code size | accuracy | recon MSE | pix from the other 5 views (MSE) | fit s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, dim, stats in rows:
        print(f"| {label} | {dim} | {cell(stats['accuracy'])} | {cell(stats['recon'])} | "
              f"{cell(stats['pix_from_others'])} | {stats['seconds'][0]:.1f} |")
    print(f"\n# mean ± half the range over {len(args.seeds)} seeds; "
          f"total {time.perf_counter() - start:.0f} s")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"params": params, "runs": everything}, handle, indent=1)


if __name__ == "__main__":
    main()
