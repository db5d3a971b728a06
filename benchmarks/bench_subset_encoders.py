"""What the subset encoders cost per training epoch, against shared encoders.

mfeat (2,000 samples, six views), the estimator's defaults at code size 10,
with ``ModalityDropout(encoders="own")`` (the default where available) and
``encoders="shared"``. Time per epoch: a 6-epoch fit minus a 1-epoch fit,
divided by 5, so that the per-fit setup and the post-fit read-outs cancel
out. The two settings alternate within each round (their order swapped
every round), after one warm-up fit; medians over ``--repeats`` rounds.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_subset_encoders.py --repeats 5

Run it alone: anything beside it distorts the timings.
"""

import argparse
import time

import numpy as np

from skmmae import MultimodalAutoencoder
from skmmae.datasets import load_mfeat
from skmmae.options import ModalityDropout


def fit_seconds(X, encoders, epochs):
    ae = MultimodalAutoencoder(
        10, modality_dropout=ModalityDropout(encoders=encoders), max_epochs=epochs, random_state=0
    )
    start = time.perf_counter()
    ae.fit(X)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    X = load_mfeat(return_X_y=True)[0]
    MultimodalAutoencoder(10, max_epochs=2, random_state=0).fit(X)  # warm-up
    per_epoch = {"own": [], "shared": []}
    for round_ in range(args.repeats):
        order = ("own", "shared") if round_ % 2 == 0 else ("shared", "own")
        for encoders in order:
            one, six = (fit_seconds(X, encoders, epochs) for epochs in (1, 6))
            per_epoch[encoders].append((six - one) / 5)
    for encoders, seconds in per_epoch.items():
        print(f"encoders={encoders!r}: {np.median(seconds):.3f} s per epoch "
              f"(rounds: {', '.join(f'{s:.3f}' for s in seconds)})")
    ratio = np.median(per_epoch["own"]) / np.median(per_epoch["shared"])
    print(f"own / shared: {ratio:.2f}x")


if __name__ == "__main__":
    main()
