"""Fusions: how per-modality features become one code, with missing modalities left out."""

import numpy as np
import pytest
import torch

from skmmae.fusion import FUSIONS, make_fusion


def test_make_fusion_registry():
    assert set(FUSIONS) == {"mean", "concat", "poe", "moe", "shared_private"}
    fusion = make_fusion("concat", {"a": 3, "b": 2}, 4)
    assert fusion.project.in_features == 5
    features = {"a": torch.ones(2, 3), "b": torch.ones(2, 2)}
    assert make_fusion("mean", {"a": 3, "b": 2}, 4)(features, {}).mean.shape == (2, 4)


@pytest.mark.parametrize("variational", [False, True])
@pytest.mark.parametrize("fusion", ["concat", "mean", "poe", "moe", "shared_private"])
def test_fuse_each_is_one_fusion_per_presence_mapping_each_modality_once(fusion, variational):
    widths = {"a": 4, "b": 3, "c": 5}
    module = FUSIONS[fusion](widths, encoding_dim=8, variational=variational)
    rng = np.random.RandomState(0)
    features = {
        name: torch.as_tensor(rng.normal(size=(6, width)), dtype=torch.float32)
        for name, width in widths.items()
    }
    masks = torch.as_tensor(rng.randint(0, 2, size=(3, 6, 3)), dtype=torch.float32)
    presences = [{}] + [{n: mask[:, j] for j, n in enumerate(widths)} for mask in masks]
    calls = []
    heads = module.project.values() if isinstance(module.project, torch.nn.ModuleDict) else []
    hooks = [head.register_forward_hook(lambda *_: calls.append(1)) for head in heads]
    with torch.no_grad():
        fused = module.fuse_each(features, presences)
        if fusion in ("mean", "poe", "shared_private"):  # one head per modality, run once
            assert len(calls) == len(widths)
        for posterior, present in zip(fused, presences, strict=True):
            expected = module(features, present)
            torch.testing.assert_close(posterior.mean, expected.mean, rtol=0, atol=0)
            if expected.logvar is not None:
                torch.testing.assert_close(posterior.logvar, expected.logvar, rtol=0, atol=0)
    for hook in hooks:
        hook.remove()


def test_placeholder_stands_in_only_where_a_modality_is_missing():
    from skmmae.fusion import Placeholder

    placeholder = Placeholder(3)
    with torch.no_grad():
        placeholder.weight.copy_(torch.tensor([1.0, 2.0, 3.0]))
    out = placeholder(torch.tensor([[1.0], [0.0]]))
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]))


def random_features(widths, n=6, seed=0):
    rng = np.random.RandomState(seed)
    return {
        name: torch.as_tensor(rng.normal(size=(n, width)), dtype=torch.float32)
        for name, width in widths.items()
    }


@pytest.mark.parametrize("variational", [False, True])
def test_shared_private_code_is_a_shared_mean_and_each_modalitys_own_slice(variational):
    from skmmae.fusion import SharedPrivateFusion

    widths = {"a": 4, "b": 3, "c": 5}
    fusion = SharedPrivateFusion(widths, encoding_dim=12, variational=variational)
    assert (fusion.shared_dims, fusion.private_dims) == (6, 2)
    features = random_features(widths)
    lacks_b = {"b": torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 1.0])}
    with torch.no_grad():
        posterior = fusion(features, lacks_b)
        heads = {name: fusion.project[name](features[name]) for name in widths}
    code = posterior.mean
    if variational:  # a missing modality's private slice is the prior N(0, 1)
        missing = lacks_b["b"] == 0
        assert torch.all(posterior.logvar[missing, 8:10] == 0)
        torch.testing.assert_close(posterior.logvar[~missing, 8:10], heads["b"][~missing, 14:16])
    # Shared part: the mean over the present modalities' shared outputs.
    shared = torch.stack([heads[n][:, :6] for n in widths], dim=1)
    weights = torch.stack([torch.ones(6), lacks_b["b"], torch.ones(6)], dim=1)
    shared_mean = (shared * weights[..., None]).sum(1) / weights.sum(1, keepdim=True)
    torch.testing.assert_close(code[:, :6], shared_mean)
    # Private slices: each modality's own, zero where it is missing.
    torch.testing.assert_close(code[:, 6:8], heads["a"][:, 6:8])
    torch.testing.assert_close(code[:, 8:10], heads["b"][:, 6:8] * lacks_b["b"][:, None])
    torch.testing.assert_close(code[:, 10:12], heads["c"][:, 6:8])
    # A modality absent from the batch: its slice is zero and nothing of it enters.
    with torch.no_grad():
        without_c = fusion({n: features[n] for n in ("a", "b")}, {}).mean
    assert torch.all(without_c[:, 10:12] == 0)
    torch.testing.assert_close(without_c[:, :6], (heads["a"][:, :6] + heads["b"][:, :6]) / 2)


def test_shared_private_without_room_for_private_slices_is_the_mean_fusion():
    from skmmae.fusion import MeanFusion, SharedPrivateFusion

    widths = {"a": 4, "b": 3, "c": 5}
    fusion = SharedPrivateFusion(widths, encoding_dim=4)  # 4 // 6 == 0 private dims
    mean = MeanFusion(widths, encoding_dim=4)
    mean.load_state_dict(fusion.state_dict())
    features = random_features(widths)
    present = {"a": torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 1.0])}
    with torch.no_grad():
        torch.testing.assert_close(fusion(features, present).mean, mean(features, present).mean)


def test_an_autoencoder_with_a_shared_private_code_predicts_across_modalities():
    from skmmae import MultimodalAutoencoder

    rng = np.random.default_rng(0)
    latent = rng.normal(size=(200, 2))
    X = {
        "a": latent @ rng.normal(size=(2, 6)) + 0.05 * rng.normal(size=(200, 6)),
        "b": latent @ rng.normal(size=(2, 5)) + 0.05 * rng.normal(size=(200, 5)),
    }
    ae = MultimodalAutoencoder(8, fusion="shared_private", max_epochs=30, random_state=0).fit(X)
    assert ae.transform(X).shape == (200, 8)
    predicted = ae.predict_modality({"a": X["a"]}, "b")
    error = np.mean((predicted - X["b"]) ** 2) / X["b"].var()
    assert error < 0.5  # the mean alone would score 1
