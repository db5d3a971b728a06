"""Fixtures shared by the test modules: the shipped mfeat data and its splits.

Session-scoped: each is loaded or split once per test run, and no test may
change them (they are copied where a test edits values).
"""

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from skmmae.datasets import load_mfeat


@pytest.fixture(scope="session")
def mfeat():
    """The whole of mfeat: ``(X, y)``, X a SliceDict of the six views."""
    return load_mfeat(return_X_y=True)


@pytest.fixture(scope="session")
def mfeat_split(mfeat):
    """A seeded random split of mfeat: ``(train, test)`` dicts of 1,200 and 800 rows."""
    X, y = mfeat
    rows = np.random.RandomState(0).permutation(len(y))
    train, test = rows[:1200], rows[1200:]
    return {k: v[train] for k, v in X.items()}, {k: v[test] for k, v in X.items()}


@pytest.fixture(scope="session")
def mfeat_stratified(mfeat):
    """A stratified 70/30 split of mfeat with labels: ``X_train, X_test, y_train, y_test``."""
    X, y = mfeat
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)


@pytest.fixture(scope="session")
def mfeat_small(mfeat):
    """The first 300 rows of every view of mfeat, as a dict."""
    X, _ = mfeat
    return {name: block[:300] for name, block in X.items()}


@pytest.fixture
def blocks():
    """Two small continuous modalities, "a" (5 features) and "b" (3), 30 rows; fresh per test."""
    rng = np.random.RandomState(0)
    return {"a": rng.randn(30, 5), "b": rng.randn(30, 3)}


@pytest.fixture(scope="session")
def tiny_estimator():
    """A factory of small, fast estimators: ``tiny_estimator(**params)``."""
    from skmmae import MultimodalAutoencoder

    def make(**params):
        settings = dict(encoding_dim=2, hidden_dims=(8,), max_epochs=2, random_state=0)
        return MultimodalAutoencoder(**{**settings, **params})

    return make


@pytest.fixture(scope="session")
def tiny_net():
    """A factory of small skorch nets on continuous modalities: ``tiny_net(data, **kwargs)``."""
    import torch

    from skmmae._loss import ReconstructionLoss
    from skmmae._module import MultimodalAutoencoderModule
    from skmmae._net import MultimodalNet
    from skmmae.modalities import Continuous

    def make(data, **kwargs):
        modalities = {name: Continuous().fit(block) for name, block in data.items()}
        settings = dict(
            module__modalities=modalities,
            module__encoding_dim=2,
            module__hidden_dims=(8,),
            module__fusion="mean",
            criterion__modalities=modalities,
            optimizer=torch.optim.Adam,
            train_split=None,
            verbose=0,
        )
        return MultimodalNet(
            MultimodalAutoencoderModule, ReconstructionLoss, **{**settings, **kwargs}
        )

    return make
