"""The defaults against a plain autoencoder and PCA on every data set shipped with skmmae.

The protocol (issue "Defaults that hold on every kind of data")
---------------------------------------------------------------
Each data set of :mod:`skmmae.datasets` gets one fixed stratified 70/30
split (``random_state=0``). For each method, code size and seed:

- accuracy: ``LogisticRegression(max_iter=2000)`` trained on the training
  codes, scored on the test codes;
- reconstruction of each modality of the test part from its code, in a unit
  fit for its kind: standardized MSE (continuous values and spectrograms, in
  units of each feature's training standard deviation), pixel MSE (images
  and clips, values in [0, 1]), token accuracy (the share of correct ids
  over each true sequence's positions up to and including its end pad) and
  category accuracy;
- cross-modal prediction: the target modality predicted from a code of the
  source modalities alone (``predict_modality``), scored as above, except
  that a token target is scored by the share of sequences predicted exactly
  (words, captions);
- fit seconds, and predict seconds: ``transform`` of the test part plus all
  its ``predict_modality`` calls.

Methods:

- ``defaults``: ``MultimodalAutoencoder`` with its defaults (only
  ``encoding_dim``, the kinds and ``random_state`` set);
- ``plain``: the same architecture with every regularizer and post-fit step
  off (no dropout, input noise or modality dropout, one decoding, no weight
  average, the decoders as read-outs, no refinement);
- ``pca``: PCA on the flattened, concatenated, standardized modalities
  (tokens and categories one-hot); reconstructions de-standardized (one-hot
  groups read by their largest value, pixels clipped to [0, 1]); the
  cross-modal code is the least-squares code of the source modalities'
  values through their loadings. PCA is deterministic: one run.

Missing modalities (penguins) are left out of every score; PCA sees them
as the training mean (0 in standardized units).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_suite.py                  # everything, 3 seeds
    OMP_NUM_THREADS=1 python benchmarks/bench_suite.py --datasets mfeat penguins --seeds 0
    python benchmarks/bench_suite.py --methods defaults --params '{"readout": "decoder"}'

Set ``OMP_NUM_THREADS=1`` on a small shared machine; run two processes on
different data sets to use two cores.
"""

import argparse
import json
import platform
import time
from dataclasses import dataclass

import numpy as np
import sklearn
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skmmae import MultimodalAutoencoder
from skmmae import datasets
from skmmae.options import HiddenLayers

#: Every regularizer and post-fit step off: the "plain autoencoder".
PLAIN = {
    "hidden_dims": HiddenLayers(dropout=0.0),
    "noise_std": 0.0,
    "input_dropout": 0.0,
    "modality_dropout": 0.0,  # so one decoding: no subset to score apart
    "cross_weight": 0.0,
    "ema_decay": 0.0,
    "readout": "decoder",
    "refine": None,
}


@dataclass
class Suite:
    """One data set: its loader, the kind of each modality, what to predict from what."""

    loader: str
    kinds: dict
    metrics: dict  # modality -> "standardized" | "pixels" | "tokens" | "categories"
    cross: tuple  # (target, sources): sources None means all the others
    dims: tuple


SUITES = {
    "digits_words": Suite(
        "load_digits_words",
        {"image": "image", "text": "tokens"},
        {"image": "pixels", "text": "tokens"},
        (("text", ("image",)), ("image", ("text",))),
        (10, 32),
    ),
    "spoken_digits": Suite(
        "load_spoken_digits",
        {"audio": "timeseries", "text": "tokens"},
        {"audio": "standardized", "text": "tokens"},
        (("text", ("audio",)), ("audio", ("text",))),
        (10, 32),
    ),
    "moving_digits": Suite(
        "load_moving_digits",
        {"video": "video", "caption": "tokens"},
        {"video": "pixels", "caption": "tokens"},
        (("caption", ("video",)), ("video", ("caption",))),
        (10, 32),
    ),
    "mfeat": Suite(
        "load_mfeat",
        {},
        dict.fromkeys(("fou", "fac", "kar", "pix", "zer", "mor"), "standardized"),
        (("pix", None),),
        (10, 32),
    ),
    "penguins": Suite(
        "load_penguins",
        {},
        {"body": "standardized", "isotopes": "standardized", "site": "categories",
         "sex": "categories"},
        (("body", None),),
        (2, 4),
    ),
}


# -- data ----------------------------------------------------------------------


def load_split(suite):
    X, y = getattr(datasets, suite.loader)(return_X_y=True)
    X = {name: X[name] for name in suite.metrics}
    rows = np.arange(len(y))
    train, test = train_test_split(rows, test_size=0.3, stratify=y, random_state=0)
    take = lambda idx: {n: np.asarray(b)[idx] for n, b in X.items()}  # noqa: E731
    return take(train), take(test), y[train], y[test]


def present_rows(block):
    """Rows that hold the modality: not entirely NaN (numbers) or None (objects)."""
    block = flat(block)
    if block.dtype.kind == "f":
        return ~np.isnan(block).all(axis=1)
    if block.dtype.kind == "O":
        return ~np.array([all(v is None for v in row) for row in block])
    return np.ones(len(block), dtype=bool)


def flat(block):
    return np.asarray(block).reshape(len(block), -1)


class Scorer:
    """Scores of one modality in the unit fit for its kind, from its training part."""

    def __init__(self, kind, train):
        self.kind = kind
        if kind == "standardized":
            values = flat(train).astype(np.float64)
            values = values[present_rows(values)]
            std = np.nanstd(values, axis=0)  # a missing cell (penguins) is not scored
            self.std = np.where(std > 0, std, 1.0)

    def recon(self, predicted, truth):
        keep = present_rows(truth)
        predicted, truth = np.asarray(predicted)[keep], np.asarray(truth)[keep]
        if self.kind == "standardized":
            error = (flat(predicted) - flat(truth)) / self.std
            return float(np.nanmean(error**2))
        if self.kind == "pixels":
            return float(((flat(predicted).astype(np.float64) - flat(truth)) ** 2).mean())
        if self.kind == "tokens":
            counted = counted_positions(truth)
            return float((truth == predicted)[counted].mean())
        return float((predicted == truth).mean())

    def cross(self, predicted, truth):
        if self.kind != "tokens":
            return self.recon(predicted, truth)
        counted = counted_positions(truth)
        return float(((truth == predicted) | ~counted).all(axis=1).mean())


def counted_positions(tokens, pad_id=0):
    lengths = (np.cumsum(tokens == pad_id, axis=1) == 0).sum(axis=1)
    return np.arange(tokens.shape[1])[None] <= lengths[:, None]


def accuracy(Z_train, y_train, Z_test, y_test):
    classifier = LogisticRegression(max_iter=2000).fit(Z_train, y_train)
    return float(classifier.score(Z_test, y_test))


def cross_sources(suite, target, sources):
    return tuple(n for n in suite.metrics if n != target) if sources is None else sources


def cross_label(target, sources):
    return f"{'+'.join(sources) if sources else 'others'}->{target}"


# -- methods -------------------------------------------------------------------


def run_autoencoder(suite, data, dim, seed, params):
    X_train, X_test, y_train, y_test = data
    scorers = {n: Scorer(k, X_train[n]) for n, k in suite.metrics.items()}
    kinds = {n: k for n, k in suite.kinds.items() if n in X_train}
    ae = MultimodalAutoencoder(encoding_dim=dim, modalities=kinds or None, random_state=seed,
                               **params)
    start = time.perf_counter()
    ae.fit(X_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    Z_test = ae.transform(X_test)
    predictions = {}
    for target, sources in suite.cross:
        given = {n: X_test[n] for n in cross_sources(suite, target, sources)}
        predictions[(target, sources)] = ae.predict_modality(given, target)
    predict_seconds = time.perf_counter() - start
    rec = ae.inverse_transform(Z_test)
    return {
        "accuracy": accuracy(ae.transform(X_train), y_train, Z_test, y_test),
        **{f"recon {n}": scorers[n].recon(rec[n], X_test[n]) for n in suite.metrics},
        **{
            cross_label(t, s): scorers[t].cross(p, X_test[t])
            for (t, s), p in predictions.items()
        },
        "fit s": fit_seconds,
        "predict s": predict_seconds,
    }


class OneHot:
    """Integer ids or strings of each column <-> one-hot columns (training categories)."""

    def __init__(self, train):
        train = flat(train)[present_rows(train)]
        self.categories = [np.unique(train[:, j]) for j in range(train.shape[1])]

    def encode(self, block):
        block = flat(block)
        parts = [
            (block[:, [j]] == cats[None]).astype(np.float64)
            for j, cats in enumerate(self.categories)
        ]
        values = np.hstack(parts)
        values[~present_rows(block)] = np.nan  # a missing modality
        return values

    def decode(self, values):
        out, start = [], 0
        for cats in self.categories:
            out.append(cats[np.argmax(values[:, start : start + len(cats)], axis=1)])
            start += len(cats)
        return np.stack(out, axis=1)


class Columns:
    """One modality as standardized columns for PCA, and back."""

    def __init__(self, kind, train):
        self.kind, self.shape = kind, np.asarray(train).shape[1:]
        self.onehot = OneHot(train) if kind in ("tokens", "categories") else None
        values = self.encode_raw(train)
        values = values[present_rows(train)]
        std = np.nanstd(values, axis=0)
        self.mean, self.std = np.nanmean(values, axis=0), np.where(std > 0, std, 1.0)

    def encode_raw(self, block):
        if self.onehot is not None:
            return self.onehot.encode(block)
        return flat(block).astype(np.float64)

    def encode(self, block):
        values = (self.encode_raw(block) - self.mean) / self.std
        # A missing modality or cell: the training mean.
        return np.nan_to_num(values, nan=0.0)

    def decode(self, values):
        raw = values * self.std + self.mean
        if self.onehot is not None:
            return self.onehot.decode(raw)
        if self.kind == "pixels":
            raw = np.clip(raw, 0, 1)
        return raw.reshape(len(raw), *self.shape)


def run_pca(suite, data, dim):
    X_train, X_test, y_train, y_test = data
    names = list(suite.metrics)
    scorers = {n: Scorer(k, X_train[n]) for n, k in suite.metrics.items()}
    columns = {n: Columns(suite.metrics[n], X_train[n]) for n in names}
    concat = lambda X: np.hstack([columns[n].encode(X[n]) for n in names])  # noqa: E731
    widths = np.cumsum([0] + [columns[n].mean.size for n in names])
    where = {n: slice(widths[i], widths[i + 1]) for i, n in enumerate(names)}
    start = time.perf_counter()
    pca = PCA(n_components=dim, random_state=0).fit(concat(X_train))
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    test = concat(X_test)
    Z_test = pca.transform(test)
    rec = pca.inverse_transform(Z_test)
    result = {"accuracy": accuracy(pca.transform(concat(X_train)), y_train, Z_test, y_test)}
    for n in names:
        result[f"recon {n}"] = scorers[n].recon(columns[n].decode(rec[:, where[n]]), X_test[n])
    for target, sources in suite.cross:
        sources = cross_sources(suite, target, sources)
        given = np.hstack([test[:, where[n]] for n in sources])
        loadings = np.hstack([pca.components_[:, where[n]] for n in sources])
        offset = np.hstack([pca.mean_[where[n]] for n in sources])
        code, *_ = np.linalg.lstsq(loadings.T, (given - offset).T, rcond=None)
        predicted = code.T @ pca.components_[:, where[target]] + pca.mean_[where[target]]
        label = cross_label(target, None if len(sources) > 1 else sources)
        result[label] = scorers[target].cross(columns[target].decode(predicted), X_test[target])
    result["fit s"] = fit_seconds
    result["predict s"] = time.perf_counter() - start
    return result


# -- report --------------------------------------------------------------------


def summarize(runs):
    keys = list(runs[0])
    return {k: (float(np.mean([r[k] for r in runs])), float(np.ptp([r[k] for r in runs])))
            for k in keys}


def cell(stat, key):
    mean, spread = stat
    digits = 1 if key.endswith(" s") else 3
    if spread == 0:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {spread / 2:.{digits}f}"


def print_table(name, rows):
    keys = list(rows[0][2])
    print(f"\n### {name}\n")
    print("| method | code | " + " | ".join(keys) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in keys) + " |")
    for method, dim, stats in rows:
        print(f"| {method} | {dim} | " + " | ".join(cell(stats[k], k) for k in keys) + " |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(SUITES), choices=list(SUITES))
    parser.add_argument("--methods", nargs="+", default=["pca", "plain", "defaults"],
                        choices=["pca", "plain", "defaults"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--dims", type=int, nargs="+", default=None,
                        help="code sizes (default: each data set's small and larger one)")
    parser.add_argument("--params", default="{}",
                        help="parameters added to the defaults' run, a JSON dict")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="max_epochs of both autoencoders (default: the estimator's)")
    parser.add_argument("--json", help="write every run to this file")
    args = parser.parse_args(argv)
    params = json.loads(args.params)
    epochs = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
    print(f"# {platform.platform()}; torch {torch.__version__} ({torch.get_num_threads()} "
          f"threads), scikit-learn {sklearn.__version__}; seeds {args.seeds}; "
          f"params {params or 'defaults'}")
    start, everything = time.perf_counter(), {}
    for name in args.datasets:
        suite = SUITES[name]
        data = load_split(suite)
        rows = []
        for dim in args.dims or suite.dims:
            for method in args.methods:
                if method == "pca":
                    runs = [run_pca(suite, data, dim)]
                else:
                    method_params = {**(PLAIN if method == "plain" else params), **epochs}
                    runs = [run_autoencoder(suite, data, dim, seed, method_params)
                            for seed in args.seeds]
                rows.append((method, dim, summarize(runs)))
                everything[f"{name} {method} {dim}"] = runs
                print(f"  {name} {method} {dim}: {rows[-1][2]}", flush=True)
        print_table(name, rows)
    print(f"\n# mean ± half the range over the seeds; total {time.perf_counter() - start:.0f} s")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"params": params, "runs": everything}, handle, indent=1)


if __name__ == "__main__":
    main()
