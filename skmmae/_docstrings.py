"""Docstring sections that several public names share, written once.

numpydoc wants every parameter described in its own function's docstring,
so a parameter that several functions take (``ax`` of the plots,
``return_X_y`` of the loaders, ...) would be described again and again, and
the copies drift apart. Here each shared description is written once; a
docstring names it on a line of its own as ``%(name)s``, and
:func:`fill_doc` puts the text there at import, indented as that line.
``help()``, Sphinx and doctest all read the filled docstring.
"""

import re

__all__ = ["SECTIONS", "fill_doc"]

SECTIONS = {
    # skmmae.plotting
    "plot_estimator": """\
estimator : MultimodalAutoencoder
    A fitted estimator.""",
    "plot_X": """\
X : dict, SliceDict, DataFrame or array-like
    Data in a form the estimator takes.""",
    "plot_ax": """\
ax : matplotlib Axes, default=None
    Where to draw; a new figure when None.""",
    "plot_ax_scatter": """\
ax : matplotlib Axes, default=None
    Where to draw; a new figure when None.
**scatter_kwargs
    Passed to ``Axes.scatter``.""",
    "plot_returns_axes": """\
Returns
-------
matplotlib Axes""",
    # skmmae.fusion
    "fusion_sizes": """\
in_features : dict of str -> int
    Width of each modality's encoder output.
encoding_dim : int
    Size of the code.""",
    # skmmae.datasets
    "loader_parameters": """\
Parameters
----------
return_X_y : bool, default=False
    Return ``(data, target)`` instead of a Bunch.

Returns
-------
data : :class:`~sklearn.utils.Bunch`
    Dictionary-like object with attributes:

    data : SliceDict""",
    "loader_end": """\
    DESCR : str
        Description, source and attribution.
(data, target) : tuple if ``return_X_y`` is True""",
    # skmmae.modalities
    "modality_fit_parameters": """\
Parameters
----------
X : array-like
    The modality's training values.
label : str, default="X"
    How error messages name this data.""",
    "feature_attributes": """\
Attributes
----------
input_shape_ : tuple of int
    ``(n_features,)``.
n_features_ : int
    Number of features seen in :meth:`fit`.""",
}

_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)%\((?P<name>\w+)\)s[ \t]*$", re.MULTILINE)


def _indented(match):
    section = SECTIONS[match["name"]]
    return "\n".join(match["indent"] + line if line else line for line in section.splitlines())


def fill_doc(obj):
    """Fill the ``%(name)s`` lines of ``obj``'s docstring from :data:`SECTIONS`.

    Parameters
    ----------
    obj : function or class
        Its ``__doc__`` is rewritten in place (left alone when None, as
        under ``python -OO``).

    Returns
    -------
    obj
        The same object, so that this works as a decorator.

    Examples
    --------
    >>> from skmmae._docstrings import fill_doc
    >>> @fill_doc
    ... def draw(ax=None):
    ...     '''Draw.
    ...
    ...     Parameters
    ...     ----------
    ...     %(plot_ax)s
    ...     '''
    >>> print(draw.__doc__.splitlines()[4])
        ax : matplotlib Axes, default=None
    """
    if obj.__doc__:
        obj.__doc__ = _PLACEHOLDER.sub(_indented, obj.__doc__)
    return obj
