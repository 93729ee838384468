"""Module paths of goodwill 0.1 that moved, importable for one more release with a warning.

goodwill 0.2 gave each idea one home (``models.estimation``, ``models.consumer``,
``models.market``; ``sim.projection``, ``sim.fit``, ``sim.jobs``, ...). A script that still
imports a name from an old module path (``from models.goodwill import damages``) gets it, with a
:class:`~models.exceptions.GoodwillDeprecationWarning` that names the new place; the public
names are importable from ``models`` and ``sim`` themselves, which is where to import them.
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings
from collections.abc import Mapping

from models.exceptions import GoodwillDeprecationWarning


class _MovedModule(types.ModuleType):
    """Stands at an old module path and hands out the names of the modules that replace it."""

    def __init__(self, name: str, targets: tuple[str, ...]) -> None:
        super().__init__(name, f"goodwill 0.1's {name}, moved to {', '.join(targets)}")
        self._targets = targets

    def __getattr__(self, attribute: str) -> object:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        for target in self._targets:
            module = importlib.import_module(target)
            if hasattr(module, attribute):
                value = getattr(module, attribute)
                defined = isinstance(value, type | types.FunctionType)
                home = value.__module__ if defined else target
                top = importlib.import_module(home.split(".")[0])
                also = f" (or from {top.__name__})" if hasattr(top, attribute) else ""
                warnings.warn(
                    f"{self.__name__} moved: import {attribute} from {home}{also}; the old "
                    "path goes in the next release",
                    GoodwillDeprecationWarning,
                    stacklevel=2,
                )
                return value
        raise AttributeError(
            f"{self.__name__} (moved to {', '.join(self._targets)}) has no {attribute!r}"
        )


def keep_importable(moved: Mapping[str, tuple[str, ...]]) -> None:
    """Register old module paths (``{"models.goodwill": ("models.market.platform", ...)}``)
    so that imports from them keep working, with a deprecation warning."""
    for old, targets in moved.items():
        package, _, name = old.rpartition(".")
        module = _MovedModule(old, targets)
        sys.modules[old] = module
        setattr(sys.modules[package], name, module)
