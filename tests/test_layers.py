"""Small torch building blocks: the cheaper CPU dropout, MLPs, layer specs."""

import pytest
import torch

from skmmae._layers import Dropout, dropout, mlp


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_dropout_zeroes_with_probability_p_and_keeps_the_mean(p):
    torch.manual_seed(0)
    x = torch.ones(400_003)  # not a multiple of 4: the last draw is cut
    y = dropout(x, p)
    assert y.shape == x.shape
    assert abs((y == 0).float().mean().item() - p) < 0.003
    assert torch.allclose(y[y != 0], torch.tensor(1 / (1 - p)))
    assert abs(y.mean().item() - 1.0) < 0.01


def test_dropout_masks_are_independent_across_elements_and_calls():
    torch.manual_seed(0)
    first, second = (dropout(torch.ones(200_000), 0.5) == 0 for _ in range(2))
    # Neighbours (pieces of one 64-bit draw) and successive calls: P(both) = 1/4.
    assert abs((first[:-1] & first[1:]).float().mean().item() - 0.25) < 0.005
    assert abs((first & second).float().mean().item() - 0.25) < 0.005


def test_dropout_follows_the_torch_seed_and_passes_gradients_through_kept_values():
    torch.manual_seed(3)
    a = dropout(torch.ones(1000), 0.2)
    torch.manual_seed(3)
    x = torch.ones(1000, requires_grad=True)
    b = dropout(x, 0.2)
    assert torch.equal(a, b)
    b.sum().backward()
    assert torch.equal(x.grad, b.detach())


def test_dropout_layer_is_identity_in_eval_mode_and_used_by_mlp():
    layers = mlp((4, 8, 2), dropout=0.1)
    assert any(isinstance(layer, Dropout) for layer in layers)
    layer = Dropout(0.3)
    x = torch.randn(16, 8)
    assert torch.equal(layer.eval()(x), x)
    assert not torch.equal(layer.train()(x), x)


def test_dropout_leaves_other_devices_to_torch():
    # The CPU mask would be drawn on the CPU; elsewhere torch's own kernel runs
    # on the tensor's device ("meta" stands in for CUDA here: shapes only).
    y = dropout(torch.ones(4, 3, device="meta"), 0.5)
    assert y.device.type == "meta" and y.shape == (4, 3)
