"""Helpers and module-scoped fixtures shared by the figure tests (tests/sim/figures): artists
found by gid, fill_between edges, PNG sizes, and a small run's stored estimates and projection.

Every check reads the artists back (data, labels, gids) and compares them with numbers
computed from the stored files, not with the figure code's own intermediate results. A test
module imports the fixtures it uses (``estimates_fixture``, ``projection_fixture``), which makes
pytest find them under their names ``estimates`` and ``projection``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from sim.rundir import select_estimand


def by_gid(figure: Figure, gid: str) -> list:
    return figure.findobj(lambda artist: artist.get_gid() == gid)


def one(figure: Figure, gid: str):
    found = by_gid(figure, gid)
    assert len(found) == 1, f"{gid}: {len(found)} artists"
    return found[0]


def polygon_y_range(collection: PolyCollection) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edge of a fill_between polygon, sorted by x."""
    vertices = collection.get_paths()[0].vertices
    frame = pd.DataFrame(vertices, columns=["x", "y"]).groupby("x")["y"]
    return frame.min().to_numpy(), frame.max().to_numpy()


def png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[16:24]
    return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")


@pytest.fixture(scope="module", name="estimates")
def estimates_fixture(small_run) -> xr.Dataset:
    """The value-weighted estimates (what the figures draw by default)."""
    return select_estimand(xr.load_dataset(small_run / "estimates.nc"), "value")


@pytest.fixture(scope="module", name="projection")
def projection_fixture(small_run) -> xr.Dataset:
    return xr.load_dataset(small_run / "projection.nc")
