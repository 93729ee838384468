"""goodwill 0.1's module paths keep working for one release, each import with a warning."""

from __future__ import annotations

import importlib
import sys

import pytest

import models
import sim
from models.exceptions import GoodwillDeprecationWarning

OLD_IMPORTS = [  # goodwill 0.1 README's imports, and one name from each other moved module
    ("models.goodwill", "damages", models.damages),
    ("models.goodwill", "GoodwillModel", models.GoodwillModel),
    ("models.goodwill", "ResponsePath", models.ResponsePath),
    ("sim.goodwill", "optimal_intensity", sim.optimal_intensity),
    ("sim.goodwill", "projection_summary", sim.projection_summary),
    ("sim.goodwill", "project_goodwill", sim.project_goodwill),
    ("models.eventstudy", "EventStudy", models.EventStudy),
    ("models.did", "CallawaySantAnna", models.CallawaySantAnna),
    ("models.sunab", "AlwaysTreatedWarning", models.AlwaysTreatedWarning),
    ("models.imputation", "ImputationDiD", models.ImputationDiD),
    ("models.results", "EventStudyResults", models.EventStudyResults),
    ("models.truth", "SpendTruth", models.SpendTruth),
    ("models.enforcement", "EnforcementModel", models.EnforcementModel),
    ("sim.pipeline", "run", sim.run),
]


@pytest.mark.parametrize(("module", "name", "expected"), OLD_IMPORTS)
def test_an_old_import_works_and_says_where_the_name_lives_now(module, name, expected):
    old = importlib.import_module(module)
    with pytest.warns(GoodwillDeprecationWarning, match=rf"{module} moved: import {name} from"):
        assert getattr(old, name) is expected


def test_from_import_of_an_old_path_works():
    with pytest.warns(GoodwillDeprecationWarning):
        from models.goodwill import damages
    assert damages is models.damages


def test_an_unknown_name_of_an_old_path_is_refused():
    assert sys.modules["models.goodwill"] is models.goodwill
    with pytest.raises(AttributeError, match=r"models.goodwill \(moved to .*\) has no 'nothing'"):
        _ = models.goodwill.nothing
