"""Modalities on disk (skmmae._disk): memmaps, HDF5 and zarr arrays, read a batch at a time."""

import numpy as np
import pytest

from skmmae import MultimodalAutoencoder
from skmmae._disk import DiskBlock, DiskRows, is_on_disk
from skmmae._summary import ROWS_PER_CHUNK

N_ROWS = 20_000  # more than one chunk of rows


@pytest.fixture(scope="module")
def arrays():
    """Two continuous modalities; "a" lacks every seventh sample and has scattered missing cells."""
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(N_ROWS, 2))
    a = (latent @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(N_ROWS, 6))).astype(np.float32)
    b = (latent @ rng.normal(size=(2, 3)) + 5).astype(np.float32)
    a[::7] = np.nan
    a[1::50, 2] = np.nan
    return {"a": a, "b": b}


@pytest.fixture(scope="module")
def on_disk(arrays, tmp_path_factory):
    """The same arrays as ``np.load(..., mmap_mode="r")`` memmaps."""
    folder = tmp_path_factory.mktemp("memmaps")
    for name, values in arrays.items():
        np.save(folder / f"{name}.npy", values)
    return {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in arrays}


def estimator(**params):
    settings = dict(encoding_dim=2, hidden_dims=(16,), batch_size=1000, max_epochs=2, random_state=0)
    return MultimodalAutoencoder(**{**settings, **params})


@pytest.fixture(scope="module")
def in_memory(arrays):
    return estimator().fit(arrays)


def check_same_model(fitted, expected, X):
    assert fitted.net_.history[:, "train_loss"] == expected.net_.history[:, "train_loss"]
    for name in ("a", "b"):
        np.testing.assert_allclose(fitted.modalities_[name].mean_, expected.modalities_[name].mean_, rtol=1e-6)
        np.testing.assert_allclose(fitted.modalities_[name].scale_, expected.modalities_[name].scale_, rtol=1e-6)
    np.testing.assert_array_equal(fitted.transform(X), expected.transform(X))


def test_a_memmap_trains_the_model_arrays_in_memory_train(on_disk, arrays, in_memory):
    ae = estimator().fit(on_disk)
    check_same_model(ae, in_memory, arrays)
    # transform and predict_modality read from disk too.
    np.testing.assert_array_equal(ae.transform(on_disk), in_memory.transform(arrays))
    predicted = ae.predict_modality({"b": on_disk["b"]}, "a")
    np.testing.assert_allclose(predicted, in_memory.predict_modality({"b": arrays["b"]}, "a"), rtol=1e-5)


def test_hdf5_and_zarr_arrays(arrays, in_memory, tmp_path):
    h5py = pytest.importorskip("h5py")
    zarr = pytest.importorskip("zarr")
    with h5py.File(tmp_path / "data.h5", "w") as file:
        for name, values in arrays.items():
            file.create_dataset(name, data=values, chunks=(512, values.shape[1]))
    for name, values in arrays.items():
        zarr.create_array(tmp_path / f"{name}.zarr", shape=values.shape, dtype=values.dtype, chunks=(512, values.shape[1]))[:] = values
    with h5py.File(tmp_path / "data.h5", "r") as file:
        hdf5 = {name: file[name] for name in arrays}
        assert all(is_on_disk(block) for block in hdf5.values())
        # Shuffled batches read each one's rows in increasing order, as HDF5 needs.
        check_same_model(estimator().fit(hdf5), in_memory, arrays)
    stored = {name: zarr.open_array(tmp_path / f"{name}.zarr", mode="r") for name in arrays}
    assert all(is_on_disk(block) for block in stored.values())
    check_same_model(estimator().fit(stored), in_memory, arrays)


class RecordedMemmap(np.memmap):
    """A memmap that records how many rows each read takes."""

    reads = []

    def __getitem__(self, key):
        rows = np.arange(self.shape[0])[key] if isinstance(key, slice) else np.asarray(key)
        if self.ndim == 2 and rows.ndim == 1:
            RecordedMemmap.reads.append(len(rows))
        return super().__getitem__(key)


def test_blocks_are_read_a_batch_or_chunk_at_a_time(on_disk):
    recorded = {name: block.view(RecordedMemmap) for name, block in on_disk.items()}
    RecordedMemmap.reads.clear()
    ae = estimator().fit(recorded)
    ae.transform(recorded)
    ae.inverse_transform(ae.transform(recorded))
    assert RecordedMemmap.reads and max(RecordedMemmap.reads) <= ROWS_PER_CHUNK < N_ROWS
    # Nothing reads a whole block through numpy.
    with pytest.raises(TypeError, match="never whole"):
        np.asarray(DiskBlock(on_disk["a"]))


def test_bad_values_name_the_modality_and_the_row_in_the_file(arrays, tmp_path):
    values = arrays["b"].copy()
    values[12_345, 1] = np.inf
    np.save(tmp_path / "b.npy", values)
    X = {"a": arrays["a"], "b": np.load(tmp_path / "b.npy", mmap_mode="r")}
    with pytest.raises(ValueError, match=r"Modality 'b' contains infinity .* in 1 rows \(first: 12345\)"):
        estimator().fit(X)


def test_images_on_disk_get_their_channel_axis(tmp_path):
    # Grayscale images (n, height, width): the model reads (n, 1, height, width).
    images = np.random.default_rng(0).random((300, 8, 8)).astype(np.float32)
    words = np.random.default_rng(1).normal(size=(300, 4)).astype(np.float32)
    np.save(tmp_path / "img.npy", images)
    params = dict(modalities={"img": "image"}, max_epochs=1)
    disk = estimator(**params).fit({"img": np.load(tmp_path / "img.npy", mmap_mode="r"), "w": words})
    memory = estimator(**params).fit({"img": images, "w": words})
    assert disk.modalities_["img"].input_shape_ == memory.modalities_["img"].input_shape_ == (1, 8, 8)
    assert disk.net_.history[:, "train_loss"] == memory.net_.history[:, "train_loss"]
    reconstructed = disk.inverse_transform(disk.transform({"img": images, "w": words}))["img"]
    assert reconstructed.shape == images.shape


def test_a_kind_that_needs_every_value_at_once_is_refused(on_disk):
    with pytest.raises(TypeError, match="Modality 'b' is an array on disk.*categorical.*np.asarray"):
        estimator(modalities={"b": "categorical"}).fit(on_disk)


def test_a_block_reads_slices_and_empty_shares(on_disk):
    block = DiskBlock(on_disk["b"])
    np.testing.assert_array_equal(block[10:20:3], np.asarray(on_disk["b"])[10:20:3])
    assert block.read([]).shape == (0, 3)  # a process's empty share of a last batch


def test_disk_rows_give_batches_on_the_device(on_disk):
    rows = DiskRows(DiskBlock(on_disk["b"]))
    batch = rows.index_select(0, np.array([5, 2, 5]))
    np.testing.assert_array_equal(batch.numpy(), np.asarray(on_disk["b"])[[5, 2, 5]])
    assert len(rows.take([1, 2])) == 2 and rows[:3].shape == (3, 3)
