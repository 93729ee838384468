"""Checkpoints of a long Monte Carlo: finished blocks saved, resumed without redoing them.

A checkpoint directory holds each finished block as ``block-NNNNNN.npz``, and each block
carries the :func:`fingerprint` of the inputs that computed it (the directory's
``fingerprint`` file says which inputs it serves). A run started again with the same inputs
loads the finished blocks and computes only the missing ones, so a resumed result equals an
uninterrupted one. Nothing else is ever reused: a directory left by other inputs is emptied,
and a block that does not load or carries another fingerprint is deleted and computed again,
each with a :class:`~models.exceptions.CheckpointWarning` naming the file. The run directory's
lock (:mod:`sim.owned_directory`) keeps a second process out while a checkpoint is in use.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np

from models.exceptions import CheckpointWarning
from models.market.loss_draws import ProjectionInputs
from sim.store import atomic_path, remove_stale_temporaries

BLOCK = re.compile(r"^block-\d{6}\.npz$")
"""The name of a finished block's file."""

STAMP = "fingerprint"
"""The file naming the inputs a checkpoint directory serves."""

FINGERPRINT_ARRAY = "__fingerprint__"
"""The array of a block file holding its inputs' fingerprint."""


def fingerprint(inputs: ProjectionInputs, version: str) -> str:
    """A hash of every input: a checkpoint is reused only by the same computation."""
    digest = hashlib.sha256()
    text = json.dumps(
        {
            "seed": inputs.seed,
            "intensities": inputs.intensities.tolist(),
            "openings": inputs.openings.tolist(),
            "n_weeks": inputs.n_weeks,
            "n_draws": inputs.n_draws,
            "block_size": inputs.block_size,
            "market": inputs.market.model_dump(),
            "platform": inputs.platform.model_dump(),
            "priors": inputs.priors,
            "version": version,
        },
        sort_keys=True,
    )
    digest.update(text.encode())
    for name, values in sorted(inputs.market_draws.items()):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(values).tobytes())
    digest.update(inputs.response.mean.tobytes())
    digest.update(inputs.response.cov.tobytes())
    return digest.hexdigest()


class Checkpoint:
    """Finished blocks saved as ``block-NNNNNN.npz`` under a directory, each with the
    inputs' fingerprint; a directory of other inputs is emptied first."""

    def __init__(self, directory: Path, fingerprint: str) -> None:
        self.directory = Path(directory)
        self.fingerprint = fingerprint
        stamp = self.directory / STAMP
        if self.directory.exists():
            remove_stale_temporaries(self.directory)
            served = stamp.read_text().strip() if stamp.is_file() else None
            if served != fingerprint:
                blocks = [p for p in self.directory.iterdir() if BLOCK.match(p.name)]
                if blocks:
                    warnings.warn(
                        f"{self.directory}: {len(blocks)} finished block(s) of other inputs (a "
                        "changed config, seed, response or version) discarded; starting afresh",
                        CheckpointWarning,
                        stacklevel=2,
                    )
                self.remove()
        self.directory.mkdir(parents=True, exist_ok=True)
        if not stamp.is_file():
            with atomic_path(stamp) as tmp:
                tmp.write_text(fingerprint + "\n")

    def path(self, block: int) -> Path:
        return self.directory / f"block-{block:06d}.npz"

    def load_finished(self, n_blocks: int) -> dict[int, dict[str, np.ndarray]]:
        """The finished blocks' arrays by block; damaged blocks and blocks of other inputs
        are deleted (with a warning), to be computed again."""
        finished = {}
        for block in range(n_blocks):
            if self.path(block).is_file():
                arrays = self._load(block)
                if arrays is not None:
                    finished[block] = arrays
        return finished

    def _load(self, block: int) -> dict[str, np.ndarray] | None:
        path = self.path(block)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            problem = f"damaged ({' '.join(str(exc).split())[:120]})"
        else:
            stamp = arrays.pop(FINGERPRINT_ARRAY, None)
            if stamp is not None and str(stamp) == self.fingerprint:
                return arrays
            problem = "of other inputs"
        warnings.warn(
            f"{path}: checkpoint block {problem}; discarded and computed again",
            CheckpointWarning,
            stacklevel=3,
        )
        path.unlink(missing_ok=True)
        return None

    def save(self, block: int, arrays: dict[str, np.ndarray]) -> None:
        """Save a finished block atomically, with the inputs' fingerprint."""
        stamped = {**arrays, FINGERPRINT_ARRAY: np.array(self.fingerprint)}
        with atomic_path(self.path(block)) as tmp, tmp.open("wb") as handle:
            np.savez(handle, **stamped)

    def remove(self) -> None:
        """Delete the checkpoint (:func:`remove_checkpoint`)."""
        remove_checkpoint(self.directory)


def remove_checkpoint(directory: str | Path) -> None:
    """Delete a checkpoint's own files (blocks, fingerprint, temporaries) and then the
    directory if it is empty; nothing else in it is touched."""
    directory = Path(directory)
    if not directory.is_dir():
        return
    for path in directory.iterdir():
        if BLOCK.match(path.name) or path.name == STAMP:
            path.unlink(missing_ok=True)
    remove_stale_temporaries(directory)
    if not any(directory.iterdir()):
        directory.rmdir()
