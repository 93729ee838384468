"""What a command returns: the text it prints and the files it wrote."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class JobResult:
    """What a command did.

    Attributes
    ----------
    message : str
        What the command prints.
    files : tuple of pathlib.Path
        The files it wrote.
    """

    message: str
    files: tuple[Path, ...] = ()


def wrote(files: Sequence[Path], started: float) -> str:
    """The line that lists the files a command wrote and the time it took."""
    return f"wrote {', '.join(str(f) for f in files)} in {time.perf_counter() - started:.1f} s"
