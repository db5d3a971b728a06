"""The skorch side: whole-batch dataset, iterator, validation split, net."""

import numpy as np
import pytest
import torch

from skmmae._module import MultimodalAutoencoderModule, ReconstructionLoss
from skmmae._data import TensorBatchIterator, TensorDictDataset, TensorValidSplit
from skmmae._net import MultimodalNet
from skmmae.modalities import Continuous


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


def make_net(data, **kwargs):
    modalities = {name: Continuous().fit(block) for name, block in data.items()}
    return MultimodalNet(
        MultimodalAutoencoderModule,
        ReconstructionLoss,
        module__modalities=modalities,
        module__encoding_dim=2,
        module__hidden_dims=(8,),
        module__fusion="mean",
        criterion__modalities=modalities,
        optimizer=torch.optim.Adam,
        train_split=None,
        verbose=0,
        **kwargs,
    )


def test_net_trains_with_input_as_target_and_encodes_in_batches():
    rng = np.random.RandomState(0)
    data = {"a": rng.normal(size=(37, 4)).astype(np.float32), "b": rng.normal(size=(37, 2)).astype(np.float32)}
    torch.manual_seed(0)
    net = make_net(data, max_epochs=20, batch_size=16, lr=0.01).fit(data)
    losses = net.history[:, "train_loss"]
    assert losses[-1] < losses[0]
    assert net.history[-1, "train_batch_count"] == 3  # 16 + 16 + 5: nothing dropped
    codes = net.encode(data)
    assert codes.shape == (37, 2) and codes.dtype == np.float32
    whole = net.module_.encode(**{k: torch.as_tensor(v) for k, v in data.items()}).detach().numpy()
    np.testing.assert_allclose(codes, whole, rtol=1e-5, atol=1e-6)
    recon = net.decode(codes)
    assert {k: v.shape for k, v in recon.items()} == {"a": (37, 4), "b": (37, 2)}
    assert net.reconstruction_loss(data) == pytest.approx(losses[-1], rel=0.5)


def test_training_mode_reaches_every_submodule_and_flips_with_each_phase():
    rng = np.random.RandomState(0)
    data = {"a": rng.normal(size=(20, 4)).astype(np.float32)}
    net = make_net(data, max_epochs=1, batch_size=8).fit(data)
    modules = list(net.module_.modules()) + list(net.criterion_.modules())
    net.encode(data)  # inference: eval mode everywhere
    assert not any(m.training for m in modules)
    net.partial_fit(data)  # training steps: train mode everywhere again
    assert all(m.training for m in modules)
    net._set_training(False)
    assert not any(m.training for m in modules)


def test_loss_buffer_grows_past_its_size_hint():
    # Iterators without a length start from a guess; the buffer must grow
    # and keep every earlier value.
    from skmmae._net import _store

    buffer = None
    for i in range(7):
        buffer = _store(buffer, i, torch.tensor(float(i)), size_hint=2)
    assert buffer.dtype == torch.float32 and len(buffer) >= 7
    assert buffer[:7].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
