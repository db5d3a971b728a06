"""The input contract, on generated inputs (hypothesis).

Every input either works, with finite output of the right shape, or is
refused with a ``ValueError`` / ``TypeError`` that names the modality (or
the parameter) at fault. The invariants users rely on hold on generated
data: no input is changed, one row is encoded as in a batch, float32 and
float64 give the same codes, an absent key and all-NaN rows give the same
codes, copies give the same outputs, and threads give the serial results.

Examples are derandomized (the same ones on every run) and few, on tiny
models, so that the whole file runs in well under a minute.
"""

import copy
import pickle
import threading

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.base import clone
from skorch.helper import SliceDict

from skmmae import MultimodalAutoencoder
from skmmae.options import (
    CrossModal,
    EarlyStop,
    HiddenLayers,
    ModalityDropout,
    Speed,
    Variational,
)
from skmmae.readout import KernelReadout
from skmmae.refine import CodeRefinement

#: The tiniest model that still runs every step (read-outs included).
TINY = dict(encoding_dim=2, hidden_dims=(4,), max_epochs=1, batch_size=8, random_state=0)


def examples(n):
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def refused_naming(call, names, words=()):
    """``call()``'s result, or None when it raised a ValueError/TypeError naming one of ``names``.

    A modality name counts as named when its ``repr`` is in the message
    (``Modality 'a'``, ``X['a__missing']``), a non-string key when its
    ``str`` is; ``words`` are matched as they are (``"X"`` for codes). Any
    other exception, or an error naming none of them, fails the test.
    """
    tokens = [repr(name) if isinstance(name, str) else str(name) for name in names]
    try:
        return call()
    except (ValueError, TypeError) as error:
        message = str(error)
        assert any(token in message for token in [*tokens, *words]), message
        return None


def assert_finite(values, shape=None):
    values = np.asarray(values)
    if shape is not None:
        assert values.shape == shape
    if values.dtype.kind == "f":
        assert np.isfinite(values).all()


def in_form(blocks, form):
    """The dict of blocks as a dict, SliceDict or MultiIndex DataFrame."""
    if form == "dict":
        return dict(blocks)
    if form == "slicedict":
        return SliceDict(**blocks)
    return pd.concat({name: pd.DataFrame(block) for name, block in blocks.items()}, axis=1)


def check_fitted(ae, X, n):
    """The fitted model's methods on its training data: finite, of the right shapes."""
    codes = ae.transform(X)
    assert_finite(codes, (n, ae.encoding_dim))
    rebuilt = ae.inverse_transform(codes)
    for name in ae.modalities_:
        block = rebuilt[name] if isinstance(rebuilt, dict) else rebuilt.xs(name, axis=1, level=0)
        assert_finite(block)
    assert np.isfinite(ae.score(X))
    return codes


# -- modality names and containers ----------------------------------------------

NAMES = st.one_of(
    st.sampled_from(["to", "type", "training", "state_dict", "", "a.b", "x__present", "X", "%2E"]),
    st.text(max_size=5),
)


@examples(50)
@given(
    names=st.lists(
        st.one_of(NAMES, NAMES, NAMES, st.integers(0, 2)), min_size=1, max_size=3, unique=True
    ),
    form=st.sampled_from(["dict", "slicedict", "frame"]),
    n=st.integers(1, 10),
    widths=st.lists(st.integers(1, 4), min_size=3, max_size=3),
)
def test_any_string_names_a_modality_in_every_container(names, form, n, widths):
    rng = np.random.default_rng(0)
    blocks = {name: rng.normal(size=(n, width)) for name, width in zip(names, widths)}
    string_keys = all(isinstance(name, str) for name in names)
    X = in_form(blocks, form) if string_keys or form != "slicedict" else blocks
    ae = MultimodalAutoencoder(**TINY)
    fitted = refused_naming(lambda: ae.fit(X), names)
    if not string_keys:  # keys must be strings
        assert fitted is None
        return
    # A name ending in an internal suffix is refused; every other one works.
    # ("b__missing" in a dict is a mask, not a modality.)
    reserved = [name for name in names if name.endswith(("__present", "__missing"))]
    if reserved:
        assert fitted is None
        return
    assert fitted is not None
    assert list(ae.modalities_) == names
    check_fitted(ae, X, n)
    if len(names) > 1:
        target, *others = names
        predicted = ae.predict_modality(in_form({o: blocks[o] for o in others}, form), target)
        assert_finite(predicted, (n, widths[0]))


# -- values, dtypes and shapes of one modality ---------------------------------

DTYPES = st.sampled_from(
    [np.float16, np.float32, np.float64, np.int8, np.int64, np.uint8, np.bool_, np.complex64, "U2"]
)
KINDS = st.sampled_from([None, "continuous", "binary", "categorical", "counts", "tokens", "image"])


#: Mostly the 2-D blocks most kinds take, sometimes any rank or size.
SHAPES = st.one_of(
    st.tuples(st.integers(1, 6), st.integers(1, 4)),
    st.tuples(st.integers(1, 6), st.integers(1, 4)),
    st.tuples(st.integers(1, 4), st.integers(2, 5), st.integers(2, 5)),
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5),
)


#: Any values of any dtype, or (as often) plain moderate floats and small ints.
VALUES = st.one_of(
    hnp.arrays(DTYPES, SHAPES),
    hnp.arrays(np.float64, SHAPES, elements=st.floats(-100, 100)),
    hnp.arrays(np.int64, SHAPES, elements=st.integers(0, 5)),
)


@examples(150)
@given(values=VALUES, kind=KINDS)
def test_any_values_work_or_are_refused_by_name(values, kind):
    n = values.shape[0]
    other = np.random.default_rng(0).normal(size=(n, 2))
    X = {"v": values, "w": other}
    before = values.copy()
    ae = MultimodalAutoencoder(**TINY, modalities=None if kind is None else {"v": kind})
    fitted = refused_naming(lambda: ae.fit(X), ["v", "w"])
    np.testing.assert_array_equal(values, before)  # never changed
    if fitted is None:
        return
    check_fitted(ae, X, n)
    assert_finite(ae.predict_modality({"w": other}, "v"))


@pytest.fixture(scope="module")
def fitted_ab():
    rng = np.random.default_rng(1)
    X = {"a": rng.normal(size=(30, 4)), "b": rng.normal(size=(30, 3))}
    return MultimodalAutoencoder(**TINY).fit(X)


@examples(100)
@given(
    a=hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.sampled_from([4, 4, 4, 3, 5]))),
    b_width=st.sampled_from([3, 3, 3, 2, 4]),
    b_scale=st.sampled_from([1.0, 1e20, 1e37, 1e38]),
)
def test_new_data_of_any_values_works_or_is_refused_by_name(fitted_ab, a, b_width, b_scale):
    b = np.random.default_rng(2).normal(size=(len(a), b_width)) * b_scale
    X = {"a": a, "b": b}
    codes = refused_naming(lambda: fitted_ab.transform(X), ["a", "b"])
    if codes is not None:
        assert_finite(codes, (len(a), 2))
    score = refused_naming(lambda: fitted_ab.score(X), ["a", "b"])
    assert score is None or np.isfinite(score)
    predicted = refused_naming(lambda: fitted_ab.predict_modality({"a": a}, "b"), ["a"])
    if predicted is not None:
        assert_finite(predicted, (len(a), 3))


@examples(60)
@given(
    codes=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.sampled_from([2, 2, 2, 1, 3])),
        elements=st.one_of(st.floats(-1e3, 1e3), st.floats(allow_nan=True, allow_infinity=True)),
    )
)
def test_any_codes_decode_or_are_refused(fitted_ab, codes):
    rebuilt = refused_naming(
        lambda: fitted_ab.inverse_transform(codes), ["a", "b"], ["codes X", "Input X"]
    )
    if rebuilt is not None:
        assert_finite(rebuilt["a"], (len(codes), 4))
        assert_finite(rebuilt["b"], (len(codes), 3))


# -- missing-row masks -------------------------------------------------------------

MASKS = st.one_of(
    hnp.arrays(np.bool_, 8),
    hnp.arrays(np.bool_, 8),
    hnp.arrays(np.int8, 8, elements=st.integers(0, 1)),
    hnp.arrays(np.int8, 8, elements=st.integers(-1, 2)),
    hnp.arrays(np.float64, 8, elements=st.sampled_from([0.0, 1.0, np.nan])),
    st.lists(st.sampled_from([True, False, None]), min_size=8, max_size=8).map(
        lambda v: pd.array(v, dtype="boolean")
    ),
    hnp.arrays(np.bool_, st.sampled_from([(7,), (8, 1), (9,)])),
)


@examples(60)
@given(mask_a=MASKS, mask_b=st.one_of(st.none(), MASKS), nan_rows=hnp.arrays(np.bool_, 8))
def test_masks_and_missing_rows_work_or_are_refused_by_name(mask_a, mask_b, nan_rows):
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    b[nan_rows] = np.nan
    X = {"a": a, "b": b, "a__missing": mask_a}
    if mask_b is not None:
        X["b__missing"] = mask_b
    ae = MultimodalAutoencoder(**TINY)
    if refused_naming(lambda: ae.fit(X), ["a", "b", "a__missing", "b__missing"]) is not None:
        check_fitted(ae, X, 8)


# -- parameters ----------------------------------------------------------------------

FLOATS = st.floats(allow_nan=True, allow_infinity=True)
PARAMETERS = st.fixed_dictionaries(
    {},
    optional={
        "encoding_dim": st.one_of(st.integers(-1, 4), st.just(2.5)),
        "hidden_dims": st.sampled_from(
            [(), (4,), (4, 3), (0,), (-1,), (2.5,), "x", HiddenLayers((4,), dropout=0.5),
             HiddenLayers((4,), dropout=1.0), HiddenLayers((4,), layer_norm="no")]
        ),
        "lr": st.one_of(FLOATS, st.sampled_from([1e-3, 1e6])),
        "noise_std": st.one_of(FLOATS, st.just(1e30)),
        "modality_dropout": st.sampled_from(
            [0.0, 0.5, 0.99, 1.0, ModalityDropout(0.5, subset_weight=0.0),
             ModalityDropout(0.5, subset_weight=2.0), ModalityDropout(1.0)]
        ),
        "input_dropout": st.sampled_from([0.0, 0.5, 1.5]),
        "batch_size": st.integers(-1, 40),
        "max_epochs": st.integers(0, 2),
        "modality_weights": st.one_of(
            st.none(),
            st.just("balanced"),
            st.dictionaries(st.sampled_from(["a", "b", "c"]), FLOATS, max_size=2),
        ),
        "fusion": st.sampled_from(["mean", "concat", "poe", "moe", "sum"]),
        "variational": st.one_of(
            st.booleans(),
            st.builds(Variational, beta=st.one_of(FLOATS, st.just(1e30)),
                      kl_warmup_epochs=st.integers(-1, 2)),
        ),
        "ema_decay": st.sampled_from([0.0, 0.9, 1.0, -1.0]),
        "readout": st.sampled_from(
            ["kernel", "decoder", "other", KernelReadout(max_centers=10),
             KernelReadout(alphas=(-1.0,)), KernelReadout(max_centers=0)]
        ),
        "refine": st.sampled_from(
            [None, CodeRefinement(steps=2), CodeRefinement(steps=-1), CodeRefinement(lr=0.0), 3]
        ),
        "cross_weight": st.one_of(
            st.sampled_from([0.0, 0.5, 1.0, -0.5]),
            st.builds(CrossModal, weight=st.sampled_from([0.0, 0.5, 1.5]),
                      decoders=st.sampled_from(["shared", "own", "mine"])),
        ),
        "optimizer": st.sampled_from(["adam", "adamw", "sgd", "lbfgs"]),
        "early_stopping": st.one_of(
            st.booleans(),
            st.builds(EarlyStop, patience=st.integers(0, 2),
                      validation_fraction=st.sampled_from([0.2, 0.0, 1.0])),
        ),
        "speed": st.sampled_from(
            [None, Speed(n_threads=1), Speed(n_threads=0), Speed(bf16=True),
             Speed(fused_optimizer=True), Speed(cuda_graphs=True)]
        ),
        "weight_decay": st.sampled_from([0.0, 1e-3, -1.0]),
    },
)


@examples(120)
@given(params=PARAMETERS)
def test_any_parameters_work_or_are_refused_by_name(params):
    rng = np.random.default_rng(4)
    X = {"a": rng.normal(size=(24, 3)), "b": rng.normal(size=(24, 2))}
    ae = MultimodalAutoencoder(**{**TINY, **params})
    try:
        ae.fit(X)
    except (ValueError, TypeError) as error:
        message = str(error)
        # A diverged fit names the parameters that can cause it in its hint.
        assert "diverged" in message or any(key in message for key in params), message
        return
    check_fitted(ae, X, 24)
    assert_finite(ae.predict_modality({"a": X["a"]}, "b"), (24, 2))


# -- invariants -------------------------------------------------------------------

@pytest.fixture(scope="module", params=["mean", "concat", "poe", "moe", "shared_private"])
def fitted_fusion(request):
    rng = np.random.default_rng(5)
    X = {"a": rng.normal(size=(40, 4)), "b": rng.normal(size=(40, 3))}
    return MultimodalAutoencoder(**{**TINY, "max_epochs": 2, "fusion": request.param}).fit(X)


ROWS = hnp.arrays(
    np.float64, st.tuples(st.integers(2, 6), st.just(7)), elements=st.floats(-5, 5, width=32)
)


@examples(15)
@given(rows=ROWS, missing=hnp.arrays(np.bool_, 6))
def test_invariants_of_the_methods(fitted_fusion, rows, missing):
    ae, n = fitted_fusion, len(rows)
    X = {"a": rows[:, :4], "b": rows[:, 4:]}
    copies = {name: block.copy() for name, block in X.items()}
    codes = ae.transform(X)
    predicted = ae.predict_modality({"a": X["a"]}, "b")
    rebuilt = ae.inverse_transform(codes)
    # No input is changed.
    for name, block in X.items():
        np.testing.assert_array_equal(block, copies[name])
    # One row gives the same as that row in a batch.
    for i in range(n):
        one = {name: block[i : i + 1] for name, block in X.items()}
        np.testing.assert_allclose(ae.transform(one)[0], codes[i], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            ae.predict_modality({"a": one["a"]}, "b")[0], predicted[i], rtol=1e-5, atol=1e-5
        )
    # float32 and float64 give the same codes.
    as32 = {name: block.astype(np.float32) for name, block in X.items()}
    np.testing.assert_array_equal(ae.transform(as32), codes)
    # An absent key and all-NaN rows give the same codes.
    nan_b = X["b"].copy()
    nan_b[:] = np.nan
    np.testing.assert_allclose(ae.transform({"a": X["a"], "b": nan_b}), ae.transform({"a": X["a"]}))
    # Some rows lacking b: those rows are coded from a alone.
    lacking = missing[:n]
    if lacking.any():
        partial = X["b"].copy()
        partial[lacking] = np.nan
        mixed = ae.transform({"a": X["a"], "b": partial})
        alone = ae.transform({"a": X["a"][lacking]})
        np.testing.assert_allclose(mixed[lacking], alone, rtol=1e-5, atol=1e-6)
    # Copies give the same outputs.
    for twin in (pickle.loads(pickle.dumps(ae)), copy.deepcopy(ae)):
        np.testing.assert_array_equal(twin.transform(X), codes)
        np.testing.assert_array_equal(twin.inverse_transform(codes)["a"], rebuilt["a"])


def test_copies_refit_and_threads_give_the_same_results(fitted_fusion):
    ae = fitted_fusion
    rng = np.random.default_rng(6)
    train = {"a": rng.normal(size=(40, 4)), "b": rng.normal(size=(40, 3))}
    X = {"a": rng.normal(size=(25, 4)), "b": rng.normal(size=(25, 3))}
    # Fitting twice with the same seed, or a clone, gives identical codes.
    again = clone(ae).fit(train)
    twice = clone(ae).fit(train)
    np.testing.assert_array_equal(again.transform(X), twice.transform(X))
    serial = {
        "transform": again.transform(X),
        "predict": again.predict_modality({"a": X["a"]}, "b"),
        "inverse": again.inverse_transform(again.transform(X))["b"],
        "score": again.score(X),
    }
    calls = {
        "transform": lambda: again.transform(X),
        "predict": lambda: again.predict_modality({"a": X["a"]}, "b"),
        "inverse": lambda: again.inverse_transform(serial["transform"])["b"],
        "score": lambda: again.score(X),
    }
    results, errors = {}, []

    def run(name):
        try:
            for _ in range(5):
                results[name] = calls[name]()
        except Exception as error:  # reported below, with the thread's name
            errors.append((name, error))

    threads = [threading.Thread(target=run, args=(name,)) for name in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for name, value in serial.items():
        np.testing.assert_array_equal(results[name], value)


def test_torch_tensors_in_every_dtype():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(12, 3))
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int32):
        X = {"a": torch.from_numpy(a).to(dtype), "b": torch.from_numpy(a[:, :2] > 0)}
        ae = MultimodalAutoencoder(**TINY)
        if refused_naming(lambda: ae.fit(X), ["a", "b"]) is not None:
            check_fitted(ae, X, 12)
