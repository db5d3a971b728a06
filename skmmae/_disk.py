"""Modalities on disk: ``np.memmap``, h5py datasets and zarr arrays, read a batch at a time.

A block on disk is never read whole. :class:`DiskBlock` stands for it
through ``fit`` and ``transform``: the missing-row scan and the modality's
statistics read it in row chunks (:mod:`skmmae._summary`), and each batch
of training or inference reads only its rows, checks them and converts them
as the modality does for arrays in memory. :class:`DiskRows` is its
torch side in the net's dataset, as :class:`~skmmae._sparse.SparseRows` is
for sparse blocks.

Rows are read in increasing order, each once, as HDF5 needs, and put back
in the batch's order after. Pages of a memory map are handed back to the
system after each read, so the process's resident memory does not grow
with the file.
"""

import contextlib
import mmap

import numpy as np
import torch

from ._summary import ROWS_PER_CHUNK
from ._values import row_numbers

__all__ = ["DiskBlock", "DiskRows", "is_on_disk"]


def is_on_disk(value):
    """Whether ``value`` is an array on disk that skmmae reads by batches."""
    if isinstance(value, np.memmap):
        return True
    module = type(value).__module__.split(".")[0]
    return module in ("h5py", "zarr") and hasattr(value, "shape") and hasattr(value, "dtype")


class DiskBlock:
    """The rows of an array on disk, each read with the conversion they take.

    Parameters
    ----------
    source : np.memmap, h5py.Dataset or zarr.Array
        The array, one sample per row (first axis).
    rows : ndarray of int or None, default=None
        Which of ``source``'s rows this block holds, in order (repeats
        allowed); None holds them all.
    convert : callable or None, default=None
        Applied to every chunk of rows read, with errors naming rows of
        ``source`` (e.g. a modality's check and conversion); None returns
        the values as read.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skmmae._disk import DiskBlock
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npy")
    >>> np.save(path, np.arange(12.0).reshape(6, 2))
    >>> block = DiskBlock(np.load(path, mmap_mode="r"))
    >>> block.shape, block[[4, 1]]
    ((6, 2), array([[8., 9.],
           [2., 3.]]))
    >>> block.take([5, 5]).converted(lambda rows: rows * 10)[:]
    array([[100., 110.],
           [100., 110.]])
    """

    def __init__(self, source, rows=None, convert=None):
        self.source = source
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        self.convert = convert

    @property
    def shape(self):
        n_rows = self.source.shape[0] if self.rows is None else len(self.rows)
        return (n_rows, *self.source.shape[1:])

    @property
    def ndim(self):
        return len(self.source.shape)

    @property
    def dtype(self):
        return np.dtype(self.source.dtype)

    def __len__(self):
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        # numpy would read every row, one at a time: whatever asks for the
        # whole block must read it by chunks (``chunks``) instead.
        raise TypeError("A block on disk is read a batch at a time, never whole.")

    def take(self, rows):
        """The block of this block's ``rows`` (positions, or a boolean mask), unread."""
        rows = np.asarray(rows)
        rows = np.flatnonzero(rows) if rows.dtype == bool else rows.astype(np.int64)
        return DiskBlock(self.source, self._source_rows(rows), self.convert)

    def converted(self, convert):
        """This block with ``convert`` applied to the rows read (instead of its own)."""
        return DiskBlock(self.source, self.rows, convert)

    def read(self, positions):
        """The rows at ``positions`` (ints, in any order), read, then converted."""
        rows = self._source_rows(np.asarray(positions, dtype=np.int64).reshape(-1))
        values = _read_rows(self.source, rows)
        if self.convert is None:
            return values
        with row_numbers(rows):
            return self.convert(values)

    def chunks(self, rows_per_chunk=ROWS_PER_CHUNK):
        """The block's rows in order, converted, a chunk at a time."""
        for start in range(0, len(self), rows_per_chunk):
            yield self.read(np.arange(start, min(start + rows_per_chunk, len(self))))

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self.read(np.arange(*key.indices(len(self))))
        key = np.asarray(key)
        return self.read(np.flatnonzero(key) if key.dtype == bool else key)

    def _source_rows(self, positions):
        n = len(self)
        if positions.size and (positions.min() < -n or positions.max() >= n):
            raise IndexError(f"row index out of range for a block of {n} rows")
        positions = np.where(positions < 0, positions + n, positions)
        return positions if self.rows is None else self.rows[positions]


def _read_rows(source, rows):
    """``source``'s ``rows``, read in increasing order once each, returned in the order asked."""
    if not rows.size:  # an empty share of a batch (data-parallel training)
        return np.empty((0, *source.shape[1:]), dtype=source.dtype)
    if rows[-1] - rows[0] == rows.size - 1 and np.all(np.diff(rows) == 1):
        return _released(source, np.array(source[int(rows[0]) : int(rows[-1]) + 1]))
    unique, inverse = np.unique(rows, return_inverse=True)
    if hasattr(source, "oindex"):  # zarr: orthogonal selection of the rows
        values = np.asarray(source.oindex[unique])
    else:  # numpy memmaps and h5py take increasing row indices
        values = np.asarray(source[unique])
    return _released(source, values[inverse])


def _released(source, values):
    """``values`` (a copy), with the pages of ``source``'s memory map handed back."""
    mapping = getattr(source, "_mmap", None)
    if isinstance(mapping, mmap.mmap) and hasattr(mapping, "madvise"):
        with contextlib.suppress(OSError, ValueError):
            mapping.madvise(mmap.MADV_DONTNEED)
    return values


class DiskRows:
    """A :class:`DiskBlock` on a device: batches come out as tensors there.

    Indexing with a slice, a list, an ndarray or a LongTensor of positions
    reads those rows and returns them as a tensor on ``device``;
    :meth:`take` returns a new, unread, :class:`DiskRows`.

    Parameters
    ----------
    block : DiskBlock
        The rows, with the modality's conversion.
    device : str or torch.device, default="cpu"
        Where the batches go.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skmmae._disk import DiskBlock, DiskRows
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npy")
    >>> np.save(path, np.arange(6.0, dtype=np.float32).reshape(3, 2))
    >>> rows = DiskRows(DiskBlock(np.load(path, mmap_mode="r")))
    >>> rows[1:], len(rows.take([0]))
    (tensor([[2., 3.],
            [4., 5.]]), 1)
    """

    def __init__(self, block, device="cpu"):
        self.block = block
        self.device = torch.device(device)

    @property
    def shape(self):
        return self.block.shape

    def __len__(self):
        return len(self.block)

    def to(self, device):
        return DiskRows(self.block, device)

    def take(self, index):
        return DiskRows(self.block.take(_positions(index)), self.device)

    def index_select(self, dim, index):
        return self[index]

    def __getitem__(self, index):
        if isinstance(index, slice):
            values = self.block[index]
        else:
            values = self.block.read(_positions(index))
        return torch.from_numpy(np.ascontiguousarray(values)).to(self.device)


def _positions(index):
    if torch.is_tensor(index):
        index = index.cpu().numpy()
    return np.asarray(index, dtype=np.int64).reshape(-1)
