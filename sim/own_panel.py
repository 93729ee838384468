"""A panel of your own in the main job (``[data]``): read it, check it against the estimators'
designs, describe it, and record which file it was.

The run's manifest records the file by path, size and SHA-256, so a later reader can tell
whether the panel a run was made from has changed since.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from sim.estimation_settings import EstimationSettings
from sim.fit import read_panel


def read_own_panel(path: Path, settings: EstimationSettings) -> pd.DataFrame:
    """Read ``[data] panel``'s columns and check every estimator's design against its periods.

    Raises
    ------
    FileNotFoundError, ValueError
        If the file is missing or not Parquet, lacks a column, or an estimator's window or
        summed event times do not fit its periods; the message names the file, column or key.
    """
    panel = read_panel(path, settings)
    n_periods = int(panel[settings.time].nunique())
    for name in settings.estimators:
        try:
            settings.options(name).check_design(
                settings.cumulative, n_periods, f"estimation.{name}"
            )
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    return panel


def describe_own_panel(panel: pd.DataFrame, settings: EstimationSettings, path: Path) -> str:
    """A short plain-text summary of a panel of one's own (no truth: nothing was simulated)."""
    units = panel[settings.unit]
    n_units, n_periods = int(units.nunique()), int(panel[settings.time].nunique())
    balance = "" if len(panel) == n_units * n_periods else " (unbalanced)"
    cohort = pd.to_numeric(panel[settings.cohort], errors="coerce").to_numpy(dtype=float)
    treated_rows = np.isfinite(cohort)
    n_treated = int(units[treated_rows].nunique())
    lines = [
        f"panel: {path}: {n_units:,} units x {n_periods} periods = {len(panel):,} rows"
        f"{balance}; mean {settings.outcome} {panel[settings.outcome].mean():.1f}",
        f"treated units: {n_treated:,} ({n_treated / n_units:.1%}), first treated in periods "
        + (
            f"{np.nanmin(cohort[treated_rows]):g} to {np.nanmax(cohort[treated_rows]):g}"
            if n_treated
            else "none"
        ),
    ]
    if settings.intensity is not None and n_treated:
        dose = panel.loc[treated_rows].groupby(units[treated_rows], observed=True)[
            settings.intensity
        ]
        lines[-1] += f"; mean {settings.intensity} {dose.first().mean():.1f}"
    return "\n".join(lines)


def own_panel_record(panel: pd.DataFrame, settings: EstimationSettings, path: Path) -> dict:
    """What the manifest records of the panel: its file (path, bytes, SHA-256) and shape."""
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return {
        "panel": str(path),
        "bytes": path.stat().st_size,
        "sha256": digest,
        "rows": len(panel),
        "units": int(panel[settings.unit].nunique()),
        "periods": int(panel[settings.time].nunique()),
    }
