"""The installed package's version, recorded in every output."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    """The installed goodwill version (``0+unknown`` when run from an uninstalled tree)."""
    try:
        return version("goodwill")
    except PackageNotFoundError:
        return "0+unknown"
