"""Checkpoints of a long Monte Carlo: finished blocks saved, resumed without redoing them.

A checkpoint directory holds each finished block as ``block-NNNNNN.npz`` and the
:func:`fingerprint` of the inputs that computed it. A run started again with the same inputs
loads the finished blocks and computes only the missing ones; a directory left by other inputs
is cleared first, so a resumed result equals an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import numpy as np

from models.market.loss_draws import ProjectionInputs
from sim.store import atomic_path

log = logging.getLogger(__name__)


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
    """Finished blocks saved as ``block-NNNNNN.npz`` under a directory, with the inputs'
    fingerprint; a directory with another fingerprint is cleared first."""

    def __init__(self, directory: Path, fingerprint: str) -> None:
        self.directory = directory
        stamp = directory / "fingerprint"
        if directory.exists() and (not stamp.is_file() or stamp.read_text().strip() != fingerprint):
            log.info("%s: checkpoint of other inputs, starting afresh", directory)
            shutil.rmtree(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if not stamp.is_file():
            with atomic_path(stamp) as tmp:
                tmp.write_text(fingerprint + "\n")

    def path(self, block: int) -> Path:
        return self.directory / f"block-{block:06d}.npz"

    def finished(self, n_blocks: int) -> list[int]:
        return [b for b in range(n_blocks) if self.path(b).is_file()]

    def load(self, block: int) -> dict[str, np.ndarray]:
        with np.load(self.path(block)) as data:
            return {name: data[name] for name in data.files}

    def save(self, block: int, arrays: dict[str, np.ndarray]) -> None:
        with atomic_path(self.path(block)) as tmp, tmp.open("wb") as handle:
            np.savez(handle, **arrays)
