"""Checkpoints of the goodwill-loss Monte Carlo (sim.checkpoint): a killed run resumes to
exactly the uninterrupted result, and a checkpoint of other inputs is not reused."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from models import CheckpointWarning, ResponsePath
from sim import load_config
from sim.config import ProjectionSettings
from sim.projection import project_goodwill
from tests.conftest import PATH, ROOT, assert_identical, config_with, response

RESUME_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from models import ResponsePath
    from sim import load_config, run
    from sim.config import ProjectionSettings
    from sim.projection import project_goodwill

    config = load_config(sys.argv[1])
    settings = ProjectionSettings(
        intensities=[0.25 * i for i in range(20)],
        n_draws=3000,
        n_weeks=52,
        block_size=10,
        market_uncertainty={"draws": "prior"},  # more draws than the posterior's samples
    )
    config = config.model_copy(update={"projection": settings})
    path = ResponsePath(np.array(sys.argv[3].split(","), dtype=float), np.eye(12) * 0.0016)
    project_goodwill(config, path, checkpoint=sys.argv[2])
    """
)


def test_a_killed_run_resumes_to_exactly_the_uninterrupted_result(tmp_path, caplog):
    checkpoint = tmp_path / "checkpoint"
    mean = ",".join(repr(float(x)) for x in PATH)
    config_path = ROOT / "configs" / "quick.toml"
    process = subprocess.Popen(
        [sys.executable, "-c", RESUME_SCRIPT, str(config_path), str(checkpoint), mean]
    )
    deadline = time.monotonic() + 120
    while len(list(checkpoint.glob("block-*.npz"))) < 5:
        assert process.poll() is None, "the projection ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = len(list(checkpoint.glob("block-*.npz")))
    assert 5 <= finished < 300

    config = load_config(config_path)
    settings = ProjectionSettings(
        intensities=[0.25 * i for i in range(20)],
        n_draws=3000,
        n_weeks=52,
        block_size=10,
        market_uncertainty={"draws": "prior"},  # more draws than the posterior's samples
    )
    config = config.model_copy(update={"projection": settings})
    path = ResponsePath(PATH, np.eye(12) * 0.0016)
    with caplog.at_level(logging.INFO, logger="sim.executors"):
        resumed = project_goodwill(config, path, checkpoint=checkpoint)
    assert f"resumed {finished} of 300 blocks" in caplog.text
    assert_identical(resumed, project_goodwill(config, path))


def test_a_checkpoint_of_other_inputs_is_not_reused(tmp_path):
    checkpoint = tmp_path / "checkpoint"
    project_goodwill(config_with(), response(), checkpoint=checkpoint)
    with pytest.warns(CheckpointWarning, match="checkpoint.*other inputs"):
        other = project_goodwill(config_with(), response(scale=0.5), checkpoint=checkpoint)
    assert_identical(other, project_goodwill(config_with(), response(scale=0.5)))
