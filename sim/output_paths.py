"""Where goodwill may write: output paths expanded, resolved and checked before any work.

:func:`output_path` is the one check of every path a command writes to (``output.directory``,
``goodwill fit --out``, ``goodwill figures --output``, ``goodwill simulate --out``): ``~`` is
expanded, an empty path is refused, and so are the system's directories (``/``, ``/etc``,
``/usr``, ...), a home directory itself, and the folders of goodwill's own repository (its
root, whose ``figures/`` holds the figures README shows, and its source, config and test
folders) when goodwill runs from a clone. The one exception is ``goodwill figures --output
figures``, which regenerates README's figures in that folder (claimed like any other, so only
files goodwill wrote there are replaced or removed). Relative paths stay relative (to the
working directory), so a stored config stays portable.
"""

from __future__ import annotations

import os
from pathlib import Path

SYSTEM_TREES = tuple(
    Path(p)
    for p in (
        "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
        "/run", "/sbin", "/sys", "/usr", "/var/lib", "/var/log", "/var/cache", "/var/spool",
        "/var/mail", "/var/backups",
    )
)  # fmt: skip
"""System directories goodwill never writes in, nor anywhere below them."""

SYSTEM_FOLDERS = tuple(Path(p) for p in ("/", "/home", "/tmp", "/var", "/mnt", "/media", "/opt"))
"""Directories goodwill never writes in itself (below them is allowed: ``/tmp/run``)."""

REPOSITORY = Path(__file__).resolve().parents[1]
"""The folder holding the ``sim`` package: goodwill's repository in a clone."""

REPOSITORY_FOLDERS = ("figures", "configs", "sim", "models", "tests", "benchmarks", ".git", ".ci")
"""The repository's own folders (refused, and everything below them, in a clone)."""


def _is_clone(root: Path) -> bool:
    pyproject = root / "pyproject.toml"
    return pyproject.is_file() and 'name = "goodwill"' in pyproject.read_text(encoding="utf-8")


def refusal(
    resolved: Path, repository: Path = REPOSITORY, *, readme_figures: bool = False
) -> str | None:
    """Why goodwill may not write to an absolute, resolved path, or None if it may
    (``readme_figures``: the repository's own ``figures/`` folder itself is allowed)."""
    if resolved in SYSTEM_FOLDERS or resolved == Path.home():
        return "a system or home directory itself; name a folder inside it"
    for tree in SYSTEM_TREES:
        if resolved == tree or tree in resolved.parents:
            return f"inside the system directory {tree}"
    if _is_clone(repository):
        if readme_figures and resolved == repository / "figures":
            return None
        if resolved == repository:
            return "goodwill's repository itself (its figures/ holds README's figures)"
        for name in REPOSITORY_FOLDERS:
            folder = repository / name
            if resolved == folder or folder in resolved.parents:
                return f"inside goodwill's own {name}/ folder"
    return None


def output_path(value: str | Path, key: str, *, readme_figures: bool = False) -> Path:
    """An output path, ``~`` expanded, checked before any computation.

    Parameters
    ----------
    value : str or pathlib.Path
        The path as given (relative to the working directory, or absolute).
    key : str
        The config key or option it came from, named in the error.
    readme_figures : bool
        Allow the repository's own ``figures/`` folder (``goodwill figures --output``).

    Returns
    -------
    pathlib.Path
        The path with ``~`` expanded (relative paths stay relative).

    Raises
    ------
    ValueError
        If the path is empty or resolves to a place goodwill does not write (:func:`refusal`).

    Examples
    --------
    >>> output_path("runs/quick", "output.directory")
    PosixPath('runs/quick')
    >>> output_path("/etc/goodwill", "output.directory")
    Traceback (most recent call last):
    ...
    ValueError: output.directory = '/etc/goodwill': inside the system directory /etc
    """
    text = str(value)
    if not text.strip():
        raise ValueError(f"{key} = {text!r}: expected a path, got an empty one")
    path = Path(os.path.expanduser(text))
    resolved = path.resolve()
    reason = refusal(resolved, readme_figures=readme_figures)
    if reason is not None:
        shown = "" if str(resolved) == text else f" (resolves to {resolved})"
        raise ValueError(f"{key} = {text!r}{shown}: {reason}")
    return path
