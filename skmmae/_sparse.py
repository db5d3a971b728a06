"""Sparse rows on the device: a CSR matrix as three tensors, batches come out dense.

A bag-of-words block can be far too large to densify, but one batch of it is
small. :class:`SparseRows` keeps the whole matrix in CSR form on the net's
device (moved once per fit, like the dense blocks) and gathers a batch of
rows into a dense float32 tensor with a handful of vectorized torch ops: no
Python loop over rows and no torch sparse API, so it runs the same on CPU
and CUDA.
"""

import warnings

import numpy as np
import torch

__all__ = ["SparseRows"]


class SparseRows:
    """The rows of a CSR matrix, indexable by whole batches into dense tensors.

    Indexing with a slice, a list, an ndarray or a LongTensor of row numbers
    returns those rows as a dense ``(n_rows, n_columns)`` float32 tensor;
    :meth:`take` returns them as a new, still sparse, :class:`SparseRows`.
    Build one from a scipy matrix with :meth:`from_scipy`.

    Parameters
    ----------
    indptr : torch.LongTensor of shape (n_rows + 1,)
        Row ``i`` holds the stored entries ``indptr[i]:indptr[i + 1]``.
    indices : torch integer tensor of shape (nnz,)
        Column of each stored entry (int32 or int64).
    values : torch.FloatTensor of shape (nnz,)
        Value of each stored entry; (row, column) pairs must be unique.
    n_columns : int
        Number of columns.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> from skmmae._sparse import SparseRows
    >>> matrix = sparse.csr_matrix(np.array([[0, 2, 0], [0, 0, 0], [1, 0, 3]]))
    >>> rows = SparseRows.from_scipy(matrix)
    >>> len(rows), rows.shape, rows.nnz
    (3, (3, 3), 3)
    >>> rows[[2, 0]]
    tensor([[1., 0., 3.],
            [0., 2., 0.]])
    >>> rows[1:]
    tensor([[0., 0., 0.],
            [1., 0., 3.]])
    >>> rows.take([2]).to_scipy().toarray()
    array([[1., 0., 3.]], dtype=float32)
    """

    def __init__(self, indptr, indices, values, n_columns):
        self.indptr = indptr
        self.indices = indices
        self.values = values
        self.n_columns = int(n_columns)
        # Per-row start (a view) and length: one gather each per batch, and
        # negative row numbers then count from the end as in numpy.
        self.row_starts = indptr[:-1]
        self.row_lengths = indptr[1:] - indptr[:-1]

    @classmethod
    def from_scipy(cls, matrix, device="cpu"):
        """Copy a scipy sparse matrix or array to ``device`` (CSR, float32).

        Duplicate entries are summed first (on a copy), so that every
        (row, column) pair is stored once.
        """
        csr = matrix.tocsr()
        if not csr.has_canonical_format:
            csr = csr.copy()
            csr.sum_duplicates()
        with warnings.catch_warnings():
            # Read-only arrays are shared, not copied; nothing writes into them.
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            return cls(
                torch.as_tensor(csr.indptr.astype(np.int64, copy=False), device=device),
                torch.as_tensor(csr.indices, device=device),
                torch.as_tensor(csr.data.astype(np.float32, copy=False), device=device),
                csr.shape[1],
            )

    def to_scipy(self):
        """The rows as a ``scipy.sparse.csr_matrix`` (float32) on the host."""
        from scipy import sparse

        arrays = (t.cpu().numpy() for t in (self.values, self.indices, self.indptr))
        return sparse.csr_matrix(tuple(arrays), shape=self.shape)

    def to(self, device):
        """The same rows on ``device`` (self when already there)."""
        device = torch.device(device)
        if self.device == device:
            return self
        tensors = (t.to(device) for t in (self.indptr, self.indices, self.values))
        return SparseRows(*tensors, self.n_columns)

    @property
    def device(self):
        return self.values.device

    @property
    def shape(self):
        return (len(self), self.n_columns)

    @property
    def nnz(self):
        """Number of stored entries."""
        return self.values.numel()

    def __len__(self):
        return self.indptr.numel() - 1

    def __getitem__(self, index):
        """Rows ``index`` (slice or row numbers) as a dense float32 tensor."""
        return self._dense(self._rows(index))

    def index_select(self, dim, index):
        """Like ``Tensor.index_select`` along rows (``dim=0``): a dense batch.

        Lets code written for dense blocks gather sparse ones unchanged.
        """
        if dim != 0:
            raise ValueError(f"SparseRows gathers rows only (dim=0); got dim={dim}.")
        return self._dense(self._rows(index))

    def take(self, index):
        """Rows ``index`` as a new :class:`SparseRows` (gathered, not densified)."""
        _, positions, lengths = self._entries(self._rows(index))
        indptr = torch.cat([lengths.new_zeros(1), torch.cumsum(lengths, 0)])
        return SparseRows(indptr, self.indices[positions], self.values[positions], self.n_columns)

    # -- vectorized CSR arithmetic -------------------------------------------

    def _rows(self, index):
        """Row numbers as a 1-D LongTensor on the device."""
        if isinstance(index, slice):
            return torch.arange(*index.indices(len(self)), device=self.device)
        return torch.as_tensor(index, dtype=torch.long, device=self.device).reshape(-1)

    def _entries(self, rows):
        """Each stored entry of ``rows``: its row in the batch and CSR position; row lengths.

        The entries of batch row ``r`` are the contiguous run
        ``indptr[rows[r]] : indptr[rows[r] + 1]``; laying all runs end to end,
        entry ``k`` belongs to run ``batch_rows[k]`` and sits
        ``k - (start of that run in the batch)`` past the run's CSR start.
        """
        starts = self.row_starts[rows]
        lengths = self.row_lengths[rows]
        batch_rows = torch.repeat_interleave(lengths)
        shift = starts - (torch.cumsum(lengths, 0) - lengths)
        positions = torch.arange(batch_rows.numel(), device=self.device) + shift[batch_rows]
        return batch_rows, positions, lengths

    def _dense(self, rows):
        batch_rows, positions, _ = self._entries(rows)
        out = torch.zeros((rows.numel(), self.n_columns), dtype=torch.float32, device=self.device)
        columns = self.indices[positions].long()
        # (row, column) pairs are unique (canonical CSR): a plain write suffices.
        return out.index_put_((batch_rows, columns), self.values[positions])
