"""Sphinx configuration for landscapes."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
# The tutorial's kernel is a separate process: it imports this checkout too, not another
# installed copy.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [os.path.abspath("..")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)

project = "landscapes"
author = "landscapes developers"
copyright = "2026, landscapes developers"

from landscapes import __version__ as release  # noqa: E402

version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
]

# The tutorial (tutorial.md, a MyST text notebook) runs at every build, and a cell that
# raises fails the build; it needs no network and takes seconds.
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 300

autosummary_generate = True
autodoc_typehints = "none"
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Intersphinx needs the network, which the build machines do not have.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}

templates_path: list[str] = []
# myst-nb reads Markdown as pages: the findings.md files that reproduce writes beside its
# outputs (the pages show findings.csv instead) are not pages.
exclude_patterns = ["_build", "jupyter_execute", "reproductions/**/*.md"]
html_theme = "alabaster"
html_static_path: list[str] = []
nitpicky = False
