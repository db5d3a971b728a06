"""Kernel ridge regression from codes: the closed-form fits and their choice of length and penalty."""

import pickle

import numpy as np
import pytest
import torch

from skmmae._kernel_ridge import JITTER, KernelRegression, fit_kernel_regressions
from skmmae.readout import KernelReadout

#: The read-out's defaults.
GRID = dict(
    length_factors=KernelReadout().length_factors,
    alphas=KernelReadout().alphas,
    max_centers=500,
    loo_rows=500,
)


def fit(codes, target_chunks, **params):
    return fit_kernel_regressions(codes, target_chunks, **{**GRID, **params})


def matern(a, b, length):
    r = np.sqrt(3.0) * np.linalg.norm(a[:, None] - b[None], axis=2) / length
    return (1 + r) * np.exp(-r)


def problem(n=80, seed=0):
    rng = np.random.RandomState(seed)
    codes = rng.normal(size=(n, 3))
    targets = np.column_stack([np.sin(codes[:, 0]) + codes[:, 1], codes[:, 2] ** 2]) + 3.0
    return codes, targets + 0.1 * rng.normal(size=targets.shape)


def fit_one(codes, targets, alpha, chunk=25, **params):
    """The regression for one penalty and one length (1x the codes' typical distance)."""
    chunks = [
        {"y": torch.as_tensor(targets[i : i + chunk])} for i in range(0, len(targets), chunk)
    ]
    return fit(torch.as_tensor(codes), chunks, length_factors=(1.0,), alphas=(alpha,), **params)["y"]


def test_exact_path_is_kernel_ridge_around_the_mean():
    codes, targets = problem()
    readout = fit_one(codes, targets, alpha=0.1)
    length = np.sqrt(2 * codes.var(0).sum())
    assert readout.length == pytest.approx(length)
    mean = targets.mean(0)
    coef = np.linalg.solve(matern(codes, codes, length) + 0.1 * np.eye(len(codes)), targets - mean)
    new = np.random.RandomState(1).normal(size=(7, 3))
    expected = matern(new, codes, length) @ coef + mean
    got = readout(torch.as_tensor(new, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    # Far from every training code it predicts the training mean.
    far = readout(torch.full((1, 3), 1e4)).numpy()
    np.testing.assert_allclose(far[0], mean, rtol=1e-5)


def test_subset_path_is_the_subset_of_regressors_solution():
    codes, targets = problem()
    readout = fit_one(codes, targets, alpha=0.1, max_centers=30)
    centers = readout.centers.double().numpy()
    assert len(centers) == 30 and all(any(np.allclose(c, x) for x in codes) for c in centers)
    length = readout.length
    k_nm, k_mm = matern(codes, centers, length), matern(centers, centers, length)
    k_mm = k_mm + JITTER * np.eye(30)
    mean = targets.mean(0)
    coef = np.linalg.solve(k_nm.T @ k_nm + 0.1 * k_mm, k_nm.T @ (targets - mean))
    new = np.random.RandomState(1).normal(size=(7, 3))
    expected = matern(new, centers, length) @ coef + mean
    got = readout(torch.as_tensor(new, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def brute_force_loo(codes, targets, length, alpha):
    # The offset is the mean of all rows, as in the read-out's own criterion.
    mean, errors = targets.mean(0), []
    for i in range(len(codes)):
        rest = np.arange(len(codes)) != i
        kernel = matern(codes[rest], codes[rest], length) + alpha * np.eye(rest.sum())
        coef = np.linalg.solve(kernel, targets[rest] - mean)
        pred = matern(codes[i : i + 1], codes[rest], length) @ coef + mean
        errors.append(((pred - targets[i]) ** 2).mean())
    return np.mean(errors)


def test_the_penalty_is_the_leave_one_out_best():
    codes, targets = problem(n=40)
    # Noisy enough that neither end of the grid wins (measured LOO MSE: 1.07,
    # 0.90, 1.67).
    targets = targets + np.random.RandomState(5).normal(0, 0.7, targets.shape)
    length = np.sqrt(2 * codes.var(0).sum())
    alphas = (0.001, 0.1, 10.0)
    loo = [brute_force_loo(codes, targets, length, a) for a in alphas]
    chosen = fit(
        torch.as_tensor(codes), [{"y": torch.as_tensor(targets)}], length_factors=(1.0,),
        alphas=alphas,
    )["y"]
    best = alphas[int(np.argmin(loo))]
    mean = targets.mean(0)
    coef = np.linalg.solve(matern(codes, codes, length) + best * np.eye(40), targets - mean)
    np.testing.assert_allclose(chosen.coef.numpy(), coef, rtol=1e-3, atol=1e-4, err_msg=str(loo))
    assert best == 0.1, loo


def test_each_target_picks_its_own_length():
    rng = np.random.RandomState(0)
    codes = rng.uniform(-3, 3, size=(150, 1))
    targets = {
        "smooth": torch.as_tensor(codes * 0.5),
        "wiggly": torch.as_tensor(np.sin(6 * codes)),
    }
    readouts = fit(torch.as_tensor(codes), [targets])
    assert readouts["wiggly"].length_factor < readouts["smooth"].length_factor
    grid = torch.linspace(-2.5, 2.5, 50, dtype=torch.float64).unsqueeze(1)
    error = (readouts["wiggly"](grid).double() - torch.sin(6 * grid)).abs().max()
    assert error < 0.1, error


def test_a_readout_keeps_the_target_shape_and_pickles():
    codes = torch.randn(30, 2)
    target = torch.randn(30, 3, 4)
    readout = fit(codes, [{"t": target}])["t"]
    assert readout(codes[:5]).shape == (5, 3, 4)
    again = pickle.loads(pickle.dumps(readout))
    assert isinstance(again, KernelRegression)
    torch.testing.assert_close(again(codes), readout(codes), rtol=0, atol=0)
    # Under bfloat16 autocast it still computes in float32.
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = readout(codes)
    assert under.dtype == torch.float32
    torch.testing.assert_close(under, readout(codes), rtol=0, atol=0)


def test_the_gradient_is_finite_on_a_center():
    # Refined codes follow this gradient, and may land on a training code.
    codes, targets = problem()
    readout = fit(torch.as_tensor(codes), [{"y": torch.as_tensor(targets)}])["y"]
    code = readout.centers[:5].clone().requires_grad_(True)
    readout(code).sum().backward()
    assert torch.isfinite(code.grad).all()
