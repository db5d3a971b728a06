"""Sphinx configuration for the skmmae documentation.

Build from the repository root with
``sphinx-build -W --keep-going -b html docs docs/_build/html``.
No network is needed: intersphinx reads each linked project's own
inventory when it can reach it, and else the small one shipped in
``docs/_inventories/`` (written by ``tools/make_inventories.py``).
"""

import re

import skmmae
from skmmae._doc_link import DOCS_URL

project = "skmmae"
author = "the skmmae developers"
copyright = "the skmmae developers"
version = skmmae.__version__
release = skmmae.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

# The example gallery: every examples/plot_*.py is run at each build, and
# its printed output and figures shown (docs/auto_examples/, gitignored).
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "write_computation_times": False,
    "matplotlib_animations": False,
}

# Links to the projects skmmae builds on. Each project's published inventory
# comes first; where it cannot be fetched (no network), the shipped one is
# read instead, and Sphinx only notes the failed fetch.
_LINKED_PROJECTS = {
    "sklearn": "https://scikit-learn.org/stable/",
    "skorch": "https://skorch.readthedocs.io/en/stable/",
    "torch": "https://docs.pytorch.org/docs/stable/",
    "numpy": "https://numpy.org/doc/stable/",
    "pandas": "https://pandas.pydata.org/docs/",
    "python": "https://docs.python.org/3/",
}
intersphinx_mapping = {
    name: (url, (None, f"_inventories/{name}.inv")) for name, url in _LINKED_PROJECTS.items()
}
intersphinx_timeout = 10

# Types in numpydoc's Parameters and Returns sections link to their
# project's page; only the names below (and numpydoc's own aliases: bool,
# array-like, ...) are linked, other words stay text. A name aliased to
# itself is written as a role, since numpydoc leaves such a name unlinked.
numpydoc_xref_param_type = True
numpydoc_xref_ignore = "all"
numpydoc_xref_aliases = {
    "ndarray": "numpy.ndarray",
    "DataFrame": "pandas.DataFrame",
    "Series": "pandas.Series",
    "torch.Tensor": ":class:`torch.Tensor`",
    "Tensor": "torch.Tensor",
    "torch.device": ":class:`torch.device`",
    "torch.Generator": ":class:`torch.Generator`",
    "NeuralNet": "skorch.net.NeuralNet",
    "SliceDict": "skorch.helper.SliceDict",
    "Pipeline": "sklearn.pipeline.Pipeline",
}

templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
root_doc = "index"

# autosummary writes one page per API object into docs/generated/ (gitignored).
autosummary_generate = True
autodoc_default_options = {"member-order": "bysource"}

# The class template (_templates/autosummary/class.rst) documents the
# members; numpydoc's member tables would list every method a second time.
numpydoc_show_class_members = False

html_theme = "pydata_sphinx_theme"
html_theme_options = {"navigation_with_keys": False}
html_title = f"skmmae {release}"
# Where the built HTML is published: the estimators' HTML reprs link there.
html_baseurl = DOCS_URL

# Methods inherited from scikit-learn (set_output, get_metadata_routing,
# set_*_request) carry docstrings whose :ref: and :term: roles point at
# labels in scikit-learn's own documentation. Without intersphinx they
# cannot resolve, so in docstrings defined by scikit-learn (and only there)
# they become plain text: the title when one is given, else the label.
_SKLEARN_ROLE = re.compile(r":(?:ref|term):`([^`<]+?)(?:\s*<[^`>]*>)?`")


def _unlink_sklearn_roles(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", None) or ""
    if module == "sklearn" or module.startswith("sklearn."):
        lines[:] = [_SKLEARN_ROLE.sub(r"\1", line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _unlink_sklearn_roles)
