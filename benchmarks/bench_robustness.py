"""Robustness to a corrupted modality at test time, next to PCA (as in MultiBench).

The protocol (issue "Missing values and noise inside modalities")
-----------------------------------------------------------------
mfeat, a stratified 70/30 split (``random_state=0``), each view standardized
with the training part's mean and standard deviation. skmmae (defaults but
``encoding_dim=--dim``) and PCA (same size, on the concatenated views) are
fitted on the clean training part, and a ``LogisticRegression(max_iter=2000)``
on their clean training codes. Then one modality of the test part
(``--modality``, ``pix`` by default) is corrupted, and the test codes are
scored:

- ``noise``: Gaussian noise of standard deviation ``s`` (standardized
  units) added to every value of the modality;
- ``drop``: a contiguous block of a share ``s`` of the modality's features
  (a random start per sample) is lost. skmmae is given the lost cells as
  NaN (missing cells), PCA, which has no notion of missing values, at the
  training mean (0). A model fitted on complete data reads a NaN cell as
  that mean too, so both get the same information; at ``s = 1`` every
  cell of the modality is lost, and skmmae encodes the other modalities
  alone, as it does for a missing modality.

Each row is the test accuracy at each strength, over ``--seeds`` (the
estimator's ``random_state`` and the corruption's seed); ``drop vs clean``
is the last strength's accuracy minus the clean one.

With ``--dataset spoken_digits``, the corrupted modality is a time series:
the spectrograms (32 mel bands x 32 frames) of the spoken digits. skmmae is
fitted on spectrograms and words (``modalities={"audio": "timeseries",
"text": "tokens"}``), PCA on the spectrograms (flattened, standardized
with the training part's statistics), and every code, training and test,
is read from the spectrograms alone (the words would give the digit
away). ``noise`` adds Gaussian noise of ``s`` times each mel band's
training standard deviation; ``drop`` loses a contiguous block of a share
``s`` of the frames (time steps) of each recording, every band of them:
values not recorded (NaN) for skmmae, the training mean for PCA. At
``s = 1`` nothing is left to encode, so the drop stops at 0.75.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_robustness.py
    python benchmarks/bench_robustness.py --modality fac --seeds 0
    OMP_NUM_THREADS=1 python benchmarks/bench_robustness.py --dataset spoken_digits
    python benchmarks/bench_robustness.py --params '{"input_dropout": 0.3}'
    python benchmarks/bench_robustness.py --dataset spoken_digits --series-params '{"step_masking": 0.5}'

Set ``OMP_NUM_THREADS=1`` on a small shared machine, and run it alone.
"""

import argparse
import json
import platform

import numpy as np
import sklearn
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skmmae import MultimodalAutoencoder
from skmmae.datasets import load_mfeat, load_spoken_digits
from skmmae.modalities import TimeSeries

NOISE = (0.0, 0.5, 1.0, 2.0, 4.0)
DROP = (0.0, 0.25, 0.5, 0.75, 1.0)
SERIES_DROP = (0.0, 0.25, 0.5, 0.625, 0.75)


def standardized_split():
    X, y = load_mfeat(return_X_y=True)
    rows = np.arange(len(y))
    train, test = train_test_split(rows, test_size=0.3, stratify=y, random_state=0)
    parts = ({}, {})
    for view, block in X.items():
        mean, std = block[train].mean(axis=0), block[train].std(axis=0)
        std = np.where(std > 0, std, 1.0)
        for part, index in zip(parts, (train, test)):
            part[view] = (block[index] - mean) / std
    return parts, y[train], y[test]


def corrupt(block, kind, strength, rng, scale=1.0, fill=0.0):
    """The corrupted block, and (for drop) the mask of lost cells.

    Noise of ``strength`` times ``scale``; a drop of a contiguous share
    ``strength`` of the last axis (features, or the time steps of a
    series), the lost cells set to ``fill``.
    """
    if kind == "noise":
        return block + strength * scale * rng.normal(size=block.shape), None
    n, width = block.shape[0], block.shape[-1]
    lost_width = int(round(strength * width))
    starts = rng.integers(0, width - lost_width + 1, size=n)
    columns = np.arange(width)
    lost = (columns >= starts[:, None]) & (columns < starts[:, None] + lost_width)
    if block.ndim == 3:  # every channel of the lost steps
        lost = np.broadcast_to(lost[:, None, :], block.shape)
    return np.where(lost, fill, block), lost


def concat(part):
    return np.hstack([part[view] for view in part])


def spoken_digits_scores(seeds, dim, params, series_params):
    """(kind, method) -> seeds x strengths of test accuracy, the spectrograms corrupted."""
    X, y = load_spoken_digits(return_X_y=True)
    train, test = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=0)
    audio = X["audio"]
    band_std = audio[train].std(axis=(0, 2))[:, None]
    standardized = (audio - audio[train].mean(axis=0)) / audio[train].std(axis=0)
    scores = {}
    for seed in seeds:
        ae = MultimodalAutoencoder(
            dim, modalities={"audio": TimeSeries(**series_params), "text": "tokens"},
            random_state=seed,
            **params
        ).fit(X[train])
        pca = PCA(dim, random_state=seed).fit(standardized[train].reshape(len(train), -1))
        encoders = {
            "skmmae": lambda block, lost: ae.transform(
                {"audio": block if lost is None else np.where(lost, np.nan, block)}
            ),
            "PCA": lambda block, lost: pca.transform(
                ((block - audio[train].mean(axis=0)) / audio[train].std(axis=0)).reshape(len(block), -1)
            ),
        }
        classifiers = {
            name: LogisticRegression(max_iter=2000).fit(encode(audio[train], None), y[train])
            for name, encode in encoders.items()
        }
        for kind, strengths in (("noise", NOISE), ("drop", SERIES_DROP)):
            for method, encode in encoders.items():
                row = []
                for strength in strengths:
                    rng = np.random.default_rng(seed)
                    # Lost frames read as the training mean (PCA; skmmae gets NaN there).
                    block, lost = corrupt(
                        audio[test], kind, strength, rng, scale=band_std,
                        fill=np.broadcast_to(audio[train].mean(axis=0), audio[test].shape),
                    )
                    row.append(classifiers[method].score(encode(block, lost), y[test]))
                scores.setdefault((kind, method), []).append(row)
    return scores


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["mfeat", "spoken_digits"], default="mfeat")
    parser.add_argument("--modality", default="pix")
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--params", default="{}", help="estimator parameters, as JSON")
    parser.add_argument(
        "--series-params", default="{}", help="TimeSeries parameters of the spectrograms, as JSON"
    )
    args = parser.parse_args()
    params = json.loads(args.params)
    if args.dataset == "spoken_digits":
        args.modality = "audio"
    print(
        f"# torch {torch.__version__}, sklearn {sklearn.__version__}, {platform.machine()}, "
        f"{torch.get_num_threads()} threads; {args.dataset}, corrupted modality "
        f"{args.modality!r}, code {args.dim}"
    )
    if args.dataset == "spoken_digits":
        scores = spoken_digits_scores(args.seeds, args.dim, params, json.loads(args.series_params))
        print_scores(scores, args.modality, SERIES_DROP)
        return
    (train, test), y_train, y_test = standardized_split()
    scores = {}  # (kind, method) -> seeds x strengths
    for seed in args.seeds:
        ae = MultimodalAutoencoder(args.dim, random_state=seed, **params).fit(train)
        pca = PCA(args.dim, random_state=seed).fit(concat(train))
        encoders = {
            "skmmae": lambda part, lost: ae.transform(
                part if lost is None else {**part, args.modality: np.where(lost, np.nan, part[args.modality])}
            ),
            "PCA": lambda part, lost: pca.transform(concat(part)),
        }
        classifiers = {
            "skmmae": LogisticRegression(max_iter=2000).fit(ae.transform(train), y_train),
            "PCA": LogisticRegression(max_iter=2000).fit(pca.transform(concat(train)), y_train),
        }
        for kind, strengths in (("noise", NOISE), ("drop", DROP)):
            for method, encode in encoders.items():
                row = []
                for strength in strengths:
                    rng = np.random.default_rng(seed)
                    block, lost = corrupt(test[args.modality], kind, strength, rng)
                    codes = encode({**test, args.modality: block}, lost)
                    row.append(classifiers[method].score(codes, y_test))
                scores.setdefault((kind, method), []).append(row)
    print_scores(scores, args.modality, DROP)


def print_scores(scores, modality, drops):
    """One markdown table per corruption: accuracy at each strength, mean ± spread over seeds."""
    for kind, strengths in (("noise", NOISE), ("drop", drops)):
        print(f"\n{kind} on {modality!r}: test accuracy at each strength\n")
        print("| method | " + " | ".join(f"{s:g}" for s in strengths) + " | drop vs clean |")
        print("| --- |" + " --- |" * (len(strengths) + 1))
        for (k, method), rows in scores.items():
            if k != kind:
                continue
            rows = np.array(rows)
            cells = [f"{m:.3f} ± {s:.3f}" for m, s in zip(rows.mean(0), rows.std(0))]
            change = rows[:, -1] - rows[:, 0]
            print(f"| {method} | " + " | ".join(cells) + f" | {change.mean():+.3f} |")


if __name__ == "__main__":
    main()
