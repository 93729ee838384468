"""The installed package's version, recorded in every output."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd


def package_version() -> str:
    """The installed goodwill version (``0+unknown`` when run from an uninstalled tree)."""
    try:
        return version("goodwill")
    except PackageNotFoundError:
        return "0+unknown"


def recorded_versions() -> dict[str, str]:
    """The versions a run's manifest records (of the command that wrote it last)."""
    return {
        "goodwill_version": package_version(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }
