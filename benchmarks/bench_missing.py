"""Missing modalities, fusions and cross-modal prediction on mfeat.

Data: :func:`skmmae.datasets.load_mfeat` (2000 handwritten digits, 6 views,
649 features), stratified 70/30 split (``train_test_split(..., test_size=0.3,
stratify=y, random_state=0)``). Every error is a mean squared error in units
standardized per feature with the mean and standard deviation of the
(complete) training part; a constant feature keeps scale 1. Accuracies are of
``LogisticRegression(max_iter=2000)`` fitted on the codes of the training part
(as the model saw it: with its missing rows in part (b)) and scored on codes
of the test part. Every fit is ``MultimodalAutoencoder(encoding_dim=--dims,
max_epochs=--epochs, random_state=seed, device=--device)`` with the options
named below and all others at their defaults (``hidden_dims=(256, 128)``,
Adam, lr 1e-3, batch 128).

Columns
-------
acc              test accuracy on codes of the complete test samples.
acc no pix       test accuracy on codes of the test samples with ``pix`` left
                 out (the key absent), the classifier being the one above.
recon            reconstruction MSE over all 649 features of the test part,
                 ``inverse_transform(transform(X_test))``.
pix from others  MSE of the 240 ``pix`` features predicted from the other
                 five views: ``predict_modality(X_test without pix, "pix")``.
absent~NaN       max abs difference between the codes of the test part with
                 ``pix`` absent and with ``pix`` rows all NaN (should be 0).

Baselines for pix from others: the training mean of each feature (about 1.0);
``RidgeCV`` (alphas 10^-2..10^4) from the standardized concatenated other
views to standardized pix (supervised: it sees pix while training); PCA at
the code size on the concatenated standardized training views (649
features), the test code solved by least squares from the other views'
columns of the loadings, pix reconstructed from it (its accuracies use the
same least-squares codes for "no pix", with the classifier fitted on the
ordinary PCA codes of the training part).

Parts
-----
(a) complete training data; each fusion in ``--fusions`` with each
    ``modality_dropout`` in ``--dropouts`` (default 0 and 0.3).
(b) missing training data: 30% of the training samples (``--missing``) lose
    pix and, drawn independently, 30% lose fou (rows set to NaN;
    ``np.random.RandomState(0)``); each fusion with ``modality_dropout=0.3``
    (``--missing-dropout``), compared with the same fusion and dropout trained
    on complete data (from part (a) when it was run there). Target: accuracy
    within 2 points of the complete-data fit, on complete test samples and
    on test samples without pix.
(c) variational product of experts (``variational=True, fusion="poe"``) for
    each beta in ``--betas``, ``modality_dropout=--vae-dropout`` (0.3):
    accuracy, recon, pix from others, and the mean posterior standard deviation
    (``transform(..., return_std=True)``, mean over samples and code
    dimensions) of the complete test samples and of the test samples
    without pix.

With several ``--seeds`` (model seeds; the split and the missing rows stay
fixed) every cell is the mean over seeds +- their standard deviation.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_missing.py                    # everything
    OMP_NUM_THREADS=1 python benchmarks/bench_missing.py --epochs 5 --fusions mean poe --betas 0.1
    OMP_NUM_THREADS=1 python benchmarks/bench_missing.py --parts b --dims 10 32 --seeds 0 1 2

On a CPU shared with other work, set ``OMP_NUM_THREADS=1`` (oversubscribed
torch threads make fits much slower on a 2-core VM).
"""

import argparse
import json
import os
import platform
import shlex
import sys
import time

import numpy as np
import sklearn
import skorch
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import train_test_split

import skmmae
from skmmae import MultimodalAutoencoder
from skmmae.options import Variational
from skmmae.datasets import load_mfeat

FUSIONS = ("mean", "concat", "poe", "moe")
TARGET = "pix"  # the modality predicted from the others and left out of test samples
ALSO_MISSING = "fou"  # the second modality missing in part (b)


# -- data and metrics ---------------------------------------------------------------


def load(seed=0):
    """Training and test dicts of float64 blocks, labels, and per-feature training stats."""
    X, y = load_mfeat(return_X_y=True)
    X = {name: np.asarray(block, dtype=np.float64) for name, block in dict(X).items()}
    y = np.asarray(y)
    train, test = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=seed)
    X_train = {m: b[train] for m, b in X.items()}
    X_test = {m: b[test] for m, b in X.items()}
    stats = {}
    for m, block in X_train.items():
        std = block.std(axis=0)
        stats[m] = (block.mean(axis=0), np.where(std > 0, std, 1.0))
    return X_train, y[train], X_test, y[test], stats


def standardize(X, stats, names):
    return np.concatenate([(X[m] - stats[m][0]) / stats[m][1] for m in names], axis=1)


def mse(truth, prediction):
    return float(np.mean((np.asarray(truth, np.float64) - np.asarray(prediction, np.float64)) ** 2))


def without(X, name):
    return {m: b for m, b in X.items() if m != name}


def with_nan_rows(X, name, rows=None):
    """A copy of X whose ``name`` rows (all when ``rows`` is None) are all NaN."""
    out = dict(X)
    block = X[name].copy()
    block[slice(None) if rows is None else rows] = np.nan
    out[name] = block
    return out


def missing_rows(n, fraction, seed=0):
    """Row masks of the training samples that lose TARGET and ALSO_MISSING (independent draws)."""
    rng = np.random.RandomState(seed)
    k = int(round(fraction * n))
    masks = {}
    for name in (TARGET, ALSO_MISSING):
        mask = np.zeros(n, dtype=bool)
        mask[rng.choice(n, k, replace=False)] = True
        masks[name] = mask
    return masks


# -- evaluation ---------------------------------------------------------------------


class Context:
    """The fixed data of a run, computed once."""

    def __init__(self, args):
        self.args = args
        self.X_train, self.y_train, self.X_test, self.y_test, self.stats = load()
        self.names = list(self.X_train)
        self.others = [m for m in self.names if m != TARGET]
        self.test_std = standardize(self.X_test, self.stats, self.names)
        self.pix_std = standardize(self.X_test, self.stats, [TARGET])
        self.X_test_nopix = without(self.X_test, TARGET)
        self.X_test_nanpix = with_nan_rows(self.X_test, TARGET)
        masks = missing_rows(len(self.y_train), args.missing, seed=0)
        X_missing = dict(self.X_train)
        for name, mask in masks.items():
            X_missing = with_nan_rows(X_missing, name, mask)
        self.X_train_missing, self.missing_masks = X_missing, masks


def evaluate(ae, ctx, X_fit, seconds):
    """The row of metrics of a fitted autoencoder (``X_fit``: the data it was fitted on)."""
    codes_train = ae.transform(X_fit)
    classifier = LogisticRegression(max_iter=2000).fit(codes_train, ctx.y_train)
    codes = ae.transform(ctx.X_test)
    codes_nopix = ae.transform(ctx.X_test_nopix)
    codes_nanpix = ae.transform(ctx.X_test_nanpix)
    reconstruction = ae.inverse_transform(codes)
    predicted_pix = ae.predict_modality(ctx.X_test_nopix, TARGET)
    row = {
        "acc": classifier.score(codes, ctx.y_test),
        "acc_nopix": classifier.score(codes_nopix, ctx.y_test),
        "recon": mse(ctx.test_std, standardize(reconstruction, ctx.stats, ctx.names)),
        "pix_from_others": mse(ctx.pix_std, standardize({TARGET: predicted_pix}, ctx.stats, [TARGET])),
        "absent_vs_nan": float(np.max(np.abs(codes_nopix.astype(np.float64) - codes_nanpix))),
        "fit_s": seconds,
    }
    if ae.variational:
        _, std = ae.transform(ctx.X_test, return_std=True)
        _, std_nopix = ae.transform(ctx.X_test_nopix, return_std=True)
        row["std"] = float(np.mean(std))
        row["std_nopix"] = float(np.mean(std_nopix))
    return row


def fit_and_evaluate(ctx, X_fit, label, **params):
    """Fit one autoencoder per seed; the list of their rows."""
    args = ctx.args
    rows = []
    for seed in args.seeds:
        ae = MultimodalAutoencoder(
            max_epochs=args.epochs, device=args.device, random_state=seed, **params
        )
        start = time.perf_counter()
        ae.fit(X_fit)
        seconds = time.perf_counter() - start
        row = evaluate(ae, ctx, X_fit, seconds)
        rows.append(row)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in row.items())
        print(f"  [{time.perf_counter() - ctx.start:6.0f} s] {label} seed {seed}: {shown}", flush=True)
    return rows


def baselines(ctx, dim):
    """Training mean, RidgeCV and PCA rows (pix from others, and PCA's acc / recon)."""
    names, others = ctx.names, ctx.others
    train_others = standardize(ctx.X_train, ctx.stats, others)
    test_others = standardize(ctx.X_test, ctx.stats, others)
    train_pix = standardize(ctx.X_train, ctx.stats, [TARGET])
    rows = {"mean": {"pix_from_others": mse(ctx.pix_std, 0.0)}}
    ridge = RidgeCV(alphas=np.logspace(-2, 4, 13)).fit(train_others, train_pix)
    rows["ridge"] = {"pix_from_others": mse(ctx.pix_std, ridge.predict(test_others)), "alpha": float(ridge.alpha_)}

    train = standardize(ctx.X_train, ctx.stats, names)
    pca = PCA(n_components=dim, random_state=0).fit(train)
    codes_train = pca.transform(train)
    classifier = LogisticRegression(max_iter=2000).fit(codes_train, ctx.y_train)
    codes = pca.transform(ctx.test_std)
    # Columns of each view in the concatenated order.
    bounds = np.cumsum([0] + [ctx.X_train[m].shape[1] for m in names])
    cols = {m: np.arange(bounds[i], bounds[i + 1]) for i, m in enumerate(names)}
    other_cols = np.concatenate([cols[m] for m in others])
    loadings = pca.components_  # (dim, 649)
    centred = ctx.test_std[:, other_cols] - pca.mean_[other_cols]
    # Least squares: centred ~ codes_nopix @ loadings[:, other_cols].
    codes_nopix = np.linalg.lstsq(loadings[:, other_cols].T, centred.T, rcond=None)[0].T
    pix_hat = codes_nopix @ loadings[:, cols[TARGET]] + pca.mean_[cols[TARGET]]
    rows["pca"] = {
        "acc": classifier.score(codes, ctx.y_test),
        "acc_nopix": classifier.score(codes_nopix, ctx.y_test),
        "recon": mse(ctx.test_std, pca.inverse_transform(codes)),
        "pix_from_others": mse(ctx.pix_std, pix_hat),
    }
    return rows


# -- tables -------------------------------------------------------------------------


def cell(rows, key, digits=3):
    """Mean over seeds, +- their standard deviation when there are several."""
    values = [row[key] for row in rows if key in row]
    if not values:
        return ""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def mean_of(rows, key):
    return float(np.mean([row[key] for row in rows]))


def table(header, lines):
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(str(c) for c in line) + " |" for line in lines]
    return "\n".join(out)


def machine_facts(args):
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "skorch": skorch.__version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "skmmae": getattr(skmmae, "__version__", "?"),
        "device": args.device,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


# -- main ---------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dims", type=int, nargs="+", default=[10], help="code sizes (default 10)")
    parser.add_argument("--epochs", type=int, default=100, help="max_epochs of every fit (default 100)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="model seeds (default 0)")
    parser.add_argument("--fusions", nargs="+", default=list(FUSIONS), choices=FUSIONS)
    parser.add_argument("--dropouts", type=float, nargs="+", default=[0.0, 0.3],
                        help="modality_dropout values of part (a) (default 0 0.3)")
    parser.add_argument("--missing", type=float, default=0.3,
                        help="share of training samples missing pix, and fou, in part (b)")
    parser.add_argument("--missing-dropout", type=float, default=0.3,
                        help="modality_dropout of part (b) (default 0.3)")
    parser.add_argument("--betas", type=float, nargs="+", default=[1e-3, 1e-2, 0.1, 1.0],
                        help="betas of the variational poe of part (c)")
    parser.add_argument("--vae-dropout", type=float, default=0.3,
                        help="modality_dropout of part (c) (default 0.3)")
    parser.add_argument("--parts", nargs="+", default=["a", "b", "c"], choices=["a", "b", "c"])
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--json", help="also write all rows to this JSON file")
    args = parser.parse_args(argv)

    ctx = Context(args)
    ctx.start = start = time.perf_counter()
    facts = machine_facts(args)
    command = "python benchmarks/bench_missing.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    print(f"command: {command.strip()}")
    print("machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()))
    n_pix, n_fou = (int(ctx.missing_masks[m].sum()) for m in (TARGET, ALSO_MISSING))
    both = int((ctx.missing_masks[TARGET] & ctx.missing_masks[ALSO_MISSING]).sum())
    print(f"mfeat: {len(ctx.y_train)} training, {len(ctx.y_test)} test samples; part (b) training "
          f"data misses {TARGET} in {n_pix}, {ALSO_MISSING} in {n_fou} ({both} both) samples", flush=True)
    # A small warm-up fit takes in torch's one-off costs before the timed fits.
    MultimodalAutoencoder(4, max_epochs=1, device=args.device, random_state=0).fit(
        {m: b[:200] for m, b in ctx.X_train.items()}
    )

    results = {"facts": facts, "command": command, "args": vars(args), "dims": {}}
    tables = []
    for dim in args.dims:
        base = baselines(ctx, dim)
        res = results["dims"][dim] = {"baselines": base, "a": {}, "b": {}, "c": {}}
        print(f"\nencoding_dim {dim}: baselines " + json.dumps(base), flush=True)

        complete = {}  # (fusion, dropout) -> rows
        if "a" in args.parts:
            for fusion in args.fusions:
                for dropout in args.dropouts:
                    complete[fusion, dropout] = fit_and_evaluate(
                        ctx, ctx.X_train, f"(a) {fusion} dropout {dropout}",
                        encoding_dim=dim, fusion=fusion, modality_dropout=dropout,
                    )
                    res["a"][f"{fusion} {dropout}"] = complete[fusion, dropout]
            lines = []
            for (fusion, dropout), rows in complete.items():
                lines.append([fusion, f"{dropout:g}", cell(rows, "acc"), cell(rows, "acc_nopix"),
                              cell(rows, "recon"), cell(rows, "pix_from_others"),
                              f"{max(r['absent_vs_nan'] for r in rows):.1e}",
                              f"{mean_of(rows, 'fit_s'):.0f}"])
            pca = base["pca"]
            lines.append(["PCA (concatenated views)", "", f"{pca['acc']:.3f}", f"{pca['acc_nopix']:.3f}",
                          f"{pca['recon']:.3f}", f"{pca['pix_from_others']:.3f}", "", ""])
            lines.append([f"RidgeCV others -> pix (supervised, alpha {base['ridge']['alpha']:.3g})", "", "", "",
                          "", f"{base['ridge']['pix_from_others']:.3f}", "", ""])
            lines.append(["training mean", "", "", "", "", f"{base['mean']['pix_from_others']:.3f}", "", ""])
            tables.append(
                f"(a) complete training data, encoding_dim {dim}, {args.epochs} epochs\n\n"
                + table(["fusion", "modality_dropout", "acc", "acc no pix", "recon", "pix from others",
                         "absent~NaN", "fit s"], lines)
            )

        if "b" in args.parts:
            lines = []
            for fusion in args.fusions:
                reference = complete.get((fusion, args.missing_dropout))
                if reference is None:
                    reference = fit_and_evaluate(
                        ctx, ctx.X_train, f"(b) reference {fusion} complete dropout {args.missing_dropout}",
                        encoding_dim=dim, fusion=fusion, modality_dropout=args.missing_dropout,
                    )
                rows = fit_and_evaluate(
                    ctx, ctx.X_train_missing, f"(b) {fusion} missing dropout {args.missing_dropout}",
                    encoding_dim=dim, fusion=fusion, modality_dropout=args.missing_dropout,
                )
                res["b"][fusion] = {"missing": rows, "complete": reference}
                delta = mean_of(rows, "acc") - mean_of(reference, "acc")
                delta_nopix = mean_of(rows, "acc_nopix") - mean_of(reference, "acc_nopix")
                met = "yes" if min(delta, delta_nopix) >= -0.02 else "NO"
                lines.append([fusion, cell(reference, "acc"), cell(rows, "acc"), f"{100 * delta:+.1f}",
                              cell(reference, "acc_nopix"), cell(rows, "acc_nopix"), f"{100 * delta_nopix:+.1f}",
                              met, cell(reference, "pix_from_others"), cell(rows, "pix_from_others"),
                              f"{max(r['absent_vs_nan'] for r in rows):.1e}"])
            tables.append(
                f"(b) training data missing {TARGET} ({100 * args.missing:g}%) and {ALSO_MISSING} "
                f"({100 * args.missing:g}%), modality_dropout {args.missing_dropout:g}, encoding_dim {dim}, "
                f"{args.epochs} epochs; accuracies of the fit on complete data vs on missing data\n\n"
                + table(["fusion", "acc (complete fit)", "acc (missing fit)", "Δ points",
                         "acc no pix (complete fit)", "acc no pix (missing fit)", "Δ points",
                         "within 2 points", "pix from others (complete fit)", "pix from others (missing fit)",
                         "absent~NaN (missing fit)"], lines)
            )

        if "c" in args.parts:
            lines = []
            for beta in args.betas:
                rows = fit_and_evaluate(
                    ctx, ctx.X_train, f"(c) variational poe beta {beta}",
                    encoding_dim=dim, fusion="poe", variational=Variational(beta=beta),
                    modality_dropout=args.vae_dropout,
                )
                res["c"][str(beta)] = rows
                grows = all(r["std_nopix"] > r["std"] for r in rows)
                lines.append([f"{beta:g}", cell(rows, "acc"), cell(rows, "acc_nopix"), cell(rows, "recon"),
                              cell(rows, "pix_from_others"), cell(rows, "std", 4), cell(rows, "std_nopix", 4),
                              "yes" if grows else "NO", f"{max(r['absent_vs_nan'] for r in rows):.1e}",
                              f"{mean_of(rows, 'fit_s'):.0f}"])
            tables.append(
                f"(c) variational product of experts, modality_dropout {args.vae_dropout:g}, "
                f"encoding_dim {dim}, {args.epochs} epochs\n\n"
                + table(["beta", "acc", "acc no pix", "recon", "pix from others", "posterior std",
                         "posterior std no pix", "std grows", "absent~NaN", "fit s"], lines)
            )

    total = time.perf_counter() - start
    results["total_s"] = total
    print("\n" + "\n\n".join(tables))
    print(f"\nacc: test accuracy of LogisticRegression on codes; 'no pix': test samples without pix; "
          f"recon, pix from others: MSE in training-standardized units; absent~NaN: max |code difference| "
          f"between pix absent and pix all-NaN.")
    print(f"total time {total:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=str)
    return results


if __name__ == "__main__":
    main()
