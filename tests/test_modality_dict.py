"""Any string is a modality name: the model's dicts of modules accept them all."""

import numpy as np
import pandas as pd
import pytest
import torch
from skorch.helper import SliceDict
from torch import nn

from skmmae import MultimodalAutoencoder
from skmmae._modality_dict import ModalityDict, modality_name, module_key

#: Names torch refuses as submodule names (attributes of nn.Module, the
#: empty string, dots), and strings that look like escapes.
AWKWARD_NAMES = ["to", "training", "forward", "cuda", "type", "state_dict", "", "a.b", "%2E", "m:x"]


@pytest.mark.parametrize("name", AWKWARD_NAMES + ["plain", "ä ö", "50%"])
def test_module_key_is_accepted_by_torch_and_inverted(name):
    key = module_key(name)
    assert modality_name(key) == name
    nn.Module().add_module(key, nn.Identity())  # torch accepts it


def test_module_keys_are_distinct():
    names = AWKWARD_NAMES + ["a%2Eb", "a%b", "m:", "m"]
    assert len({module_key(name) for name in names}) == len(names)


def test_modality_dict_reads_and_writes_by_name():
    d = ModalityDict({"type": nn.Linear(2, 1), "a.b": nn.Linear(2, 3)})
    d[""] = nn.Identity()
    assert list(d) == d.keys() == ["type", "a.b", ""]
    assert [name for name, _ in d.items()] == ["type", "a.b", ""]
    assert "a.b" in d and "to" not in d and 3 not in d
    assert d["a.b"].out_features == 3
    assert len(d) == 3 and len(list(d.parameters())) == 4
    d.pop("type")
    assert list(d) == ["a.b", ""]
    loaded = ModalityDict({"a.b": nn.Linear(2, 3), "": nn.Identity()})
    loaded.load_state_dict(d.state_dict())
    assert torch.equal(loaded["a.b"].weight, d["a.b"].weight)


def _blocks(names, n=40, seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.normal(size=(n, 3 + i)) for i, name in enumerate(names)}


def _frame(blocks):
    return pd.concat(
        {name: pd.DataFrame(block) for name, block in blocks.items()}, axis=1
    )


@pytest.mark.parametrize("form", [dict, SliceDict, _frame])
@pytest.mark.parametrize("fusion", ["mean", "concat"])
def test_any_string_is_a_modality_name(form, fusion):
    names = ["to", "type", "", "a.b"]
    X = form(**_blocks(names)) if form is SliceDict else form(_blocks(names))
    ae = MultimodalAutoencoder(2, hidden_dims=(8,), max_epochs=2, fusion=fusion, random_state=0)
    codes = ae.fit_transform(X)
    assert list(ae.modalities_) == names
    assert np.isfinite(codes).all()
    assert sorted(ae.readout_.reconstructors_) == sorted(names)
    rebuilt = ae.inverse_transform(codes)
    if not isinstance(rebuilt, dict):
        rebuilt = dict.fromkeys(rebuilt.columns.get_level_values(0))
    assert list(rebuilt) == names
    predicted = ae.predict_modality({"to": _blocks(["to"])["to"]}, "a.b")
    assert np.shape(predicted) == (40, 6) and np.isfinite(np.asarray(predicted)).all()


def test_a_name_with_the_internal_mask_suffix_is_refused():
    X = {"x__present": np.zeros((10, 2)), "b": np.ones((10, 2))}
    for readout in ("kernel", "decoder"):
        ae = MultimodalAutoencoder(2, max_epochs=1, readout=readout)
        with pytest.raises(ValueError, match=r"must not end in '__present'.*\['x__present'\]"):
            ae.fit(X)
    frame = _frame({"b__present": np.zeros((10, 2)), "b": np.ones((10, 2))})
    with pytest.raises(ValueError, match=r"must not end in '__present'.*\['b__present'\]"):
        MultimodalAutoencoder(2, max_epochs=1).fit(frame)


def test_a_multiindex_name_with_the_mask_suffix_is_refused():
    frame = _frame({"b__missing": np.zeros((10, 2)), "b": np.ones((10, 2))})
    with pytest.raises(ValueError, match=r"must not end in '__missing'.*'b__missing'"):
        MultimodalAutoencoder(2, max_epochs=1).fit(frame)
