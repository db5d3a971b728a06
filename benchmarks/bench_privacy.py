"""Private training on mfeat: what differential privacy costs in codes, reconstructions and time.

The protocol (issue "Private training")
---------------------------------------
mfeat's fixed stratified 70/30 split and standardization of
:mod:`bench_quality` (each view standardized with the training part's
per-feature mean and standard deviation). **Those statistics are taken as
public here**: the estimator is given the standardized views with
``Continuous(standardize=False)``, as a private fit requires (it refuses to
learn them from the data); a real deployment takes them from public data
or spends budget on them, which this benchmark does not count.

For each epsilon (``delta=1e-5``, the PRV accountant) and seed, the same
estimator (``BASE`` below, plus ``--params``) is fitted with
``privacy=DifferentialPrivacy(epsilon)``, and at epsilon = inf with
``privacy=None`` (the same model trained without DP-SGD: the cost of
privacy alone). Reported, as in :mod:`bench_quality`: code accuracy
(``LogisticRegression`` on the codes), reconstruction MSE over all 649
features, pix predicted from the other five views, and fit seconds; the
spent epsilon; and PCA on the concatenated views at the same code size.

DP-PCA: the one maintained package that offers one, IBM's diffprivlib
(0.6.6, ``diffprivlib.models.PCA``), fails to import with scikit-learn 1.9
(``from sklearn.tree._tree import DOUBLE``: an ImportError in its forest
module, which its package ``__init__`` imports), so it is not in the table.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_privacy.py                 # eps 1 3 8 inf, 3 seeds
    python benchmarks/bench_privacy.py --epsilons 8 --seeds 0 --params '{"max_epochs": 30}'

Set ``OMP_NUM_THREADS=1`` on a small shared machine, and run it alone.
"""

import argparse
import json
import math
import time

import numpy as np

from bench_quality import TARGET, accuracy, cell, machine_line, run_pca, split_and_scale
from skmmae import MultimodalAutoencoder
from skmmae.modalities import Continuous
from skmmae.privacy import DifferentialPrivacy

#: The estimator of every run, private or not (its defaults, but for the
#: read-out, which a private fit must take from the decoders).
BASE = {"readout": "decoder"}


def standardized_views(data):
    """The split's views in standardized units, as a private fit must get them."""
    X_train, X_test, y_train, y_test, stats = data
    scale = lambda X: {n: ((b - stats[n][0]) / stats[n][1]).astype(np.float32) for n, b in X.items()}  # noqa: E731
    return scale(X_train), scale(X_test), y_train, y_test


def mse(pred, truth, names):
    return float(np.concatenate([(pred[n] - truth[n]) ** 2 for n in names], axis=1).mean())


def run_skmmae(views, dim, epsilon, seed, params):
    X_train, X_test, y_train, y_test = views
    names = list(X_train)
    privacy = None if math.isinf(epsilon) else DifferentialPrivacy(epsilon, delta=1e-5)
    ae = MultimodalAutoencoder(
        encoding_dim=dim, random_state=seed, privacy=privacy,
        modalities={n: Continuous(standardize=False) for n in names}, **{**BASE, **params},
    )
    start = time.perf_counter()
    ae.fit(X_train)
    seconds = time.perf_counter() - start
    Z_train, Z_test = ae.transform(X_train), ae.transform(X_test)
    pix = ae.predict_modality({n: X_test[n] for n in names if n != TARGET}, TARGET)
    return {
        "accuracy": accuracy(Z_train, y_train, Z_test, y_test),
        "recon": mse(ae.inverse_transform(Z_test), X_test, names),
        "pix_from_others": mse({TARGET: pix}, X_test, [TARGET]),
        "seconds": seconds,
        "epsilon_spent": ae.privacy_spent_[0] if privacy is not None else math.inf,
    }


def summarize(runs):
    keys = ("accuracy", "recon", "pix_from_others", "seconds", "epsilon_spent")
    values = {k: np.array([r[k] for r in runs]) for k in keys}
    # An infinite epsilon (no privacy) has no spread.
    return {k: (float(v.mean()), float(np.ptp(v)) if np.isfinite(v).all() else 0.0) for k, v in values.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1, 3, 8, math.inf])
    parser.add_argument("--dim", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--params", default="{}", help="estimator parameters, a JSON dict")
    parser.add_argument("--json", help="write all runs to this file")
    args = parser.parse_args(argv)
    print(machine_line())
    params = json.loads(args.params)
    print(f"# estimator: {dict(BASE, **params)}; code size {args.dim}; seeds {args.seeds}")
    data = split_and_scale()
    views = standardized_views(data)
    pca = dict(run_pca(data, args.dim), epsilon_spent=math.inf)
    rows = [("PCA (concatenated views)", "-", summarize([pca]))]
    everything = {}
    start = time.perf_counter()
    for epsilon in args.epsilons:
        runs = [run_skmmae(views, args.dim, epsilon, seed, params) for seed in args.seeds]
        everything[str(epsilon)] = runs
        rows.append(("skmmae", epsilon, summarize(runs)))
        print(f"  epsilon={epsilon}: {summarize(runs)}", flush=True)
        if args.json:  # after each epsilon: a long run stopped early keeps what it measured
            with open(args.json, "w") as handle:
                json.dump(everything, handle, indent=1)
    print()
    print("| method | epsilon asked | epsilon spent | accuracy | recon MSE | pix from the others (MSE) | fit s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, epsilon, stats in rows:
        spent = stats["epsilon_spent"][0]
        print(f"| {label} | {epsilon} | {spent:.2f} | {cell(stats['accuracy'])} | "
              f"{cell(stats['recon'])} | {cell(stats['pix_from_others'])} | "
              f"{stats['seconds'][0]:.1f} |")
    print(f"\n# mean ± half the range over {len(args.seeds)} seeds; "
          f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
