"""SparseRows: CSR rows on the device, gathered into dense batches."""

import numpy as np
import pytest
import torch
from scipy import sparse

from skmmae._sparse import SparseRows
from skmmae.modalities import Counts

NEEDS_CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
DEVICES = ["cpu", pytest.param("cuda", marks=NEEDS_CUDA)]


@pytest.fixture(scope="module")
def words():
    """A seeded bag of words: 48 documents, 60 words, int64 counts in CSR."""
    counts = np.random.RandomState(0).poisson(0.3, size=(48, 60))
    return sparse.csr_matrix(counts.astype(np.int64))


@pytest.fixture(scope="module")
def words_with_empty_rows(words):
    """The documents with empty ones at the start, middle and end (rows 0, 21, 22, last)."""
    empty = sparse.csr_matrix((1, words.shape[1]), dtype=words.dtype)
    return sparse.vstack([empty, words[:20], empty, empty, words[20:], empty]).tocsr()


@pytest.mark.parametrize("device", DEVICES)
def test_gather_matches_dense_reference(words_with_empty_rows, device):
    matrix = words_with_empty_rows
    rows = SparseRows.from_scipy(matrix, device=device)
    assert len(rows) == matrix.shape[0] and rows.shape == matrix.shape and rows.nnz == matrix.nnz
    rng = np.random.RandomState(0)
    index_sets = [
        rng.randint(0, matrix.shape[0], size=17),  # with repeats
        rng.permutation(matrix.shape[0]),
        np.array([0, 21, 22, matrix.shape[0] - 1]),  # only empty rows
        np.array([], dtype=np.int64),
        np.array([-1, 3]),  # negative rows count from the end, as in numpy
    ]
    for index in index_sets:
        batch = rows[torch.as_tensor(index, device=device)]
        assert batch.dtype == torch.float32 and batch.device.type == device
        np.testing.assert_array_equal(batch.cpu().numpy(), matrix[index].toarray())
        same = rows.index_select(0, torch.as_tensor(index, device=device))
        assert torch.equal(same, batch)
    for piece in [slice(0, 5), slice(18, 25), slice(40, None), slice(None, None, 3), slice(7, 7)]:
        np.testing.assert_array_equal(rows[piece].cpu().numpy(), matrix[piece].toarray())


@pytest.mark.parametrize("device", DEVICES)
def test_take_keeps_rows_sparse(words_with_empty_rows, device):
    rows = SparseRows.from_scipy(words_with_empty_rows, device=device)
    index = np.array([21, 5, 5, 0, 40])
    part = rows.take(torch.as_tensor(index, device=device))
    assert isinstance(part, SparseRows) and part.device.type == device
    expected = words_with_empty_rows[index]
    assert part.nnz == expected.nnz
    np.testing.assert_array_equal(part.to_scipy().toarray(), expected.toarray())
    np.testing.assert_array_equal(part[1:3].cpu().numpy(), expected[1:3].toarray())


def test_duplicate_entries_are_summed_without_touching_the_input():
    # A hand-built CSR may store (0, 2) twice; scipy reads that as their sum.
    csr = sparse.csr_matrix(([1.0, 2.0, 5.0], [2, 2, 0], [0, 2, 3]), shape=(2, 3))
    assert not csr.has_canonical_format
    expected = [[0, 0, 3], [5, 0, 0]]
    np.testing.assert_array_equal(SparseRows.from_scipy(csr)[:].numpy(), expected)
    checked = Counts().validate(csr)
    np.testing.assert_array_equal(SparseRows.from_scipy(checked)[:].numpy(), expected)
    assert csr.nnz == 3 and not csr.has_canonical_format


def test_sparse_array_input_is_accepted(words):
    rows = SparseRows.from_scipy(sparse.csr_array(words).tocoo())
    np.testing.assert_array_equal(rows[[3, 1]].numpy(), words[[3, 1]].toarray())
