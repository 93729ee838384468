"""Usage: python make_mpdta_unbalanced_csdid.py mpdta.csv mpdta_unbalanced_csdid.json

Reference numbers for goodwill's Callaway-Sant'Anna on an unbalanced panel (did's
allow_unbalanced_panel = TRUE), computed with csdid (the Python port of R did) on mpdta with
15% of its rows dropped at random (seed 19; the dropped rows are stored in the output). The
designs with a covariate use x = lpop + 0.1 sin(countyreal + year), which varies by period."""

import contextlib
import io
import json
import sys
import warnings
from importlib.metadata import version

import numpy as np
import pandas as pd
from csdid.att_gt import ATTgt

SEED, DROP_SHARE = 19, 0.15
DESIGNS = {  # name: (control_group, base_period, anticipation, est_method[, xformla])
    "varying_never": ("nevertreated", "varying", 0, "reg"),
    "varying_notyet": ("notyettreated", "varying", 0, "reg"),
    "universal_never": ("nevertreated", "universal", 0, "reg"),
    "universal_notyet": ("notyettreated", "universal", 0, "reg"),
    "varying_never_anticipation1": ("nevertreated", "varying", 1, "reg"),
    "varying_never_dr": ("nevertreated", "varying", 0, "dr"),
    "varying_never_ipw": ("nevertreated", "varying", 0, "ipw"),
    "varying_never_reg_x": ("nevertreated", "varying", 0, "reg", "lemp~x"),
    "universal_notyet_reg_x": ("notyettreated", "universal", 0, "reg", "lemp~x"),
    "varying_notyet_ipw_x": ("notyettreated", "varying", 0, "ipw", "lemp~x"),
    "varying_never_dr_x": ("nevertreated", "varying", 0, "dr", "lemp~x"),
    "universal_notyet_dr_x": ("notyettreated", "universal", 0, "dr", "lemp~x"),
}
DYNAMIC_OPTIONS = [{"balance_e": 1}, {"balance_e": 2, "max_e": 1}, {"min_e": -2, "max_e": 2}]


def floats(values):
    return [
        None if v is None or not np.isfinite(v) else float(v) for v in np.asarray(values, float)
    ]


def aggregate(fitted, kind, **options):
    with contextlib.redirect_stdout(io.StringIO()):
        agg = fitted.aggte(typec=kind, bstrap=False, cband=False, **options).atte
    out = {"overall_att": float(agg["overall_att"]), "overall_se": float(agg["overall_se"])}
    if agg.get("egt") is not None:
        out.update(
            egt=[int(e) for e in agg["egt"]],
            att_egt=floats(agg["att_egt"]),
            se_egt=floats(agg["se_egt"]),
        )
    return out


def main(path, target):
    df = pd.read_csv(path)
    dropped = np.flatnonzero(np.random.default_rng(SEED).random(len(df)) < DROP_SHARE)
    data = df.drop(index=dropped).reset_index(drop=True)
    data["x"] = data["lpop"] + 0.1 * np.sin(data["countyreal"] + data["year"])
    versions = {name: version(name) for name in ("csdid", "drdid", "numpy", "pandas")}
    reference = {
        "versions": versions,
        "script": open(__file__).read(),
        "dropped_rows": [int(i) for i in dropped],
        "designs": {},
    }
    for name, (control, base, anticipation, method, *xformla) in DESIGNS.items():
        model = ATTgt(
            yname="lemp",
            tname="year",
            idname="countyreal",
            gname="first.treat",
            data=data,
            control_group=control,
            anticipation=anticipation,
            allow_unbalanced_panel=True,
            xformla=xformla[0] if xformla else None,
        )
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = model.fit(est_method=method, base_period=base, bstrap=False)
        r = fitted.results
        design = {
            "control_group": control,
            "base_period": base,
            "anticipation": anticipation,
            "est_method": method,
            "xformla": xformla[0] if xformla else None,
            "att_gt": {
                "group": [int(g) for g in r["group"]],
                "time": [int(t) for t in r["year"]],
                "att": floats(r["att"]),
                "se": floats(r["se"]),
            },
        }
        for kind in ("simple", "dynamic", "group", "calendar"):
            design[kind] = aggregate(fitted, kind)
        if name in ("varying_never", "universal_never"):
            design["dynamic_options"] = [
                {"options": o, **aggregate(fitted, "dynamic", **o)} for o in DYNAMIC_OPTIONS
            ]
        reference["designs"][name] = design
    with open(target, "w") as out:
        json.dump(reference, out, indent=1)
        out.write("\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
