"""A ``ModuleDict`` keyed by modality name, where any string is a valid name.

torch refuses some strings as submodule names: the empty string, names with
a dot, and names of existing attributes such as ``"to"``, ``"type"`` or
``"training"``. A user's modality (a column group, a sensor) may well be
called ``"type"``, so the model never uses a modality name as a submodule
name directly: :class:`ModalityDict` stores each module under
:func:`module_key` of its name, a one-to-one escape that torch accepts, and
shows the names themselves to everything that reads it.
"""

import re

from torch import nn

__all__ = ["ModalityDict", "module_key", "modality_name"]

# A prefix no torch attribute starts with (a colon is not valid in Python
# names), then the name with "%" and "." percent-escaped.
_PREFIX = "m:"
_ESCAPED = re.compile("%(25|2E)")
_UNESCAPE = {"25": "%", "2E": "."}


def module_key(name):
    """The submodule name under which the module of modality ``name`` is stored.

    Parameters
    ----------
    name : str
        Any string.

    Returns
    -------
    str
        A name torch accepts, different for every ``name``.

    Examples
    --------
    >>> from skmmae._modality_dict import module_key, modality_name
    >>> module_key("a.b"), module_key("")
    ('m:a%2Eb', 'm:')
    >>> modality_name(module_key("50%.x"))
    '50%.x'
    """
    return _PREFIX + name.replace("%", "%25").replace(".", "%2E")


def modality_name(key):
    """The modality name of the submodule name ``key`` (inverse of :func:`module_key`)."""
    return _ESCAPED.sub(lambda match: _UNESCAPE[match.group(1)], key[len(_PREFIX) :])


class ModalityDict(nn.ModuleDict):
    """``nn.ModuleDict`` whose keys are modality names: any string.

    Reads and writes by name (``d[name]``, ``name in d``, iteration,
    ``keys``, ``items``) behave as a ``ModuleDict``'s; the state dict and
    ``named_modules`` show the escaped keys of :func:`module_key`.

    Parameters
    ----------
    modules : mapping of str -> Module, default=None
        Initial modules, by modality name.

    Examples
    --------
    >>> from torch import nn
    >>> from skmmae._modality_dict import ModalityDict
    >>> d = ModalityDict({"type": nn.Linear(2, 1), "a.b": nn.Linear(2, 1)})
    >>> list(d), "type" in d, d["a.b"].out_features
    (['type', 'a.b'], True, 1)
    """

    def __getitem__(self, name):
        return self._modules[module_key(name)]

    def __setitem__(self, name, module):
        self.add_module(module_key(name), module)

    def __delitem__(self, name):
        del self._modules[module_key(name)]

    def __contains__(self, name):
        return isinstance(name, str) and module_key(name) in self._modules

    def __iter__(self):
        return (modality_name(key) for key in self._modules)

    def keys(self):
        return list(self)

    def items(self):
        return [(modality_name(key), module) for key, module in self._modules.items()]

    def pop(self, name):
        module = self[name]
        del self[name]
        return module
