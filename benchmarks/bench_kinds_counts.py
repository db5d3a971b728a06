"""Counts modality: Poisson vs negative binomial reconstructions, and the sparse data path.

Quality
-------
The 48-sentence, 3-topic corpus of ``tests/test_modalities_counts.py``
(imported from there, so the numbers are about the tested corpus). For each
seed: a stratified 2/3 - 1/3 split (32 train, 16 test documents), a
``CountVectorizer(stop_words="english")`` fitted on the training documents
(so every vocabulary word has a positive training rate), then
``MultimodalAutoencoder(modalities={"words": Counts(distribution=d)},
encoding_dim=8, hidden_dims=(32,), max_epochs=100, batch_size=16, lr=0.01)``
for d in {poisson, negative_binomial}. The reconstruction of a test document
is ``inverse_transform(transform(doc))``: expected counts. Scores on the test
documents, averaged over seeds:

* mean Poisson deviance per (document, word) entry
  (``sklearn.metrics.mean_poisson_deviance``), lower is better;
* full negative log-likelihood per document (summed over the vocabulary,
  ``log(y!)`` included) under the model's own distribution: Poisson for the
  Poisson model and the baseline, negative binomial with the learned
  per-word dispersion for the NB model.

The baseline predicts each word's mean training count for every document.

Speed
-----
One training epoch (batch 128, shuffled) of the sparse data path vs the same
counts densified (``toarray()``, same kind ``"counts"``): the data path alone
(``TensorBatchIterator`` over a ``TensorDictDataset``, no model) and one
training epoch of the fitted net (``net.partial_fit``: encoder 64 -> code 8
-> decoder 64, Poisson; skorch's per-fit setup included), on (i) the corpus
stacked to ``--n-rows`` rows and (ii) random Zipf-distributed counts with a
larger vocabulary. Sparse and dense alternate over ``--rounds`` rounds (the
order flipped each round); medians of wall and process CPU time.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_kinds_counts.py``.
"""

import argparse
import importlib.util
import pathlib
import time
import warnings

import numpy as np
import torch
from scipy import sparse, stats
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import mean_poisson_deviance
from sklearn.model_selection import train_test_split

from skmmae import MultimodalAutoencoder
from skmmae._data import TensorBatchIterator, TensorDictDataset
from skmmae.modalities import Counts

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIT = dict(encoding_dim=8, hidden_dims=(32,), max_epochs=100, batch_size=16, lr=0.01)


def load_corpus():
    """The documents and topics of the test corpus."""
    path = ROOT / "tests" / "test_modalities_counts.py"
    spec = importlib.util.spec_from_file_location("counts_corpus", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return np.array(module.DOCS), module.TOPICS


# -- quality ----------------------------------------------------------------------


def poisson_nll(counts, rate):
    return -stats.poisson.logpmf(counts, rate).sum(axis=1).mean()


def negative_binomial_nll(counts, rate, log_dispersion):
    theta = np.exp(-log_dispersion)
    return -stats.nbinom.logpmf(counts, theta, theta / (theta + rate)).sum(axis=1).mean()


def learned_log_dispersion(ae):
    decoder = ae.net_.module_.decoders["words"]
    # The loss clamps it to this range; score with what the loss saw.
    return decoder.log_dispersion.detach().clamp(-8.0, 8.0).cpu().numpy()


def score_split(docs, topics, seed):
    train, test = train_test_split(
        np.arange(len(docs)), test_size=1 / 3, stratify=topics, random_state=seed
    )
    vectorizer = CountVectorizer(stop_words="english").fit(docs[train])
    X_train, X_test = vectorizer.transform(docs[train]), vectorizer.transform(docs[test])
    y = X_test.toarray().astype(np.float64)  # 16 x ~90: small enough to score densely
    baseline = np.broadcast_to(np.asarray(X_train.mean(axis=0)), y.shape)
    rows = {"baseline (train mean rate)": (baseline, poisson_nll(y, baseline))}
    for distribution in ("poisson", "negative_binomial"):
        modality = Counts(distribution=distribution)
        ae = MultimodalAutoencoder(modalities={"words": modality}, **FIT, random_state=seed)
        ae.fit({"words": X_train})
        rate = ae.inverse_transform(ae.transform({"words": X_test}))["words"].astype(np.float64)
        if distribution == "poisson":
            nll = poisson_nll(y, rate)
        else:
            nll = negative_binomial_nll(y, rate, learned_log_dispersion(ae))
        rows[distribution] = (rate, nll)
    return {
        name: (mean_poisson_deviance(y.ravel(), rate.ravel()), nll)
        for name, (rate, nll) in rows.items()
    }


def report_quality(seeds):
    docs, topics = load_corpus()
    results = [score_split(docs, topics, seed) for seed in seeds]
    print(f"Quality: test documents, {len(seeds)} seeds (mean +- std over seeds)")
    print(f"{'model':28s} {'Poisson deviance/entry':>24s} {'NLL/document (own dist.)':>26s}")
    for name in results[0]:
        deviance = np.array([r[name][0] for r in results])
        nll = np.array([r[name][1] for r in results])
        print(
            f"{name:28s} {deviance.mean():>14.4f} +- {deviance.std():.4f}"
            f" {nll.mean():>16.2f} +- {nll.std():.2f}"
        )


# -- speed ------------------------------------------------------------------------


def corpus_counts(n_rows):
    docs, _ = load_corpus()
    words = CountVectorizer(stop_words="english").fit_transform(docs)
    return sparse.vstack([words] * int(np.ceil(n_rows / words.shape[0]))).tocsr()[:n_rows]


def random_counts(n_rows, n_words, words_per_doc, seed=0):
    rng = np.random.RandomState(seed)
    # Zipf-like word frequencies, as in text.
    p = 1.0 / np.arange(1, n_words + 1)
    cols = rng.choice(n_words, size=(n_rows, words_per_doc), p=p / p.sum())
    rows = np.repeat(np.arange(n_rows), words_per_doc)
    data = np.ones(rows.size, dtype=np.float32)
    return sparse.csr_matrix((data, (rows, cols.ravel())), shape=(n_rows, n_words))


def timed(run):
    """Wall and process CPU seconds of ``run()``.

    With one torch thread, CPU time is robust to other processes taking the
    core; wall time is not (the machine is shared).
    """
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def data_pass(dataset, batch_size=128):
    for batch, _ in TensorBatchIterator(dataset, batch_size=batch_size, shuffle=True):
        batch["words"].sum()  # touch every batch


def speed_case(X, rounds):
    """Median (wall, cpu) per path and form, sparse and dense interleaved."""
    forms = {"sparse": X, "dense": X.toarray().astype(np.float32)}
    datasets = {form: TensorDictDataset({"words": v}) for form, v in forms.items()}
    nets = {}
    for form, values in forms.items():
        ae = MultimodalAutoencoder(
            modalities={"words": "counts"},
            encoding_dim=8,
            hidden_dims=(64,),
            max_epochs=1,
            batch_size=128,
            random_state=0,
        ).fit({"words": values})  # also the warm-up
        nets[form] = ae.net_, {"words": ae.modalities_["words"].validate(values)}
    times = {}
    for r in range(rounds):
        for form in (list(forms) if r % 2 == 0 else list(forms)[::-1]):
            net, data = nets[form]
            times.setdefault(("data only", form), []).append(
                timed(lambda: data_pass(datasets[form]))
            )
            # One epoch of skorch training, per-fit setup included (the CSR
            # goes to tensors once per fit).
            times.setdefault(("fit epoch", form), []).append(timed(lambda: net.partial_fit(data)))
    return {key: np.median(np.array(values), axis=0) for key, values in times.items()}


def report_speed(n_rows, rounds):
    cases = {
        f"corpus stacked ({n_rows} docs, 109 words)": corpus_counts(n_rows),
        f"Zipf counts ({n_rows} docs, 2000 words, 30 tokens/doc)": random_counts(
            n_rows, 2000, 30
        ),
    }
    print(f"\nSpeed: one epoch, batch 128, shuffled; median of {rounds} interleaved rounds")
    print(
        f"{'data':52s} {'nnz/row':>7s} {'path':>10s} {'sparse wall/cpu':>16s}"
        f" {'dense wall/cpu':>16s} {'cpu ratio':>9s}"
    )
    for name, X in cases.items():
        medians = speed_case(X, rounds)
        for path in ("data only", "fit epoch"):
            (ws, cs), (wd, cd) = medians[path, "sparse"], medians[path, "dense"]
            print(
                f"{name:52s} {X.nnz / X.shape[0]:>7.1f} {path:>10s} {ws:>7.4f} / {cs:<7.4f}"
                f" {wd:>7.4f} / {cd:<7.4f} {cs / cd:>8.2f}x"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-rows", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), device cpu; "
        f"MultimodalAutoencoder {FIT}"
    )
    start = time.perf_counter()
    report_quality(range(args.seeds))
    report_speed(args.n_rows, args.rounds)
    print(f"\ntotal wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
