"""The whole-batch data path: tensors made once per fit, batches as index slices.

skorch's default data path indexes one sample at a time and collates. Here
the dict of modality arrays becomes tensors on the net's device once per
fit (:class:`TensorDictDataset`), and batches are index slices of those
tensors (:class:`TensorBatchIterator`); :class:`TensorValidSplit` holds out
a validation part gathered once. They plug into skorch's ``get_dataset``,
``iterator_train`` / ``iterator_valid`` and ``train_split``.
"""

import math
import warnings

import numpy as np
import torch
from scipy import sparse
from torch.utils.data import DataLoader, Dataset

from ._disk import DiskBlock, DiskRows
from ._sparse import SparseRows

__all__ = ["TensorBatchIterator", "TensorDictDataset", "TensorValidSplit"]


class TensorDictDataset(Dataset):
    """A dict of equally long tensors, indexable by a whole batch at once.

    Dense blocks become tensors; scipy sparse blocks (counts) stay sparse as
    :class:`~skmmae._sparse.SparseRows` and only each batch is made dense;
    blocks on disk stay there as :class:`~skmmae._disk.DiskRows` and only
    each batch is read. Either way a batch is a dict of dense tensors.

    Parameters
    ----------
    X : Mapping of str -> array-like, tensor, scipy sparse matrix or SparseRows
        One block per modality, one sample per row.
    device : str or torch.device, default="cpu"
        Where the tensors live; data is copied there once.
    """

    def __init__(self, X, device="cpu"):
        with warnings.catch_warnings():
            # Read-only arrays (pandas copy-on-write, memmaps) are shared, not
            # copied: nothing in skmmae writes into its input tensors.
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            self.X = {name: _on_device(values, device) for name, values in X.items()}
        self.n_samples = len(next(iter(self.X.values())))
        self.device = torch.device(device)
        #: Proven to hold no missing (NaN) cell, so that the model need not
        #: look for any (set by the estimator's input checks).
        self.complete = False

    def __len__(self):
        return self.n_samples

    def __getitem__(self, index):
        # SparseRows answers both forms with dense rows, like a tensor.
        if isinstance(index, slice):  # views, no copy (dense blocks)
            return {name: x[index] for name, x in self.X.items()}, None
        index = torch.as_tensor(index, dtype=torch.long, device=self.device)
        return {name: x.index_select(0, index.reshape(-1)) for name, x in self.X.items()}, None

    def all_finite(self, names):
        """Whether the float blocks ``names`` (those present) hold only finite values.

        One reduction per block where the data lives, and one copy of the
        answer to the host. A finite sum proves every value finite (NaN and
        infinity propagate); a sum that overflows answers False, so callers
        must treat False as "not proven".
        """
        if any(isinstance(self.X.get(name), DiskRows) for name in names):
            return False  # unread: its batches are checked as they are read
        sums = [
            self.X[name].sum(dtype=torch.float32)
            for name in names
            if torch.is_tensor(self.X.get(name)) and self.X[name].is_floating_point()
        ]
        return not sums or bool(torch.isfinite(torch.stack(sums)).all())

    def take(self, indices):
        """A new dataset holding only the rows ``indices`` (gathered once).

        Sparse blocks stay sparse: the validation split of a large
        bag-of-words is never densified.
        """
        index = torch.as_tensor(np.asarray(indices), dtype=torch.long, device=self.device)
        part = {
            name: x.take(index) if isinstance(x, (SparseRows, DiskRows)) else x.index_select(0, index)
            for name, x in self.X.items()
        }
        return TensorDictDataset(part, device=self.device)


def _on_device(values, device):
    """One block as a tensor, or as SparseRows when it is sparse, on ``device``."""
    if isinstance(values, (SparseRows, DiskRows)):
        return values.to(device)
    if isinstance(values, DiskBlock):  # read a batch at a time (skmmae._disk)
        return DiskRows(values, device)
    if sparse.issparse(values):
        return SparseRows.from_scipy(values, device=device)
    return torch.as_tensor(values, device=device)


class TensorBatchIterator:
    """Yield whole batches ``(X_batch, None)`` sliced from a dataset.

    skorch calls it as ``iterator(dataset, batch_size=..., shuffle=...)``.
    Shuffling draws one permutation per epoch from torch's current random
    state, which the estimator seeds from ``random_state``. The last partial
    batch is kept.

    Parameters
    ----------
    dataset : TensorDictDataset or torch Dataset
        Other datasets fall back to a ``torch.utils.data.DataLoader``.
    batch_size : int, default=128
        Rows per batch.
    shuffle : bool, default=False
        Whether to visit the rows in a new random order each epoch.
    """

    def __init__(self, dataset, batch_size=128, shuffle=False):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        dataset, size = self.dataset, self.batch_size
        if not isinstance(dataset, TensorDictDataset):
            yield from DataLoader(dataset, batch_size=size, shuffle=self.shuffle)
            return
        n = len(dataset)
        if self.shuffle:
            order = torch.randperm(n, device=dataset.device)
            for start in range(0, n, size):
                yield dataset[order[start : start + size]]
        else:
            for start in range(0, n, size):
                yield dataset[start : start + size]


class TensorValidSplit:
    """skorch ``train_split``: hold out a random fraction, gathered once.

    Parameters
    ----------
    fraction : float
        Share of the rows held out for validation, in (0, 1).
    seed : int
        Seed of the split.
    """

    def __init__(self, fraction, seed):
        self.fraction = fraction
        self.seed = seed

    def __call__(self, dataset, y=None):
        n = len(dataset)
        n_valid = int(round(self.fraction * n))
        if not 0 < n_valid < n:
            raise ValueError(
                f"validation_fraction={self.fraction} leaves no training or no "
                f"validation sample out of {n}; use more samples or another fraction."
            )
        order = np.random.RandomState(self.seed).permutation(n)
        return dataset.take(np.sort(order[n_valid:])), dataset.take(np.sort(order[:n_valid]))
