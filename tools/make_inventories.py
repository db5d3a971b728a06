"""Write the intersphinx inventories the docs fall back on offline.

Run from the repository root::

    python tools/make_inventories.py

The docs link to scikit-learn, skorch, PyTorch, NumPy, pandas and Python
through intersphinx. A build with network reads each project's own ``objects.inv``;
a build without (CI, this project's machines) reads the small inventories
written here into ``docs/_inventories/``, one per project. They hold only the
objects our pages and docstrings name, each at the page where that project
documents it, and the glossary terms and labels that numpydoc links the
types of Parameters sections to (``array-like``, ``bool``, ``sequence``).
Every Python object must import from the installed package, so one that
moved or never existed stops the script rather than becoming a dead link.
"""

import builtins
import importlib
import sys
import zlib
from pathlib import Path

# IterativeImputer imports only once its experimental flag is set.
importlib.import_module("sklearn.experimental.enable_iterative_imputer")

INVENTORY_DIR = Path(__file__).resolve().parents[1] / "docs" / "_inventories"

#: project -> (title, base URL of its stable docs, how a page is named).
#: The rule turns an object's full name into its page; OBJECTS lists the
#: exceptions, documented on a shared page instead.
PROJECTS = {
    "sklearn": ("scikit-learn", "https://scikit-learn.org/stable/", "modules/generated/{}.html"),
    "skorch": ("skorch", "https://skorch.readthedocs.io/en/stable/", None),
    "torch": ("PyTorch", "https://docs.pytorch.org/docs/stable/", "generated/{}.html"),
    "numpy": ("NumPy", "https://numpy.org/doc/stable/", "reference/generated/{}.html"),
    "pandas": ("pandas", "https://pandas.pydata.org/docs/", "reference/api/{}.html"),
    "python": ("Python", "https://docs.python.org/3/", None),
}

#: project -> [(full name, role, page or None for the project's rule)].
#: A ``std:label`` page carries its anchor; a ``std:term`` is in the glossary.
OBJECTS = {
    "sklearn": [
        ("sklearn.base.BaseEstimator", "class", None),
        ("sklearn.base.TransformerMixin", "class", None),
        ("sklearn.base.clone", "function", None),
        ("sklearn.datasets.load_digits", "function", None),
        ("sklearn.decomposition.PCA", "class", None),
        ("sklearn.impute.IterativeImputer", "class", None),
        ("sklearn.impute.KNNImputer", "class", None),
        ("sklearn.impute.SimpleImputer", "class", None),
        ("sklearn.linear_model.LogisticRegression", "class", None),
        ("sklearn.model_selection.GridSearchCV", "class", None),
        ("sklearn.pipeline.Pipeline", "class", None),
        ("sklearn.preprocessing.StandardScaler", "class", None),
        ("sklearn.set_config", "function", None),
    ],
    # skorch documents each module on one page named after it.
    "skorch": [
        ("skorch.net.NeuralNet", "class", "net.html"),
        ("skorch.regressor.NeuralNetRegressor", "class", "regressor.html"),
        ("skorch.callbacks.Callback", "class", "callbacks.html"),
        ("skorch.callbacks.Checkpoint", "class", "callbacks.html"),
        ("skorch.callbacks.EarlyStopping", "class", "callbacks.html"),
        ("skorch.callbacks.ProgressBar", "class", "callbacks.html"),
        ("skorch.dataset.ValidSplit", "class", "dataset.html"),
        ("skorch.helper.SliceDict", "class", "helper.html"),
        ("skorch.history.History", "class", "history.html"),
    ],
    "torch": [
        ("torch.Tensor", "class", "tensors.html"),
        ("torch.device", "class", "tensor_attributes.html"),
        ("torch.dtype", "class", "tensor_attributes.html"),
        ("torch.Generator", "class", None),
        ("torch.compile", "function", None),
        ("torch.inference_mode", "class", None),
        ("torch.set_num_threads", "function", None),
        ("torch.nn.Module", "class", None),
        ("torch.nn.ModuleDict", "class", None),
        ("torch.nn.Dropout", "class", None),
        ("torch.optim.Adam", "class", None),
        ("torch.optim.AdamW", "class", None),
        ("torch.utils.data.DataLoader", "class", "data.html"),
        ("torch.utils.data.Dataset", "class", "data.html"),
    ],
    "numpy": [
        ("numpy.ndarray", "class", None),
        ("numpy.memmap", "class", None),
        ("numpy.load", "function", None),
        ("numpy.random.Generator", "class", "reference/random/generator.html"),
        ("numpy.random.default_rng", "function", "reference/random/generator.html"),
        ("numpy.random.RandomState", "class", "reference/random/legacy.html"),
        ("numpy.inf", "data", "reference/constants.html"),
        ("numpy.nan", "data", "reference/constants.html"),
        ("numpy", "module", "reference/index.html"),
        ("array_like", "std:term", "glossary.html"),
        ("arrays.scalars", "std:label", "reference/arrays.scalars.html#arrays-scalars"),
    ],
    "pandas": [
        ("pandas.DataFrame", "class", None),
        ("pandas.Series", "class", None),
        ("pandas.Categorical", "class", None),
    ],
    "python": [
        ("None", "data", "library/constants.html"),
        ("True", "data", "library/constants.html"),
        ("False", "data", "library/constants.html"),
        ("list", "class", "library/stdtypes.html"),
        ("tuple", "class", "library/stdtypes.html"),
        ("str", "class", "library/stdtypes.html"),
        ("dict", "class", "library/stdtypes.html"),
        ("float", "class", "library/functions.html"),
        ("int", "class", "library/functions.html"),
        ("callable", "function", "library/functions.html"),
        ("contextlib.contextmanager", "function", "library/contextlib.html"),
        ("collections.namedtuple", "function", "library/collections.html"),
        ("iterable", "std:term", "glossary.html"),
        ("sequence", "std:term", "glossary.html"),
        ("generator", "std:term", "glossary.html"),
        ("bltin-boolean-values", "std:label", "library/stdtypes.html#bltin-boolean-values"),
    ],
}

HEADER = (
    "# Sphinx inventory version 2\n"
    "# Project: {title}\n"
    "# Version: stable\n"
    "# The remainder of this file is compressed using zlib.\n"
)


def resolve(name):
    """The object a dotted name stands for, imported from the installed package."""
    if name in ("None", "True", "False") or hasattr(builtins, name):
        return getattr(builtins, name, None)
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            value = getattr(value, attribute)
        return value
    raise ImportError(name)


def inventory_line(project, name, role, page):
    """One entry: ``name domain:role priority page#anchor display-name``."""
    if role == "std:label":  # numpydoc gives each label its title
        return f"{name} std:label -1 {page} -\n"
    if role == "std:term":
        return f"{name} std:term -1 {page}#term-{name} -\n"
    resolve(name)
    page = page or PROJECTS[project][2].format(name)
    anchor = "module-$" if role == "module" else "$"
    return f"{name} py:{role} 1 {page}#{anchor} -\n"


def inventory_lines(project):
    """The inventory's entries, sorted."""
    return sorted(inventory_line(project, *entry) for entry in OBJECTS[project])


def inventory_bytes(project):
    """One project's whole inventory file, as Sphinx writes them."""
    title = PROJECTS[project][0]
    body = "".join(inventory_lines(project)).encode()
    return HEADER.format(title=title).encode() + zlib.compress(body, 9)


def main():
    INVENTORY_DIR.mkdir(exist_ok=True)
    for project in PROJECTS:
        path = INVENTORY_DIR / f"{project}.inv"
        path.write_bytes(inventory_bytes(project))
        print(f"{path}: {len(OBJECTS[project])} objects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
