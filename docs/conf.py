"""Sphinx configuration for the threado documentation."""

from __future__ import annotations

import sys
from pathlib import Path

# Document the checkout this file belongs to, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import threado

project = "threado"
author = "The threado developers"
copyright = "the threado developers"
version = threado.__version__
release = threado.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    # Markdown, for the changelog (CHANGELOG.md, included by changelog.rst).
    "myst_parser",
]

# Google-style docstrings only. "Attributes:" sections become attribute
# entries that can be linked to; api.rst never asks autodoc for those same
# attributes, so nothing is documented twice.
napoleon_google_docstring = True
napoleon_numpy_docstring = False

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []
