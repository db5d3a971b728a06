"""Reconstruction of two data kinds at once: digit images and the digit's word.

Data: :func:`skmmae.datasets.load_digits_words` (1,797 sklearn digits, 8x8
images in [0, 1] and the word "zero" ... "nine" as character tokens),
stratified 70/30 split with ``random_state=0``.

Model: ``MultimodalAutoencoder(modalities={"image": "image", "text": "tokens"},
encoding_dim=10, max_epochs=<--epochs>, random_state=0)``, all else at its
defaults. Where the ``"image"`` kind is not registered, the images are
flattened to 64 features and fitted as ``"continuous"``.

Measured on the test part, from ``inverse_transform(transform(X))``:

* token accuracy: the share of correct ids over each true word's positions
  up to and including its end pad (the positions the loss counts);
* word accuracy: the share of words reconstructed exactly;
* image BCE and MSE of the reconstructed pixels (in [0, 1]) against the true
  ones, with the MSE of always predicting the training mean image beside it.

Usage::

    python benchmarks/bench_kinds_digits.py              # 100 epochs
    python benchmarks/bench_kinds_digits.py --epochs 20 --threads 1
"""

import argparse
import json
import platform
import time

import numpy as np
import sklearn
import torch
from sklearn.model_selection import train_test_split

import skmmae
from skmmae.datasets import decode_words, load_digits_words
from skmmae.modalities import KINDS


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=100, help="max_epochs (default 100)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--device", default=None, help="the estimator's device (default: its own)")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    return parser.parse_args()


def load_split():
    bunch = load_digits_words()
    X, y = bunch.data, bunch.target
    image_kind = "image" if "image" in KINDS else "continuous"
    if image_kind == "continuous":
        X = type(X)(image=X["image"].reshape(len(y), -1), text=X["text"])
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    return X_train, X_test, y_train, y_test, image_kind


def token_accuracy(true, predicted, pad_id=0):
    """Share of correct ids over the true positions up to and including the end pad."""
    lengths = (np.cumsum(true == pad_id, axis=1) == 0).sum(axis=1)
    counted = np.arange(true.shape[1])[None] <= lengths[:, None]
    return float((true == predicted)[counted].mean())


def image_errors(true, reconstructed, train_mean):
    true = true.reshape(len(true), -1).astype(np.float64)
    rec = reconstructed.reshape(len(true), -1).astype(np.float64)
    p = np.clip(rec, 1e-7, 1 - 1e-7)
    return {
        "image_bce": float(-np.mean(true * np.log(p) + (1 - true) * np.log(1 - p))),
        "image_mse": float(np.mean((true - rec) ** 2)),
        "image_mse_mean_image": float(np.mean((true - train_mean.reshape(1, -1)) ** 2)),
    }


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    X_train, X_test, _, _, image_kind = load_split()
    params = {"device": args.device} if args.device else {}
    model = skmmae.MultimodalAutoencoder(
        modalities={"image": image_kind, "text": "tokens"},
        encoding_dim=10,
        max_epochs=args.epochs,
        random_state=0,
        **params,
    )
    start = time.perf_counter()
    model.fit(X_train)
    fit_seconds = time.perf_counter() - start
    rec = model.inverse_transform(model.transform(X_test))
    true_words, words = decode_words(X_test["text"]), decode_words(rec["text"])
    results = {
        "image_kind": image_kind,
        "epochs": args.epochs,
        "n_train": len(X_train),
        "n_test": len(X_test),
        "token_accuracy": token_accuracy(X_test["text"], rec["text"]),
        "word_accuracy": float(np.mean(words == true_words)),
        **image_errors(X_test["image"], rec["image"], X_train["image"].mean(axis=0)),
        "fit_seconds": round(fit_seconds, 1),
        "versions": {
            "skmmae": getattr(skmmae, "__version__", "?"),
            "torch": torch.__version__,
            "scikit-learn": sklearn.__version__,
            "python": platform.python_version(),
        },
        "threads": torch.get_num_threads(),
    }
    wrong = sorted({(t, w) for t, w in zip(true_words, words) if t != w})
    for key, value in results.items():
        print(f"{key:22s} {value:.4g}" if isinstance(value, float) else f"{key:22s} {value}")
    print("wrong words (true, reconstructed):", wrong[:10])
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=2)


if __name__ == "__main__":
    main()
