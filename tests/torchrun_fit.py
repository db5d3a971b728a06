"""A data-parallel fit, as a user's script run by ``torchrun`` (see test_distributed.py).

``torchrun --standalone --nproc_per_node N tests/torchrun_fit.py OUT [DEVICE]`` fits
:func:`estimator` with each of :data:`CASES` on :func:`training_data` in N
processes. Each process writes what it printed to ``OUT/rank<r>.log`` and
its histories to ``OUT/rank<r>_<case>.json``; rank 0 also pickles the
fitted estimators to ``OUT/<case>.pkl``. The test fits the same estimators
in one process and compares. DEVICE is ``cpu`` (the gloo backend) unless
given, e.g. ``cuda`` (NCCL, one GPU per process).
"""

import contextlib
import json
import pickle
import sys
from pathlib import Path

import numpy as np

from skmmae import MultimodalAutoencoder
from skmmae.datasets import load_mfeat
from skmmae.options import HiddenLayers

#: 301 rows in batches of 50: the last global batch has one row, so one
#: process's share of it is empty.
N_ROWS, BATCH_SIZE = 301, 50

#: Name -> parameters. The concat fusion has parameters that some batches
#: do not reach (the placeholders of missing modalities).
CASES = {"mean": {}, "concat": {"fusion": "concat"}}


def training_data():
    """Two mfeat views; "kar" is missing (all NaN) in every fifth sample."""
    X = load_mfeat().data
    data = {"fou": np.array(X["fou"][:N_ROWS]), "kar": np.array(X["kar"][:N_ROWS])}
    data["kar"][::5] = np.nan
    return data


def estimator(**params):
    """A model with no random layer (no dropout, no noise), so that runs compare exactly."""
    settings = dict(
        device="cpu",
        encoding_dim=4, hidden_dims=HiddenLayers((32,), dropout=0.0), modality_dropout=0.0,
        noise_std=0.0, max_epochs=4, batch_size=BATCH_SIZE, verbose=1, random_state=0,
    )
    return MultimodalAutoencoder(**{**settings, **params})


def history_of(ae):
    """Per epoch: the loss, each modality's loss and the batch sizes."""
    return [
        {
            "train_loss": row["train_loss"],
            "train_losses": row["train_losses"],
            "batch_sizes": [batch["train_batch_size"] for batch in row["batches"]],
        }
        for row in ae.net_.history
    ]


def main(out, device="cpu"):
    import torch.distributed as dist

    out = Path(out)
    with open(out / f"rank{_rank()}.log", "w") as log, contextlib.redirect_stdout(log):
        fitted = {case: estimator(data_parallel=True, device=device, **params).fit(training_data())
                  for case, params in CASES.items()}
    rank = dist.get_rank()
    for case, ae in fitted.items():
        (out / f"rank{rank}_{case}.json").write_text(json.dumps(history_of(ae)))
        if rank == 0:
            (out / f"{case}.pkl").write_bytes(pickle.dumps(ae))
    dist.destroy_process_group()


def _rank():
    import os

    return int(os.environ["RANK"])


if __name__ == "__main__":
    main(*sys.argv[1:])
