"""Real data sets shipped with skmmae (no network needed)."""

from ._mfeat import load_mfeat

__all__ = ["load_mfeat"]
