"""Reconstruction quality per data kind of ``skmmae.modalities``, against trivial baselines.

One table, one or more rows per kind (Continuous, Binary, Categorical, Counts,
Image, TimeSeries, Sequence/"tokens"). Every fit is
``MultimodalAutoencoder(modalities=..., encoding_dim=10, max_epochs=--epochs,
random_state=0)`` with all other parameters at their defaults
(``hidden_dims=(256, 128)``, ``fusion="mean"``, Adam, lr 1e-3, batch 128).
Every score is on the held-out test part of a 70/30 split
(``random_state=0``, stratified by the label where there is one), from
``inverse_transform(transform(X_test))``; every baseline is fitted on the
training part only.

Data, metric and baseline per kind
----------------------------------
continuous  mfeat, all 6 views (649 features). MSE over all features in
            units standardized by the training part's per-feature mean and
            standard deviation (a constant feature keeps scale 1). Baseline:
            the training mean of each feature (about 1.0).
binary      mfeat ``pix >= 3`` (240 black/white pixels) as ``"binary"``
            next to ``fou`` (continuous), as in ``tests/test_modalities.py``.
            One fit, two rows: the BCE of the predicted probabilities
            against each pixel's training frequency, and the bit accuracy of
            probabilities > 0.5 against each pixel's training majority value.
categorical mfeat's first 8 ``kar`` columns cut at their training terciles
            into the strings "low" / "mid" / "high" (as in
            ``tests/test_modalities.py``), next to ``fou`` and ``fac``
            (continuous). Accuracy per (sample, column) cell against each
            column's most frequent training level.
counts      The 48-sentence, 3-topic corpus of
            ``tests/test_modalities_counts.py`` (loaded from that file, as
            ``bench_kinds_counts.py`` does), stratified by topic;
            ``CountVectorizer(stop_words="english")`` fitted on the training
            documents, sparse counts as ``"counts"`` (Poisson). Mean Poisson
            deviance per (document, word) entry against each word's mean
            training count.
image       (i) sklearn digits (``load_digits_words``, key "image", 8x8 in
            [0, 1], so the loss is BCE) alone, and (ii) with its word as
            ``"tokens"`` (the same fit as the tokens rows): pixel MSE
            against the training mean image. (iii) mfeat ``pix`` as
            (n, 15, 16) images next to the other 5 continuous views: MSE of
            the 240 pix values standardized as for continuous, against the
            training mean (about 1.0).
timeseries  Synthetic: the seeded 2-channel noisy sines of
            ``tests/test_modalities_conv.py`` (120 series of 37 steps; not
            stratified). MSE in units standardized per channel (mean and
            standard deviation over training samples and time), against the
            training mean series (per channel and time step, about 1.0).
tokens      digits words (key "text", ``modalities={"image": "image",
            "text": "tokens"}``). Word accuracy (word reconstructed exactly)
            and token accuracy (positions up to and including the word's
            end pad, the ones the loss counts), against always predicting
            the most frequent training word.

Fit seconds: wall time of ``fit`` alone, after one small warm-up fit at the
start of the run that takes in torch's one-off costs. Rows that share a fit
say so.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_kinds.py              # 100 epochs, all kinds
    OMP_NUM_THREADS=1 python benchmarks/bench_kinds.py --epochs 5 --only binary tokens

On a CPU shared with other work, set ``OMP_NUM_THREADS=1``: oversubscribed
torch threads made fits ten times slower on a 2-core VM.
"""

import argparse
import importlib.util
import os
import pathlib
import platform
import shlex
import sys
import time

import numpy as np
import sklearn
import skorch
import torch
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import mean_poisson_deviance
from sklearn.model_selection import train_test_split

import skmmae
from skmmae import MultimodalAutoencoder
from skmmae.datasets import load_digits_words, load_mfeat

ROOT = pathlib.Path(__file__).resolve().parents[1]
KIND_NAMES = ("continuous", "binary", "categorical", "counts", "image", "timeseries", "tokens")
ALIASES = {"sequence": "tokens"}


# -- data ---------------------------------------------------------------------------


def split(n, labels=None):
    """Train and test row indices: 70/30, random_state 0, stratified where labelled."""
    return train_test_split(np.arange(n), test_size=0.3, stratify=labels, random_state=0)


def rows(data, index):
    return {name: block[index] for name, block in data.items()}


def mean_and_scale(block):
    """Per-feature training statistics; a constant feature keeps scale 1."""
    std = block.std(axis=0)
    return block.mean(axis=0), np.where(std > 0, std, 1.0)


def binned(block, train, labels=("low", "mid", "high")):
    """Each column cut at its training terciles, as strings (tests/test_modalities.py)."""
    edges = np.quantile(train, [1 / 3, 2 / 3], axis=0)
    codes = (block[:, None, :] > edges[None]).sum(axis=1)
    return np.asarray(labels)[codes]


def sines():
    """Noisy sines, (120, 2, 37), seeded (tests/test_modalities_conv.py)."""
    rng = np.random.default_rng(0)
    n, t = 120, np.linspace(0, 2 * np.pi, 37)
    freq, phase = rng.uniform(1, 3, (n, 1)), rng.uniform(0, 2 * np.pi, (n, 1))
    first = np.sin(freq * t + phase)
    second = 5 + 3 * np.cos(freq * t + 2 * phase)
    series = np.stack([first, second], axis=1)
    return series + 0.1 * rng.normal(size=series.shape)


def load_corpus():
    """The documents and topics of the counts tests' corpus."""
    path = ROOT / "tests" / "test_modalities_counts.py"
    spec = importlib.util.spec_from_file_location("counts_corpus", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return np.array(module.DOCS), np.asarray(module.TOPICS)


# -- metrics ------------------------------------------------------------------------


def bce(truth, probability):
    p = np.clip(np.asarray(probability, dtype=np.float64), 1e-7, 1 - 1e-7)
    return float(-(truth * np.log(p) + (1 - truth) * np.log(1 - p)).mean())


def mse(truth, prediction, scale=1.0):
    return float(np.mean(((np.asarray(truth, np.float64) - prediction) / scale) ** 2))


def counted_positions(tokens, pad_id=0):
    """Mask of each row's positions up to and including its first pad."""
    lengths = (np.cumsum(tokens == pad_id, axis=1) == 0).sum(axis=1)
    return np.arange(tokens.shape[1])[None] <= lengths[:, None]


# -- the benchmark ------------------------------------------------------------------


class Bench:
    def __init__(self, epochs, device):
        self.epochs, self.device = epochs, device
        self.rows = []
        self._fits = {}  # shared fits, by key
        self._mfeat = None

    def autoencoder(self, modalities):
        params = {"device": self.device} if self.device else {}
        return MultimodalAutoencoder(
            modalities=modalities, encoding_dim=10, max_epochs=self.epochs, random_state=0, **params
        )

    def fit_reconstruct(self, modalities, train, test):
        """Fit on ``train``; ``(reconstruction of test, fit seconds)``."""
        ae = self.autoencoder(modalities)
        start = time.perf_counter()
        ae.fit(train)
        seconds = time.perf_counter() - start
        return ae.inverse_transform(ae.transform(test)), seconds

    def add(self, kind, data, metric, value, baseline, seconds):
        self.rows.append((kind, data, metric, value, baseline, seconds))
        print(f"  {kind}: {data}: {metric} {value:.4f} (baseline {baseline:.4f})", flush=True)

    def mfeat(self):
        if self._mfeat is None:
            X, y = load_mfeat(return_X_y=True)
            X = {name: np.asarray(block) for name, block in dict(X).items()}
            self._mfeat = X, np.asarray(y), split(len(y), y)
        return self._mfeat

    # one method per kind

    def continuous(self):
        X, y, (train, test) = self.mfeat()
        tr, te = rows(X, train), rows(X, test)
        stats = {m: mean_and_scale(block) for m, block in tr.items()}
        rec, seconds = self.fit_reconstruct({m: "continuous" for m in X}, tr, te)
        scaled = lambda data: np.concatenate(  # noqa: E731
            [(data[m] - stats[m][0]) / stats[m][1] for m in X], axis=1
        )
        truth = scaled(te)
        self.add(
            "Continuous",
            f"mfeat, 6 views, 649 features ({len(train)} train / {len(test)} test)",
            "MSE, train-standardized (lower better)",
            mse(truth, scaled(rec)),
            mse(truth, 0.0),
            seconds,
        )

    def binary(self):
        X, y, (train, test) = self.mfeat()
        bits = (X["pix"] >= 3).astype(np.float32)
        data = {"fou": X["fou"], "bits": bits}
        rec, seconds = self.fit_reconstruct({"bits": "binary"}, rows(data, train), rows(data, test))
        probability, truth = rec["bits"], bits[test]
        frequency = bits[train].mean(axis=0)
        name = "mfeat pix >= 3, 240 bits (+ fou continuous)"
        self.add("Binary", name, "BCE (lower better)", bce(truth, probability),
                 bce(truth, np.broadcast_to(frequency, truth.shape)), seconds)
        self.add("Binary", name, "bit accuracy, p > 0.5 (higher better)",
                 float(((probability > 0.5) == truth).mean()),
                 float(((frequency > 0.5) == truth).mean()), None)

    def categorical(self):
        X, y, (train, test) = self.mfeat()
        levels = binned(X["kar"][:, :8], X["kar"][train, :8])
        data = {"fou": X["fou"], "fac": X["fac"], "levels": levels}
        rec, seconds = self.fit_reconstruct(
            {"levels": "categorical"}, rows(data, train), rows(data, test)
        )
        truth = levels[test]
        majority = []
        for column in levels[train].T:
            values, counts = np.unique(column, return_counts=True)
            majority.append(values[np.argmax(counts)])
        self.add(
            "Categorical",
            "mfeat kar[:, :8] at train terciles, 3 levels (+ fou, fac continuous)",
            "cell accuracy (higher better)",
            float((rec["levels"] == truth).mean()),
            float((np.asarray(majority)[None] == truth).mean()),
            seconds,
        )

    def counts(self):
        docs, topics = load_corpus()
        train, test = split(len(docs), topics)
        vectorizer = CountVectorizer(stop_words="english").fit(docs[train])
        words_train = vectorizer.transform(docs[train])
        words_test = vectorizer.transform(docs[test])
        rec, seconds = self.fit_reconstruct(
            {"words": "counts"}, {"words": words_train}, {"words": words_test}
        )
        truth = words_test.toarray().astype(np.float64).ravel()
        rate = np.asarray(rec["words"], dtype=np.float64).ravel()
        baseline = np.broadcast_to(
            np.asarray(words_train.mean(axis=0)), words_test.shape
        ).ravel()
        self.add(
            "Counts",
            f"test corpus, bag of words, sparse ({len(train)} train / {len(test)} test docs, "
            f"{words_train.shape[1]} words)",
            "Poisson deviance per entry (lower better)",
            float(mean_poisson_deviance(truth, rate)),
            float(mean_poisson_deviance(truth, baseline)),
            seconds,
        )

    def digits_with_text(self):
        """The image + text fit, shared by the image and tokens rows."""
        if "digits+text" not in self._fits:
            bunch = load_digits_words()
            X = {"image": np.asarray(bunch.data["image"]), "text": np.asarray(bunch.data["text"])}
            train, test = split(len(bunch.target), bunch.target)
            rec, seconds = self.fit_reconstruct(
                {"image": "image", "text": "tokens"}, rows(X, train), rows(X, test)
            )
            self._fits["digits+text"] = X, train, test, rec, seconds
        return self._fits["digits+text"]

    def image(self):
        X, train, test, rec_both, seconds_both = self.digits_with_text()
        images = X["image"]
        mean_image = images[train].mean(axis=0)
        truth = images[test]
        rec, seconds = self.fit_reconstruct(
            {"image": "image"}, {"image": images[train]}, {"image": images[test]}
        )
        metric = "pixel MSE, values in [0, 1] (lower better)"
        baseline = mse(truth, mean_image)
        self.add("Image", "digits 8x8 (sklearn), image alone", metric,
                 mse(truth, rec["image"]), baseline, seconds)
        self.add("Image", "digits 8x8, image + its word as tokens", metric,
                 mse(truth, rec_both["image"]), baseline, seconds_both)

        M, y, (train, test) = self.mfeat()
        data = dict(M, pix=M["pix"].reshape(-1, 15, 16))
        rec, seconds = self.fit_reconstruct({"pix": "image"}, rows(data, train), rows(data, test))
        mean, scale = mean_and_scale(M["pix"][train])
        truth = (M["pix"][test] - mean) / scale
        reconstruction = (rec["pix"].reshape(len(test), -1) - mean) / scale
        self.add(
            "Image",
            "mfeat pix as 15x16 images (+ 5 continuous views)",
            "pix MSE, train-standardized (lower better)",
            mse(truth, reconstruction),
            mse(truth, 0.0),
            seconds,
        )

    def timeseries(self):
        series = sines()
        train, test = split(len(series))
        mean = series[train].mean(axis=(0, 2), keepdims=True)[0]
        scale = series[train].std(axis=(0, 2), keepdims=True)[0]
        rec, seconds = self.fit_reconstruct(
            {"ts": "timeseries"}, {"ts": series[train]}, {"ts": series[test]}
        )
        truth = series[test]
        self.add(
            "TimeSeries",
            f"synthetic: seeded noisy sines, 2 channels x 37 steps "
            f"({len(train)} train / {len(test)} test)",
            "MSE, channel-standardized (lower better)",
            mse(truth, rec["ts"], scale),
            mse(truth, series[train].mean(axis=0), scale),
            seconds,
        )

    def tokens(self):
        X, train, test, rec, seconds = self.digits_with_text()
        shared = "image" in self._done
        text, predicted = X["text"][test], np.asarray(rec["text"])
        words, counts = np.unique(X["text"][train], axis=0, return_counts=True)
        frequent = words[np.argmax(counts)]
        exact = lambda p: (p == text).all(axis=1).mean()  # noqa: E731
        mask = counted_positions(text)
        per_token = lambda p: (p == text)[mask].mean()  # noqa: E731
        name = "digits words ('zero'..'nine', 6 positions) + image"
        self.add("Sequence (tokens)", name, "word accuracy (higher better)",
                 float(exact(predicted)), float(exact(frequent[None])),
                 "same fit as Image, image + word" if shared else seconds)
        self.add("Sequence (tokens)", name, "token accuracy, to the end pad (higher better)",
                 float(per_token(predicted)),
                 float(per_token(np.broadcast_to(frequent, text.shape))), None)

    def run(self, kinds):
        self._done = set()
        for kind in KIND_NAMES:
            if kind in kinds:
                print(f"{kind} ...", flush=True)
                getattr(self, kind)()
                self._done.add(kind)


def warm_up(device):
    """One small fit, so torch's one-off costs are not charged to the first timed fit."""
    params = {"device": device} if device else {}
    data = np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32)
    MultimodalAutoencoder(encoding_dim=2, max_epochs=1, random_state=0, **params).fit(data)


def machine_facts():
    threads = os.environ.get("OMP_NUM_THREADS")
    return [
        f"platform: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs",
        f"python {platform.python_version()}, skmmae {getattr(skmmae, '__version__', '?')}, "
        f"torch {torch.__version__}, skorch {skorch.__version__}, "
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}",
        f"torch threads: {torch.get_num_threads()} (OMP_NUM_THREADS={threads})",
    ]


def command():
    threads = os.environ.get("OMP_NUM_THREADS")
    prefix = f"OMP_NUM_THREADS={threads} " if threads is not None else ""
    return prefix + "python " + " ".join(shlex.quote(a) for a in sys.argv)


def markdown(rows):
    lines = [
        "| kind | data | metric | skmmae | baseline | fit seconds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for kind, data, metric, value, baseline, seconds in rows:
        fit = "same fit as above" if seconds is None else seconds
        fit = f"{fit:.1f}" if isinstance(fit, float) else fit
        lines.append(f"| {kind} | {data} | {metric} | {value:.3f} | {baseline:.3f} | {fit} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=100, help="max_epochs of each fit (100)")
    parser.add_argument(
        "--only", nargs="+", metavar="KIND", choices=[*KIND_NAMES, *ALIASES],
        help=f"run only these kinds, of {', '.join(KIND_NAMES)} ('sequence' = tokens)",
    )
    parser.add_argument("--device", default=None, help="the estimator's device (default: its own)")
    args = parser.parse_args(argv)
    kinds = {ALIASES.get(k, k) for k in (args.only or KIND_NAMES)}

    start = time.perf_counter()
    warm_up(args.device)
    bench = Bench(args.epochs, args.device)
    bench.run(kinds)
    total = time.perf_counter() - start

    print()
    for line in machine_facts():
        print(line)
    print(f"command: {command()}")
    print(f"MultimodalAutoencoder(encoding_dim=10, max_epochs={args.epochs}, random_state=0), "
          "other parameters at their defaults; test part of a 70/30 split")
    print()
    print(markdown(bench.rows))
    print(f"\ntotal wall time {total:.0f} s")
    return bench.rows


if __name__ == "__main__":
    main()
