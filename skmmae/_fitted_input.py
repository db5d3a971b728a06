"""X as a fitted estimator reads it, and why an output is not finite.

:func:`check_input` validates any subset of the fitted modalities and adds
the presence masks; :func:`inference_data` copies X to the net's device
once, proving it finite there where it can. When an output is not finite,
:func:`explain_nonfinite` finds the modality whose values alone cause it.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from . import _inference
from ._inference import NonFiniteOutput
from ._disk import DiskRows
from ._fitting import n_rows, with_presence
from ._module import PRESENT_SUFFIX
from ._validation import (
    MISSING_SUFFIX,
    check_fitted_modalities,
    check_some_modality,
    extract_presence,
    split_modalities,
)
from ._values import raise_for_rows, take_rows
from .lags import Lags

__all__ = [
    "check_input",
    "check_target",
    "check_variational",
    "explain_nonfinite",
    "explain_nonfinite_codes",
    "explain_nonfinite_loss",
    "explain_nonfinite_prediction",
    "explain_nonfinite_transform",
    "inference_data",
]


def check_input(estimator, X, leave_out=None, unscanned=()):
    """Validated blocks of X (any subset of the fitted modalities) with presence masks.

    The modalities named in ``unscanned`` are not scanned for NaN or
    infinity (see :func:`inference_data`).
    """
    check_is_fitted(estimator)
    data, layout = split_modalities(X, estimator=estimator, reset=False)
    if leave_out is not None:
        dropped = (leave_out, leave_out + MISSING_SUFFIX)
        data = {key: block for key, block in data.items() if key not in dropped}
    data, present = extract_presence(data, layout, fitting=False, unscanned=unscanned)
    data = check_fitted_modalities(
        data, layout, estimator.modalities_, type(estimator).__name__, estimator._layout.feature_names,
        unscanned=unscanned,
    )
    check_some_modality(present, data, estimator.modalities_, n_rows(data))
    return with_presence(data, present)


def check_target(estimator, target):
    """Raise unless ``target`` is a fitted modality that others can predict."""
    check_is_fitted(estimator)
    fitted = list(estimator.modalities_)
    if target not in fitted:
        raise ValueError(
            f"predict_modality: {target!r} is not a fitted modality; the fitted "
            f"modalities are {fitted}."
        )
    if len(fitted) < 2:
        raise ValueError(
            f"predict_modality needs a model of several modalities; this one was "
            f"fitted on {fitted} only."
        )


def check_variational(estimator, call):
    """Raise unless the fitted model is variational, which ``call`` needs."""
    check_is_fitted(estimator)
    if not estimator.net_.module_.variational:
        raise ValueError(
            f"{call} needs a variational model; this {type(estimator).__name__} has "
            "variational=False."
        )


def check_aligned(estimator):
    """``(reference, seconds per reference step or 1)`` of a model fitted with lags; else raise."""
    check_is_fitted(estimator)
    aligner = estimator.net_.module_.aligner
    if aligner is None:
        raise ValueError(
            f"estimate_lags needs a model fitted with lags; this {type(estimator).__name__} "
            "has lags=None. Fit it with lags=True or lags=Lags(...)."
        )
    return aligner.reference, Lags.from_value(estimator.lags).unit(aligner.reference)


def explain_nonfinite_transform(estimator, X, error):
    """Raise the ``ValueError`` for codes of X that are not finite (``error``)."""
    rows = error.rows["code"]
    explain_nonfinite(estimator, X, rows, "transform")
    raise_for_rows("transform: the code of X", "is not finite", rows)


def explain_nonfinite(estimator, X, rows, method, leave_out=None):
    """Raise a ``ValueError`` naming the modality whose values give non-finite outputs.

    Each modality of X is encoded alone on ``rows`` (the offending
    samples); one whose code alone is not finite has values the model
    cannot compute with. Returns when no single modality is to blame.
    """
    data = check_input(estimator, X, leave_out)
    for name in [name for name in data if name in estimator.modalities_]:
        alone = {
            key: take_rows(block, rows)
            for key, block in data.items()
            if key in (name, name + PRESENT_SUFFIX)
        }
        if _encodes_finitely(estimator.net_, alone):
            continue
        magnitude = float(abs(alone[name]).max())  # abs() serves sparse blocks too
        raise_for_rows(
            f"{method}: {estimator._layout.describe(name)}",
            "has values the model cannot compute with",
            rows,
            f"They reach a magnitude of {magnitude:.3g}, so far outside "
            "the training data that float32 overflows inside the network. Check "
            "their units and scale.",
        )


def _encodes_finitely(net, data):
    try:
        _inference.encode(net, data)
    except NonFiniteOutput:
        return False
    return True


def inference_data(estimator, X, leave_out=None):
    """X checked and copied to the net's device once, as a dataset for the net.

    Checking that values are finite reads all of them; on the host that
    can cost more than encoding them on a GPU. So the values of kinds
    whose check only proves them finite (continuous) are proven finite
    where they are copied to anyway: one reduction per block on the
    net's device. Where that fails (a NaN, an infinity, or a row of NaN
    marking a missing modality), X is checked again on the host, which
    finds the missing rows or names the bad values, as in ``fit``.
    """
    check_is_fitted(estimator)
    deferred = [name for name, m in estimator.modalities_.items() if m.finite_check_deferrable]
    dataset = estimator.net_.get_dataset(check_input(estimator, X, leave_out, unscanned=deferred))
    # Blocks on disk are scanned on the host (extract_presence), and each
    # batch is checked as it is read: only the blocks copied are proven here.
    copied = [name for name in deferred if not isinstance(dataset.X.get(name), DiskRows)]
    if not dataset.all_finite(copied):
        del dataset  # free this device copy before the next one is made
        return estimator.net_.get_dataset(check_input(estimator, X, leave_out))
    # No NaN in the deferred blocks; nor, if their sums are finite, in the
    # other kinds that may have missing cells: the model need not look.
    cells = [name for name, m in estimator.modalities_.items() if m.accepts_missing_cells]
    dataset.complete = dataset.all_finite([name for name in cells if name not in deferred])
    return dataset


def explain_nonfinite_codes(estimator, codes, error):
    """Raise the ``ValueError`` for codes whose reconstruction is not finite (``error``)."""
    name, rows = next(iter(error.rows.items()))
    raise_for_rows(
        f"inverse_transform: the reconstruction of {estimator._layout.describe(name)}",
        "is not finite",
        rows,
        f"Those codes (largest magnitude {np.abs(codes[rows]).max():.3g}) lie too "
        "far outside the codes seen in training for the model to decode them "
        "in float32.",
    )


def explain_nonfinite_prediction(estimator, X, target, error):
    """Raise the ``ValueError`` for a prediction of ``target`` that is not finite (``error``)."""
    rows = error.rows[target]
    explain_nonfinite(estimator, X, rows, "predict_modality", leave_out=target)
    raise ValueError(
        f"predict_modality: the prediction of {target!r} is not finite in "
        f"{int(rows.sum())} rows: the code of the other modalities "
        "lies too far outside the training codes for its read-out."
    ) from error


def explain_nonfinite_loss(estimator, X, data, losses):
    """Raise the ``ValueError`` for a score whose loss is not finite."""
    try:
        _inference.encode(estimator.net_, data)
    except NonFiniteOutput as error:
        explain_nonfinite(estimator, X, error.rows["code"], "score")
    names = [estimator._layout.describe(n) for n, v in losses.items() if not np.isfinite(v)]
    raise ValueError(
        f"score: the reconstruction loss of {', '.join(names) or 'X'} is not "
        f"finite: the values lie too far outside the training data for the "
        "model to score them in float32. Check their units and scale."
    )
