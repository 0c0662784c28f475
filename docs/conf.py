"""Sphinx configuration: pydata theme, numpydoc docstrings, MyST pages and notebooks."""

import sketchla

project = "sketchla"
author = "The sketchla developers"
copyright = "2026, The sketchla developers"
version = release = sketchla.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "notebooks/*.py", "**/.ipynb_checkpoints"]
templates_path = []

autosummary_generate = True
autodoc_typehints = "none"
autodoc_default_options = {"members": True, "undoc-members": False}
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

# Notebooks are executed by `make notebooks` (jupytext --sync --execute) before the docs build;
# the docs render the executed .ipynb as it is.
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "colon_fence"]

# No intersphinx: the machines that build the docs have no network access.

html_theme = "pydata_sphinx_theme"
html_title = "sketchla"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
