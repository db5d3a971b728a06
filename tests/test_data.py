"""The whole-batch data path: dataset, batch iterator, validation split."""

import numpy as np
import pytest
import torch

from skmmae._data import TensorBatchIterator, TensorDictDataset, TensorValidSplit


def make_dataset(n=10):
    a = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    return TensorDictDataset({"a": a, "b": -a[:, :1]}), a


def test_dataset_indexes_whole_batches():
    dataset, a = make_dataset()
    assert len(dataset) == 10
    X, y = dataset[2:5]
    assert y is None
    np.testing.assert_array_equal(X["a"].numpy(), a[2:5])
    X, _ = dataset[torch.tensor([7, 0, 3])]
    np.testing.assert_array_equal(X["a"].numpy(), a[[7, 0, 3]])
    np.testing.assert_array_equal(X["b"].numpy(), -a[[7, 0, 3], :1])


def test_dataset_shares_float32_memory():
    a = np.ones((4, 3), dtype=np.float32)
    dataset = TensorDictDataset({"a": a})
    assert dataset.X["a"].data_ptr() == a.ctypes.data  # moved once: no copy on CPU


def test_dataset_take_gathers_rows():
    dataset, a = make_dataset()
    part = dataset.take([1, 4])
    assert len(part) == 2
    np.testing.assert_array_equal(part.X["a"].numpy(), a[[1, 4]])


@pytest.mark.parametrize("shuffle", [False, True])
def test_iterator_keeps_last_partial_batch_and_every_sample(shuffle):
    dataset, a = make_dataset(n=10)
    iterator = TensorBatchIterator(dataset, batch_size=4, shuffle=shuffle)
    batches = [X["a"].numpy() for X, _ in iterator]
    assert len(iterator) == 3 and [len(b) for b in batches] == [4, 4, 2]
    seen = np.concatenate(batches)
    np.testing.assert_array_equal(np.sort(seen[:, 0]), a[:, 0])
    if not shuffle:
        np.testing.assert_array_equal(seen, a)


def test_shuffling_follows_torch_seed():
    dataset, _ = make_dataset(n=50)
    orders = []
    for _ in range(2):
        torch.manual_seed(3)
        orders.append(np.concatenate([X["a"][:, 0].numpy() for X, _ in TensorBatchIterator(dataset, 8, True)]))
    np.testing.assert_array_equal(*orders)


def test_valid_split_is_disjoint_cover_and_seeded():
    dataset, a = make_dataset(n=20)
    train, valid = TensorValidSplit(0.25, seed=0)(dataset)
    assert (len(train), len(valid)) == (15, 5)
    rows = np.concatenate([train.X["a"][:, 0].numpy(), valid.X["a"][:, 0].numpy()])
    np.testing.assert_array_equal(np.sort(rows), a[:, 0])
    _, again = TensorValidSplit(0.25, seed=0)(dataset)
    assert torch.equal(valid.X["a"], again.X["a"])


def test_dataset_proves_blocks_finite():
    blocks = {
        "a": np.zeros((4, 3), np.float32),
        "b": np.ones((4, 2), np.float32),
        "ids": np.arange(4)[:, None],
    }
    assert TensorDictDataset(blocks).all_finite(["a", "b", "ids", "absent"])
    for bad in (np.nan, np.inf, -np.inf):
        blocks["b"][2, 1] = bad
        dataset = TensorDictDataset(blocks)
        assert not dataset.all_finite(["a", "b"])
        assert dataset.all_finite(["a"])
