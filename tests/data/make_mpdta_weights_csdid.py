"""Usage: python make_mpdta_weights_csdid.py mpdta.csv out.json

Reference numbers for goodwill's Callaway-Sant'Anna with sampling weights and clustering above
the unit, computed with csdid (the Python port of R did 2.5.1) on mpdta.

mpdta has neither weights nor a cluster variable; both are made from the county id
(countyreal, a FIPS code), constant within a county:

- weight = 1 + (countyreal mod 7) / 2 (1, 1.5, ..., 4), did's ``weightsname``;
- state = countyreal // 1000 (the FIPS state code: 29 clusters of 3 to 46 counties), and
  pair5 = the rank of countyreal (0..499) // 5 (100 clusters of 5 counties), did's
  ``clustervars``.

Per design: every ATT(g,t) with its analytic SE (and did's Wald pre-test, W and Wpval)
unclustered and clustered by state
(``bstrap=False``: did 2.5.1 forms the clustered analytic variance from cluster sums of the
influence functions), the simple, dynamic and group aggregations likewise; for the first two
designs also the analytic SEs clustered by pair5 and the multiplier-bootstrap SEs clustered by
state and by pair5 (``bstrap=True``, BITERS draws, numpy seed SEED before each call).

``unbalanced``: the same on the unbalanced panel of make_mpdta_unbalanced_csdid.py (mpdta with
15% of its rows dropped at random, seed 19; ``allow_unbalanced_panel=True``, did's repeated
cross-section estimators) with the weight above and with a row weight that varies within a
county, ``weight * (1 + (year - 2003) / 10)``, unclustered and clustered by state: without
covariates, and with x = lpop + 0.1 sin(countyreal + year) (which varies by period, as in
make_mpdta_unbalanced_csdid.py) for reg, ipw and dr.
"""

import contextlib
import io
import json
import sys
import warnings
from importlib.metadata import version

import numpy as np
import pandas as pd
from csdid.att_gt import ATTgt

DESIGNS = {  # name: (control_group, base_period, est_method, xformla)
    "never_varying": ("nevertreated", "varying", "reg", None),
    "notyet_varying": ("notyettreated", "varying", "reg", None),
    "never_universal": ("nevertreated", "universal", "reg", None),
    "notyet_universal": ("notyettreated", "universal", "reg", None),
    "never_varying_dr_lpop": ("nevertreated", "varying", "dr", "lemp~lpop"),
    "never_varying_ipw_lpop": ("nevertreated", "varying", "ipw", "lemp~lpop"),
    "never_varying_reg_lpop": ("nevertreated", "varying", "reg", "lemp~lpop"),
}
UNBALANCED = {  # name: (control_group, base_period, weights column, est_method, xformla)
    "never_varying": ("nevertreated", "varying", "weight", "reg", None),
    "notyet_varying": ("notyettreated", "varying", "weight", "reg", None),
    "never_universal": ("nevertreated", "universal", "weight", "reg", None),
    "never_varying_row_weights": ("nevertreated", "varying", "row_weight", "reg", None),
    "notyet_universal_row_weights": ("notyettreated", "universal", "row_weight", "reg", None),
    "never_varying_reg_x": ("nevertreated", "varying", "row_weight", "reg", "lemp~x"),
    "notyet_varying_ipw_x": ("notyettreated", "varying", "row_weight", "ipw", "lemp~x"),
    "never_varying_dr_x": ("nevertreated", "varying", "row_weight", "dr", "lemp~x"),
    "notyet_universal_dr_x": ("notyettreated", "universal", "weight", "dr", "lemp~x"),
}
DROP_SEED, DROP_SHARE = 19, 0.15
BITERS = 20_000
SEED = 20261207


def floats(values):
    values = np.asarray(values, float).ravel()
    return [None if not np.isfinite(v) else float(v) for v in values]


def with_columns(df):
    df = df.copy()
    df["weight"] = 1.0 + (df["countyreal"].astype(int) % 7) / 2.0
    df["state"] = df["countyreal"].astype(int) // 1000
    df["pair5"] = df["countyreal"].rank(method="dense").astype(int).sub(1) // 5
    return df


def fit(df, control, base, method, xformla, cluster, bstrap, weights="weight", **options):
    model = ATTgt(
        yname="lemp",
        tname="year",
        idname="countyreal",
        gname="first.treat",
        data=df,
        control_group=control,
        xformla=xformla,
        weights_name=weights,
        clustervar=cluster,
        biters=BITERS,
        **options,
    )
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(est_method=method, base_period=base, bstrap=bstrap)


def aggregate(fitted, kind, bstrap):
    np.random.seed(SEED)  # noqa: NPY002 (csdid draws from numpy's global generator)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg = fitted.aggte(typec=kind, bstrap=bstrap, cband=False, biters=BITERS).atte
    se = float(np.ravel(agg["overall_se"])[0])
    out = {"overall_att": float(agg["overall_att"]), "overall_se": se}
    if agg.get("egt") is not None:
        out.update(
            egt=[int(e) for e in agg["egt"]],
            att_egt=floats(agg["att_egt"]),
            se_egt=floats(agg["se_egt"]),
        )
    return out


def att_gt(fitted):
    r = fitted.results
    return {
        "group": [int(g) for g in r["group"]],
        "time": [int(t) for t in r["year"]],
        "att": floats(r["att"]),
        "se": floats(r["se"]),
        "W": floats([fitted.MP["W"]])[0],
        "Wpval": floats([fitted.MP["Wpval"]])[0],
    }


def main(path):
    df = with_columns(pd.read_csv(path))
    versions = {name: version(name) for name in ("csdid", "drdid", "numpy", "pandas")}
    reference = {
        "versions": versions,
        "script": open(__file__).read(),
        "biters": BITERS,
        "designs": {},
    }
    for name, (control, base, method, xformla) in DESIGNS.items():
        design = {
            "control_group": control,
            "base_period": base,
            "est_method": method,
            "xformla": xformla,
        }
        for label, cluster in (("unclustered", None), ("clustered", "state")):
            fitted = fit(df, control, base, method, xformla, cluster, bstrap=False)
            design[label] = {"att_gt": att_gt(fitted)}
            for kind in ("simple", "dynamic", "group"):
                design[label][kind] = aggregate(fitted, kind, bstrap=False)
        if name in ("never_varying", "notyet_varying"):
            fitted = fit(df, control, base, method, xformla, "pair5", bstrap=False)
            design["clustered_pair5"] = {"att_gt": att_gt(fitted)}
            for kind in ("simple", "dynamic", "group"):
                design["clustered_pair5"][kind] = aggregate(fitted, kind, bstrap=False)
            for cluster in ("state", "pair5"):
                np.random.seed(SEED)  # noqa: NPY002 (csdid draws from numpy's global generator)
                fitted = fit(df, control, base, method, xformla, cluster, bstrap=True)
                label = f"bootstrap_{cluster}"
                design[label] = {"att_gt": att_gt(fitted)}
                for kind in ("simple", "dynamic", "group"):
                    design[label][kind] = aggregate(fitted, kind, bstrap=True)
        reference["designs"][name] = design
    dropped = np.flatnonzero(np.random.default_rng(DROP_SEED).random(len(df)) < DROP_SHARE)
    data = df.drop(index=dropped).reset_index(drop=True)
    data["row_weight"] = data["weight"] * (1 + (data["year"] - 2003) / 10)
    data["x"] = data["lpop"] + 0.1 * np.sin(data["countyreal"] + data["year"])
    reference["unbalanced"] = {"dropped_rows": [int(i) for i in dropped]}
    for name, (control, base, weights, method, xformla) in UNBALANCED.items():
        design = {
            "control_group": control,
            "base_period": base,
            "weights": weights,
            "est_method": method,
            "xformla": xformla,
        }
        for label, cluster in (("unclustered", None), ("clustered", "state")):
            fitted = fit(
                data,
                control,
                base,
                method,
                xformla,
                cluster,
                bstrap=False,
                weights=weights,
                allow_unbalanced_panel=True,
            )
            design[label] = {"att_gt": att_gt(fitted)}
            for kind in ("simple", "dynamic", "group"):
                design[label][kind] = aggregate(fitted, kind, bstrap=False)
        reference["unbalanced"][name] = design
    with open(sys.argv[2], "w") as out:
        json.dump(reference, out, indent=1)
        out.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
