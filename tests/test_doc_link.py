"""The HTML repr's documentation link, and the docs' links to other projects."""

import configparser
import importlib
import importlib.util
import inspect
import pkgutil
import re
from pathlib import Path

import pytest
from sklearn.base import BaseEstimator
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skmmae
from skmmae import MultimodalAutoencoder
from skmmae._doc_link import DOCS_URL
from skmmae.modalities import Image

ROOT = Path(__file__).resolve().parents[1]


def documented_pages():
    """Every page the API reference generates: its autosummary entries, by full name."""
    pages, module = set(), None
    for line in (ROOT / "docs" / "api.rst").read_text().splitlines():
        if match := re.match(r"\.\. currentmodule:: (\S+)", line):
            module = match.group(1)
        elif re.fullmatch(r"   [A-Za-z_]\w*", line):
            pages.add(f"{module}.{line.strip()}")
    return pages


def public_estimator_classes():
    """Every sklearn-style class that skmmae's public modules offer."""
    found = {MultimodalAutoencoder}
    for info in pkgutil.iter_modules(skmmae.__path__):
        if info.name.startswith("_") or info.name == "demo":
            continue
        module = importlib.import_module(f"skmmae.{info.name}")
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseEstimator)
                and value.__module__.startswith("skmmae")
                and not name.startswith("_")
            ):
                found.add(value)
    return sorted(found, key=lambda cls: cls.__qualname__)


@pytest.mark.parametrize("cls", public_estimator_classes(), ids=lambda cls: cls.__qualname__)
def test_every_public_estimator_links_to_a_page_the_docs_build(cls):
    link = cls.__new__(cls)._get_doc_link()  # no parameters needed for the link
    assert link.startswith(DOCS_URL + "generated/")
    page = link.removeprefix(DOCS_URL + "generated/").removesuffix(".html")
    assert page in documented_pages()


def test_the_html_repr_shows_the_link():
    model = MultimodalAutoencoder(modalities={"img": Image()})
    html = make_pipeline(StandardScaler(), model)._repr_html_()
    assert f'href="{DOCS_URL}generated/skmmae.MultimodalAutoencoder.html"' in html
    # sklearn's own parts keep their links to sklearn's docs.
    assert "sklearn.preprocessing.StandardScaler.html" in html


def test_a_subclass_defined_elsewhere_has_no_link():
    class MyImage(Image):
        pass

    MyImage.__module__ = "mypackage.kinds"
    assert MyImage()._get_doc_link() == ""


def test_the_package_metadata_names_the_same_documentation():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = config["metadata"]["project_urls"].strip().splitlines()
    urls = {key.strip(): url.strip() for key, url in (line.split("=", 1) for line in lines)}
    assert urls["Documentation"] == DOCS_URL


# --- intersphinx: the shipped inventories the docs read without network ----


def test_the_shipped_inventories_are_what_the_tool_writes():
    spec = importlib.util.spec_from_file_location(
        "make_inventories", ROOT / "tools" / "make_inventories.py"
    )
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    written = {project: tool.inventory_bytes(project) for project in tool.PROJECTS}
    shipped = {
        path.stem: path.read_bytes() for path in (ROOT / "docs" / "_inventories").glob("*.inv")
    }
    assert written == shipped


def test_a_page_built_offline_links_to_each_project(tmp_path):
    """Build one page with the docs' intersphinx settings and no network."""
    sphinx_cmd = pytest.importorskip("sphinx.cmd.build")
    source = tmp_path / "src"
    (source / "_inventories").mkdir(parents=True)
    for inventory in (ROOT / "docs" / "_inventories").glob("*.inv"):
        (source / "_inventories" / inventory.name).write_bytes(inventory.read_bytes())
    conf = (ROOT / "docs" / "conf.py").read_text()
    settings = re.search(r"_LINKED_PROJECTS = \{.*?\nintersphinx_timeout = \d+\n", conf, re.S)
    (source / "conf.py").write_text(
        'extensions = ["sphinx.ext.intersphinx"]\n'
        + settings.group(0)
        # A closed local port stands for the published inventories out of reach.
        + "intersphinx_mapping = {name: (url, tuple('http://127.0.0.1:9/objects.inv' "
        "if place is None else place for place in places)) "
        "for name, (url, places) in intersphinx_mapping.items()}\n"
    )
    (source / "index.rst").write_text(
        "Links\n=====\n\n"
        ":class:`sklearn.pipeline.Pipeline`, :class:`skorch.net.NeuralNet`, "
        ":class:`torch.nn.Module`, :class:`numpy.ndarray`, :class:`pandas.DataFrame`\n"
    )
    out = tmp_path / "out"
    status = sphinx_cmd.build_main(["-W", "-q", "-b", "html", str(source), str(out)])
    assert status == 0
    html = (out / "index.html").read_text()
    for link in (
        "https://scikit-learn.org/stable/modules/generated/sklearn.pipeline.Pipeline.html"
        "#sklearn.pipeline.Pipeline",
        "https://skorch.readthedocs.io/en/stable/net.html#skorch.net.NeuralNet",
        "https://docs.pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module",
        "https://numpy.org/doc/stable/reference/generated/numpy.ndarray.html#numpy.ndarray",
        "https://pandas.pydata.org/docs/reference/api/pandas.DataFrame.html#pandas.DataFrame",
    ):
        assert f'href="{link}"' in html
