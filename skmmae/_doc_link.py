"""The "?" link of an estimator's HTML repr, to its page of the API reference.

scikit-learn draws an estimator in a notebook with a link to its
documentation, and lets other packages point that link at their own pages
through three class attributes (``_doc_link_module``, ``_doc_link_template``
and ``_doc_link_url_param_generator``). Every skmmae estimator, option and
modality gets its link from :class:`DocLinked`.
"""

import itertools

#: Where the documentation is published: the HTML that ``make docs`` builds.
DOCS_URL = "https://skmmae.readthedocs.io/en/stable/"


def documented_name(cls):
    """The full name under which the API reference documents a class.

    That is ``skmmae.Name`` for what the package's top level exports, and
    otherwise the class's public module (its module path up to the first
    private part) and name: ``skmmae.modalities.Image`` for a class that
    lives in ``skmmae.modalities._image``.

    Parameters
    ----------
    cls : type
        A class of skmmae.

    Returns
    -------
    str
        The name, which is also the name of its page under ``generated/``.

    Examples
    --------
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.modalities import Image
    >>> documented_name(MultimodalAutoencoder), documented_name(Image)
    ('skmmae.MultimodalAutoencoder', 'skmmae.modalities.Image')
    """
    import skmmae

    if getattr(skmmae, cls.__name__, None) is cls:
        return f"skmmae.{cls.__name__}"
    public = itertools.takewhile(lambda part: not part.startswith("_"), cls.__module__.split("."))
    return f"{'.'.join(public)}.{cls.__qualname__}"


class DocLinked:
    """Mixin that links an estimator's HTML repr to its API page, sklearn's way.

    Put it before :class:`~sklearn.base.BaseEstimator` among the bases.
    A subclass defined outside skmmae gets no link, as in sklearn.

    Examples
    --------
    >>> from skmmae.options import EarlyStop
    >>> EarlyStop()._get_doc_link()
    'https://skmmae.readthedocs.io/en/stable/generated/skmmae.options.EarlyStop.html'
    """

    _doc_link_module = "skmmae"
    _doc_link_template = DOCS_URL + "generated/{page}.html"

    def _doc_link_url_param_generator(self):
        return {"page": documented_name(type(self))}
