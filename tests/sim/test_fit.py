"""The estimation stage of a run and the ``goodwill fit`` command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from models import CallawaySantAnna, EventStudy, value_weighted
from sim import load_config
from sim.cli import main
from sim.config import ConfigError
from sim.jobs import run
from tests.conftest import ROOT, TINY


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A run of the quick config with 1,500 consumers, and its results."""
    directory = tmp_path_factory.mktemp("tiny")
    text = (ROOT / "configs" / "quick.toml").read_text()
    text = text.replace('directory = "runs/quick"', f'directory = "{directory}/run"')
    for old, new in TINY.items():
        text = text.replace(old, new)
    config_path = directory / "config.toml"
    config_path.write_text(text)
    return config_path, run(load_config(config_path), progress=False)


def test_run_fits_the_configured_estimators_and_stores_them(tiny_run):
    config_path, result = tiny_run
    settings = load_config(config_path).estimation
    assert list(result.estimates) == ["intensity", "value"]
    assert all(list(fits) == settings.estimators for fits in result.estimates.values())
    assert settings.estimators == ["twfe", "callaway_santanna", "sun_abraham", "imputation"]
    panel = pd.read_parquet(result.directory / "panel.parquet")
    direct = EventStudy(
        panel, settings.outcome, settings.unit, settings.time, settings.cohort,
        window=settings.twfe.window, ref=settings.twfe.ref, intensity=settings.intensity,
    ).fit()  # fmt: skip
    pd.testing.assert_series_equal(result.estimates["intensity"]["twfe"].params, direct.params)
    robust = CallawaySantAnna(
        panel, settings.outcome, settings.unit, settings.time, settings.cohort,
        intensity=settings.intensity,
    ).fit().aggregate("dynamic", uniform_band=True, seed=load_config(config_path).seed)  # fmt: skip
    intensity = result.estimates["intensity"]
    pd.testing.assert_series_equal(intensity["callaway_santanna"].params, robust.params)

    tidy = pd.read_csv(result.directory / "estimates.csv")
    assert tidy["estimand"].unique().tolist() == ["intensity", "value"]
    twfe = tidy.query("estimator == 'twfe' and estimand == 'intensity'").set_index("event_time")
    assert twfe.index.tolist() == list(range(-4, 13))
    assert twfe.loc[-1, "estimate"] == 0 and np.isnan(twfe.loc[-1, "se"])
    effects = direct.event_time_effects()
    np.testing.assert_allclose(twfe.loc[effects.index, "estimate"], effects["estimate"])
    truth = result.truth.event_time_effects(per_yuan=True, weighting="intensity")["estimate"]
    np.testing.assert_allclose(twfe.loc[0:11, "truth"], truth.loc[0:11])
    assert twfe["band_low"].isna().all()
    cs = tidy.query("estimator == 'callaway_santanna' and estimand == 'intensity'")
    cs = cs.set_index("event_time")
    band = robust.uniform_conf_int()
    np.testing.assert_allclose(cs["band_low"], band["lower"].to_numpy())
    np.testing.assert_allclose(cs["truth"], truth.reindex(cs.index))

    stored = pd.read_csv(result.directory / "multipliers.csv", index_col="estimator")
    multipliers = stored[stored["estimand"] == "intensity"]
    true_total = truth.loc[0:11].sum()
    for name, fitted in (("twfe", direct), ("callaway_santanna", robust)):
        estimate, se = fitted.cumulative(0, 11)
        assert multipliers.loc[name, "estimate"] == pytest.approx(estimate, rel=1e-12)
        assert multipliers.loc[name, "se"] == pytest.approx(se, rel=1e-12)
        assert multipliers.loc[name, "truth"] == pytest.approx(true_total, rel=1e-12)
        low, high = fitted.cumulative_conf_int(0, 11)
        assert f"{estimate:.4f} (SE {se:.4f}), 95% CI [{low:.4f}, {high:.4f}]" in result.summary

    dataset = xr.open_dataset(result.directory / "estimates.nc").sel(estimand="intensity")
    twfe_cov = dataset["cov"].sel(
        estimator="twfe", event_time_row=list(direct.event_times),
        event_time_col=list(direct.event_times),
    )  # fmt: skip
    np.testing.assert_allclose(twfe_cov.to_numpy(), direct.cov_params().to_numpy())
    estimate, se = direct.cumulative(0, 11)
    assert float(dataset["cumulative_estimate"].sel(estimator="twfe")) == pytest.approx(estimate)
    assert str(dataset["vcov"].sel(estimator="twfe").item()) == "CRV1 by consumer_id"
    assert dataset["estimate"].attrs["units"] == "yuan per yuan of counterfeit"
    dataset.close()

    manifest = json.loads((result.directory / "manifest.json").read_text())
    assert manifest["estimates"]["intensity"]["twfe"]["estimate"] == pytest.approx(
        estimate, rel=1e-12
    )
    assert f"simulated truth {true_total:.4f}" in result.summary


def test_fit_command_matches_the_run(tiny_run, tmp_path, capsys):
    config_path, result = tiny_run
    out = tmp_path / "fit"
    seed = str(load_config(config_path).seed)
    argv = ["fit", str(result.directory / "panel.parquet"), "--config", str(config_path),
            "--seed", seed, "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Model comparison" in printed and "event_time::0" in printed
    assert "callaway_santanna" in printed.splitlines()[2]  # the models' columns
    for name in ("estimates.csv", "multipliers.csv"):
        stored = pd.read_csv(out / name)
        expected = pd.read_csv(result.directory / name)
        pd.testing.assert_frame_equal(stored, expected.drop(columns="truth"))


def test_fit_command_options_override_the_settings(tiny_run, capsys):
    _, result = tiny_run
    panel_path = result.directory / "panel.parquet"
    argv = ["fit", str(panel_path), "--intensity", "none", "--window", "-2", "6", "--vcov", "HC1",
            "--cumulative", "0", "5"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    direct = EventStudy(
        pd.read_parquet(panel_path), "spend", "consumer_id", "week", "fake_week",
        window=(-2, 6), ref=-1,
    ).fit(vcov="HC1")  # fmt: skip
    estimate, se = direct.cumulative(0, 5)
    assert f"twfe               {estimate:.4f} (SE {se:.4f})" in printed
    assert "yuan per treated unit" in printed


ESTIMATORS = ["twfe", "callaway_santanna", "sun_abraham", "imputation"]


@pytest.fixture(scope="module")
def weighted_panel(tiny_run, tmp_path_factory):
    """The tiny run's panel with sampling weights 1..4, constant within a consumer."""
    _, result = tiny_run
    panel = pd.read_parquet(result.directory / "panel.parquet")
    panel["w"] = 1.0 + panel["consumer_id"].to_numpy() % 4
    path = tmp_path_factory.mktemp("weighted") / "panel.parquet"
    panel.to_parquet(path)
    return panel, path


def test_fit_weights_reach_every_estimator_and_both_estimands(
    tiny_run, weighted_panel, tmp_path, capsys
):
    config_path, _ = tiny_run
    panel, path = weighted_panel
    out = tmp_path / "fit"
    argv = ["fit", str(path), "--config", str(config_path), "--weights", "w", "--out", str(out)]
    assert main([*argv, "--estimators", *ESTIMATORS]) == 0
    assert "weighted by sampling weights 'w'" in capsys.readouterr().out
    settings = load_config(config_path).estimation
    columns = dict(unit="consumer_id", time="week", cohort="fake_week", weights="w")
    stored = pd.read_csv(out / "estimates.csv").set_index(["estimand", "estimator", "event_time"])
    for estimand, intensity in (("intensity", "fake_value"), ("value", None)):
        direct = EventStudy(
            panel, "spend", **columns, window=settings.twfe.window, ref=settings.twfe.ref,
            intensity=intensity,
        ).fit()  # fmt: skip
        if intensity is None:
            direct = value_weighted(direct, panel, **columns, dose="fake_value")
        expected = direct.event_time_effects()
        got = stored.loc[(estimand, "twfe")].loc[expected.index]
        np.testing.assert_allclose(got["estimate"], expected["estimate"], rtol=1e-9)
        np.testing.assert_allclose(got["se"], expected["se"], rtol=1e-9)
    unweighted = EventStudy(
        panel, "spend", "consumer_id", "week", "fake_week", window=settings.twfe.window,
        ref=settings.twfe.ref, intensity="fake_value",
    ).fit().event_time_effects()  # fmt: skip
    weighted = stored.loc[("intensity", "twfe")].loc[unweighted.index, "estimate"]
    assert (
        np.abs(weighted - unweighted["estimate"]).max() > 1e-3 * unweighted["estimate"].abs().max()
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fit", "missing.parquet"], "missing.parquet: panel file not found"),
        (["fit", "PANEL", "--outcome", "sales"], "column(s) 'sales' not in the panel"),
        (["fit", "PANEL", "--window", "3", "-1"],
         "estimation.twfe: window = [3, -1]: expected lo < hi"),
        (["fit", "PANEL", "--vcov", "HC3"], "vcov: Input should be 'iid', 'HC1' or 'CRV1'"),
        (["fit", "PANEL", "--vcov", "iid", "--cluster", "week"],
         "clusters are only used with vcov = 'CRV1'"),
        (["fit", "CONFIG"], "not a Parquet file"),
        (["fit", "PANEL", "--weights", "w"], "column(s) 'w' not in the panel"),
    ],
)  # fmt: skip
def test_fit_errors_are_one_line_with_exit_2(tiny_run, capsys, argv, message):
    config_path, result = tiny_run
    replace = {"PANEL": str(result.directory / "panel.parquet"), "CONFIG": str(config_path)}
    assert main([replace.get(a, a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("window = [-4, 12]", "window = [-4, 30]",
         r"estimation.twfe.window = \[-4, 30\] reaches beyond the event times a 22-week panel"),
        ("ref = -1", "ref = -6", r"estimation.twfe: ref = -6 is outside window = \[-4, 12\]"),
        ("cumulative = [0, 11]", "cumulative = [0, 13]",
         r"estimation: cumulative = \[0, 13\] must be inside twfe.window = \[-4, 12\]"),
        ('vcov = "CRV1"', 'vcov = "CR2"', r"estimation.twfe.vcov: Input should be 'iid', 'HC1' or"),
        ("ref = -1", "ref = -1\nweights = \"w\"", r"estimation.twfe.weights: unknown key"),
        ("cumulative = [0, 11]", "cumulative = [0, 11]\nweights = \"w\"",
         r"estimation.weights = 'w': a simulated panel has no sampling weights"),
    ],
)  # fmt: skip
def test_estimation_config_errors_name_their_key(write_config, old, new, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write_config(**{old: new}))


def test_run_without_estimation_removes_an_earlier_runs_estimates(write_config, tmp_path):
    path = write_config(**TINY)
    run(load_config(path), progress=False)
    assert (tmp_path / "run" / "estimates.csv").is_file()
    text = path.read_text().replace("[estimation]\n", "[unused]\n")
    start, end = text.index("[unused]"), text.index("[output]")
    path.write_text(text[:start] + text[end:])  # no [estimation], [projection], ...
    result = run(load_config(path), progress=False)
    assert result.estimates is None
    assert not (tmp_path / "run" / "estimates.csv").exists()
    assert not (tmp_path / "run" / "estimates.nc").exists()
    assert "cumulative effect" not in result.summary


def test_fit_command_warnings_are_one_line(tiny_run, capsys):
    """Event times no panel row reaches are dropped as collinear: warned on one line."""
    _, result = tiny_run
    argv = ["fit", str(result.directory / "panel.parquet"), "--intensity", "none",
            "--window", "-25", "25", "--cumulative", "0", "3"]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err.splitlines()
    assert err and all(line.startswith("goodwill: warning: dropped ") for line in err)


def test_fit_command_vcov_without_clusters_overrides_the_config(tiny_run, tmp_path, capsys):
    config_path, result = tiny_run
    text = config_path.read_text().replace('vcov = "CRV1"', 'vcov = "CRV1"\nclusters = ["week"]')
    clustered = tmp_path / "clustered.toml"
    clustered.write_text(text)
    argv = ["fit", str(result.directory / "panel.parquet"), "--config", str(clustered)]
    assert main([*argv, "--vcov", "iid"]) == 0
    out = capsys.readouterr().out
    twfe_line = next(line for line in out.splitlines() if line.startswith("  twfe "))
    assert "iid, " in twfe_line and "CRV1" not in twfe_line


def test_run_reports_an_untestable_pretrend_instead_of_a_number(tiny_run, tmp_path, capsys):
    _, result = tiny_run
    panel = pd.read_parquet(result.directory / "panel.parquet")
    panel.assign(group=panel["consumer_id"] % 3).to_parquet(tmp_path / "p.parquet")
    assert main(["fit", str(tmp_path / "p.parquet"), "--cluster", "group"]) == 0
    assert "pre-trends: not testable (the covariance of the 3 restrictions has rank 2" in (
        capsys.readouterr().out
    )
