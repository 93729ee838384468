"""The ``[data]`` section: your own panel in place of the simulated one.

With ``[data] panel = "PATH"`` the main job (``goodwill run``) reads that Parquet panel instead
of simulating one, fits ``[estimation]``'s estimators to it (its columns are ``[estimation]``'s
``outcome``, ``unit``, ``time``, ``cohort``, ``intensity`` and ``weights``), projects and
reports; the sections that describe the simulation (``[panel]``, ``[consumer]``,
``[calibration]``) are then not used, and nothing the simulation alone knows (the truth) is
written.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from models.parameters import Parameters


class DataSettings(Parameters):
    """Your own panel for ``goodwill run`` (``[data]``)."""

    panel: Path = Field(
        description="Parquet panel, one row per unit and period (e.g. `goodwill ingest`'s "
        "output), relative to the working directory (~ expanded); its columns are "
        "[estimation]'s"
    )

    @field_validator("panel", mode="before")
    @classmethod
    def _expanded(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            raise ValueError("expected the path of a Parquet panel, got an empty string")
        if isinstance(value, str | Path):  # returned as it came: JSON gives a str
            expanded = Path(value).expanduser()
            return str(expanded) if isinstance(value, str) else expanded
        return value
