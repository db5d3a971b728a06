"""The torch model: encoders, fusion and decoders for a dict of fitted modalities."""

import numpy as np
import pytest
import torch

from skmmae import MultimodalAutoencoder
from skmmae._module import MultimodalAutoencoderModule
from skmmae.fusion import FUSIONS
from skmmae.modalities import Continuous


def fitted_modalities(seed=0):
    rng = np.random.RandomState(seed)
    blocks = {"a": 5 + 3 * rng.normal(size=(20, 4)), "b": rng.normal(size=(20, 2))}
    return {name: Continuous().fit(block) for name, block in blocks.items()}, blocks


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_module_shapes_and_units(fusion):
    modalities, blocks = fitted_modalities()
    module = MultimodalAutoencoderModule(modalities, encoding_dim=3, hidden_dims=(8, 6), fusion=fusion)
    module.eval()  # in training, "moe" decodes each expert's code instead
    inputs = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in blocks.items()}
    out = module(**inputs)
    assert out.code.shape == (20, 3)
    assert {k: v.shape for k, v in out.reconstructions.items()} == {"a": (20, 4), "b": (20, 2)}
    # Targets are the standardized inputs.
    np.testing.assert_allclose(out.targets["a"].mean(0).detach().numpy(), 0, atol=1e-5)
    torch.testing.assert_close(module.encode(**inputs), out.code)
    original = module.decode_original(out.code)
    torch.testing.assert_close(original["a"], modalities["a"].build_scaler().inverse(out.reconstructions["a"]))


def test_errors_building_a_custom_part_name_the_modality():
    X = {"a": np.ones((6, 2)), "b": np.zeros((6, 3))}
    bad = Continuous(encoder=lambda: "not a module")
    ae = MultimodalAutoencoder(2, max_epochs=1, modalities={"b": bad})
    with pytest.raises(TypeError, match=r"Modality 'b': The encoder factory of Continuous must"):
        ae.fit(X)
    bad = Continuous(decoder=3)
    ae = MultimodalAutoencoder(2, max_epochs=1, modalities={"b": bad})
    with pytest.raises(TypeError, match=r"Modality 'b': The 'decoder' parameter of Continuous"):
        ae.fit(X)
