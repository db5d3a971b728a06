"""CudaGraphs: what holds on any device (the graphs themselves are tested on CUDA in
test_speed_options.py)."""

import pickle

import numpy as np

from skmmae import MultimodalAutoencoder
from skmmae._cuda_graphs import CudaGraphs


def test_graph_state_never_reaches_a_pickle():
    graphs = CudaGraphs(warmup_steps=5).initialize()
    graphs._encode = {"graph": object()}
    graphs._warmups_done = 5
    restored = pickle.loads(pickle.dumps(graphs))
    assert restored.warmup_steps == 5 and restored._encode is None
    assert restored._warmups_done == 0 and graphs._encode is not None  # the original keeps its own


def test_estimator_on_cpu_has_no_graphs_and_pickles():
    X = {"a": np.random.default_rng(0).normal(size=(30, 3))}
    ae = MultimodalAutoencoder(2, max_epochs=1, random_state=0).fit(X)
    assert ae.net_.cuda_graphs is None
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(ae)).transform(X), ae.transform(X))
