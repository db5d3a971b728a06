"""Rules for collecting the package's and the docs' doctests (the root conftest).

The scverse bridge's examples build AnnData and MuData objects; where
``anndata`` or ``mudata`` is not installed (the main test environment:
they need pandas < 3 on Python 3.11), they are left out, and
``make test-scverse`` runs them in an environment that has both.
"""

import importlib.util

collect_ignore = []
if any(importlib.util.find_spec(name) is None for name in ("anndata", "mudata")):
    collect_ignore.append("skmmae/io.py")
