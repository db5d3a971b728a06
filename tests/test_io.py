"""The scverse bridge (skmmae.io): small AnnData and MuData objects built here, nothing downloaded.

Run by ``make test-scverse``; skipped where anndata or mudata is missing.
"""

import numpy as np
import pytest
from scipy import sparse

from skmmae import MultimodalAutoencoder
from skmmae.io import from_mudata, to_mudata

anndata = pytest.importorskip("anndata")
mudata = pytest.importorskip("mudata")

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def cells(names):
    return [f"cell{i}" for i in names]


@pytest.fixture
def mdata():
    """RNA counts (sparse) for cells 0-79, protein (dense) for cells 20-99, with a "counts" layer."""
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(100, 2))
    counts = rng.poisson(np.exp(latent @ rng.normal(size=(2, 30)) * 0.5)).astype(np.float32)
    rna = anndata.AnnData(sparse.csr_matrix(counts[:80]))
    rna.obs_names = cells(range(80))
    rna.layers["counts"] = sparse.csr_matrix(counts[:80] * 2)
    protein = anndata.AnnData((latent @ rng.normal(size=(2, 8)))[20:].astype(np.float32))
    protein.obs_names = cells(range(20, 100))
    return mudata.MuData({"rna": rna, "protein": protein})


def test_outer_join_keeps_every_cell_with_masks_and_counts_sparse(mdata):
    X, obs_names = from_mudata(mdata, return_obs_names=True)
    assert list(obs_names) == list(mdata.obs_names) and len(obs_names) == 100
    assert sparse.issparse(X["rna"]) and X["rna"].shape == (100, 30)
    assert X["rna__missing"].sum() == 20 and X["protein__missing"].sum() == 20
    # Rows are matched by cell name.
    row = list(obs_names).index("cell50")
    np.testing.assert_array_equal(X["protein"][row], mdata.mod["protein"]["cell50"].X[0])
    np.testing.assert_array_equal(X["rna"][row].toarray(), mdata.mod["rna"]["cell50"].X.toarray())
    ae = MultimodalAutoencoder(4, modalities={"rna": "counts"}, max_epochs=2, random_state=0).fit(X)
    to_mudata(mdata, ae.transform(X), obs_names=obs_names)
    assert mdata.obsm["X_skmmae"].shape == (100, 4) and np.isfinite(mdata.obsm["X_skmmae"]).all()


def test_inner_join_and_codes_back_by_name(mdata):
    X, obs_names = from_mudata(mdata, join="inner", layer={"rna": "counts"}, return_obs_names=True)
    assert list(obs_names) == cells(range(20, 80)) and not any(k.endswith("__missing") for k in X)
    np.testing.assert_array_equal(X["rna"].toarray(), mdata.mod["rna"].layers["counts"][20:].toarray())
    codes = np.arange(60 * 2, dtype=np.float32).reshape(60, 2)
    written = to_mudata(mdata, codes, obs_names=obs_names, key="X_test").obsm["X_test"]
    names = list(mdata.obs_names)
    np.testing.assert_array_equal(written[names.index("cell20")], codes[0])
    assert np.isnan(written[names.index("cell90")]).all()


def test_a_backed_file_is_read_a_batch_at_a_time(mdata, tmp_path):
    path = tmp_path / "data.h5mu"
    mdata.write(path)
    backed = mudata.read_h5mu(path, backed=True)
    X = from_mudata(backed)
    # The dense protein matrix stays on disk, its rows matched by name; the
    # sparse counts are read into memory, still sparse.
    assert type(X["protein"]).__name__ == "DiskBlock" and sparse.issparse(X["rna"])
    params = dict(encoding_dim=2, modalities={"rna": "counts"}, max_epochs=2, random_state=0)
    on_disk = MultimodalAutoencoder(**params).fit(X)
    in_memory = MultimodalAutoencoder(**params).fit(from_mudata(mdata))
    np.testing.assert_allclose(on_disk.transform(X), in_memory.transform(from_mudata(mdata)), atol=1e-6)
    # A backed AnnData's matrix is an array on disk, taken as it is.
    adata = anndata.read_h5ad(_write_h5ad(mdata.mod["protein"], tmp_path), backed="r")
    ae = MultimodalAutoencoder(2, max_epochs=1, random_state=0).fit({"protein": adata.X})
    assert ae.transform({"protein": adata.X}).shape == (80, 2)


def _write_h5ad(adata, folder):
    path = folder / "protein.h5ad"
    adata.write_h5ad(path)
    return path


def test_bad_requests_are_named(mdata):
    with pytest.raises(ValueError, match=r"no modalities \['atac'\]"):
        from_mudata(mdata, modalities=["atac"])
    with pytest.raises(ValueError, match="no layer 'raw'"):
        from_mudata(mdata, layer="raw")
    with pytest.raises(ValueError, match="codes has 3 rows and the data 100 cells"):
        to_mudata(mdata, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="does not have"):
        to_mudata(mdata, np.zeros((1, 2)), obs_names=["nobody"])


@pytest.mark.parametrize("container", ["adata", "mdata"])
def test_a_container_given_directly_is_refused_at_once_with_the_way_in(mdata, container):
    """Real AnnData and MuData objects as X: a clear TypeError, never a hang."""
    value = mdata if container == "mdata" else mdata.mod["protein"]
    hint = r"skmmae\.io\.from_mudata" if container == "mdata" else r"adata\.X"
    with pytest.raises(TypeError, match=rf"X is a {container[0]}\w*\.\S+, which is not an input.*{hint}"):
        MultimodalAutoencoder(encoding_dim=2, max_epochs=1).fit(value)
    # And the way the message points to works.
    codes = MultimodalAutoencoder(encoding_dim=2, max_epochs=1).fit_transform(from_mudata(mdata))
    assert codes.shape == (100, 2)
