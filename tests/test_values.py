"""One block's values: conversion, the finite check, containers that are not arrays."""

import numpy as np
import pytest
import torch
from scipy import sparse

from skmmae.modalities import Binary, Continuous


def test_values_near_the_float32_limit_are_refused(tiny_estimator, blocks):
    X = blocks
    huge = {**X, "b": np.full_like(X["b"], 3e38)}
    with pytest.raises(ValueError, match=r"Modality 'b' has values too large to compute with"):
        tiny_estimator().fit(huge)
    ae = tiny_estimator().fit(X)
    with pytest.raises(ValueError, match=r"Modality 'b' has values too large to compute with"):
        ae.transform(huge)


def test_only_kinds_that_only_prove_finiteness_may_skip_the_scan():
    values = np.array([[1.0, np.inf], [0.0, 2.0]], dtype=np.float32)
    fitted = Continuous().fit(np.ones((3, 2)))
    assert np.isinf(fitted.validate(values, "Modality 'a'", scan_finite=False)).any()
    with pytest.raises(ValueError, match=r"Modality 'a' contains infinity"):
        fitted.validate(values, "Modality 'a'")
    # Binary values are checked for 0/1 anyway: the flag changes nothing there.
    bits = Binary().fit(np.array([[0, 1], [1, 0]]))
    with pytest.raises(ValueError, match=r"Modality 'b'"):
        bits.validate(values, "Modality 'b'", scan_finite=False)


def test_bfloat16_and_sparse_tensors_are_read(tiny_estimator, blocks):
    X = blocks
    tensors = {
        "a": torch.from_numpy(X["a"]).to(torch.bfloat16),
        "b": torch.from_numpy(np.abs(np.round(X["b"]))).to_sparse(),
    }
    ae = tiny_estimator(modalities={"b": "counts"}).fit(tensors)
    assert np.isfinite(ae.transform(tensors)).all()
    # The same values as numpy give the same codes.
    as_numpy = {
        "a": tensors["a"].float().numpy(),
        "b": sparse.csr_matrix(tensors["b"].to_dense().numpy()),
    }
    np.testing.assert_array_equal(ae.transform(tensors), ae.transform(as_numpy))
    codes = torch.zeros(2, 2, dtype=torch.bfloat16)
    assert ae.inverse_transform(codes)["a"].shape == (2, 5)


@pytest.mark.parametrize(
    "module, hint",
    [("anndata", r"adata\.X"), ("mudata", r"skmmae\.io\.from_mudata\(mdata\).*mdata\.mod\.items")],
)
def test_scverse_containers_are_refused_at_once(module, hint, tiny_estimator):
    container = _stand_in(module)()
    message = rf"X is a {module}\._core\.\w+, which is not an input form.*{hint}"
    with pytest.raises(TypeError, match=message):
        tiny_estimator().fit(container)
    with pytest.raises(TypeError, match=rf"Modality 'rna' is a {module}\._core\.\w+.*{hint}"):
        tiny_estimator().fit({"rna": container})
    assert container.counter[0] == 0  # never read item by item


def test_other_containers_are_refused_and_array_likes_accepted(tiny_estimator, blocks):
    with pytest.raises(TypeError, match=r"X is a builtins\.range, which is not an input form"):
        tiny_estimator().fit(range(10))

    class ArrayLike:
        def __init__(self, values):
            self.values = values

        def __array__(self, dtype=None, copy=None):
            return self.values

    X = blocks
    codes = tiny_estimator().fit({"a": ArrayLike(X["a"]), "b": X["b"]}).transform(X)
    assert codes.shape == (30, 2)


class _Container:
    """A stand-in for AnnData / MuData: sized and indexable, each item a view of it.

    numpy reads such an object item by item, and then each item, and so on:
    with MuData that never ends. This one counts the items read and stops
    the test after a few, so that a failure shows instead of a hang.
    """

    def __init__(self, counter=None):
        self.counter = counter if counter is not None else [0]
        self.shape = (5, 3)

    def __len__(self):
        return 5

    def __getitem__(self, index):
        self.counter[0] += 1
        if self.counter[0] > 1000:
            raise RuntimeError("numpy iterated the container")
        return type(self)(self.counter)


def _stand_in(module):
    name = "AnnData" if module == "anndata" else "MuData"
    return type(name, (_Container,), {"__module__": f"{module}._core"})
