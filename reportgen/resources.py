"""Where the bundled templates and data live, in a source checkout and in an installed wheel.

In a checkout (editable install) they are the top-level ``templates/`` and ``data/`` folders;
a wheel carries them inside the package as ``reportgen/_bundled/`` (see ``pyproject.toml``).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled_root(name: str) -> Path:
    """The folder holding the bundled ``templates`` or ``data``."""
    installed = _PACKAGE / "_bundled" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name


def bundled_path(name: str, *parts: str) -> Path:
    """A file inside a bundled folder, e.g. ``bundled_path("data", "sample.csv")``."""
    return bundled_root(name).joinpath(*parts)
