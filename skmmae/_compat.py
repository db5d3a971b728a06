"""The one place where private scikit-learn API is imported.

scikit-learn keeps its declarative parameter validation and the
``_fit_context`` decorator private; if they move, only this module changes.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions

__all__ = ["Interval", "InvalidParameterError", "StrOptions", "_fit_context"]
