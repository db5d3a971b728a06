"""Fusions: how per-modality features become one code, with missing modalities left out."""

import numpy as np
import pytest
import torch

from skmmae.fusion import FUSIONS, make_fusion


def test_make_fusion_registry():
    assert set(FUSIONS) == {"mean", "concat", "poe", "moe"}
    fusion = make_fusion("concat", {"a": 3, "b": 2}, 4)
    assert fusion.project.in_features == 5
    features = {"a": torch.ones(2, 3), "b": torch.ones(2, 2)}
    assert make_fusion("mean", {"a": 3, "b": 2}, 4)(features, {}).mean.shape == (2, 4)


@pytest.mark.parametrize("variational", [False, True])
@pytest.mark.parametrize("fusion", ["concat", "mean", "poe", "moe"])
def test_fuse_each_is_one_fusion_per_presence_mapping_each_modality_once(fusion, variational):
    widths = {"a": 4, "b": 3, "c": 5}
    module = FUSIONS[fusion](widths, encoding_dim=2, variational=variational)
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
        if fusion in ("mean", "poe"):  # one head per modality, each run once for all
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
