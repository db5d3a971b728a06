"""Sphinx configuration for the skmmae documentation.

Build from the repository root with
``sphinx-build -W --keep-going -b html docs docs/_build/html``.
No network is needed: there is no intersphinx.
"""

import re

import skmmae

project = "skmmae"
author = "the skmmae developers"
copyright = "the skmmae developers"
version = skmmae.__version__
release = skmmae.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
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
