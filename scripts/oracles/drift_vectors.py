#!/usr/bin/env python3
"""Writes Tests/EarshotMonitoringTests/Vectors/drift_vectors.json: two-sample cases and the statistics scipy computes
for them (ks_2samp two-sided/auto, wasserstein_distance, chi2_contingency, jensenshannon) plus PSI and the
Jensen-Shannon distance over reference-decile bins, binned exactly as EarshotMonitoring's DriftStatistics bins.
Deterministic (numpy seed). Run with the oracle venv: scripts/oracles/install-venv.sh --all, then
.venv-oracles/bin/python scripts/oracles/drift_vectors.py
"""
import json
import pathlib

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

OUT = pathlib.Path(__file__).resolve().parents[2] / "Tests/EarshotMonitoringTests/Vectors/drift_vectors.json"
rng = np.random.default_rng(20261127)


def decile_bins(ref, cur):
    ref_sorted = np.sort(ref)
    edges = []
    for k in range(1, 10):
        q = float(np.quantile(ref_sorted, k / 10))  # numpy's default linear interpolation
        if not edges or edges[-1] != q:
            edges.append(q)
    def props(x):
        counts = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1)
        return counts / len(x)
    return props(ref), props(cur)


def psi(p, q, floor=1e-4):
    p = np.maximum(p, floor)
    q = np.maximum(q, floor)
    return float(np.sum((q - p) * np.log(q / p)))


numeric = []
shapes = [
    ("normal equal 20", 20, 20, lambda n: rng.normal(0, 1, n), lambda n: rng.normal(0.8, 1, n)),
    ("normal equal 50", 50, 50, lambda n: rng.normal(0, 1, n), lambda n: rng.normal(0.0, 1, n)),
    ("normal 100 vs 80", 100, 80, lambda n: rng.normal(0, 1, n), lambda n: rng.normal(0.3, 1.2, n)),
    ("tiny 7 vs 13", 7, 13, lambda n: rng.normal(0, 1, n), lambda n: rng.normal(1.5, 1, n)),
    ("ties 300 vs 250", 300, 250, lambda n: np.round(rng.normal(-30, 6, n)), lambda n: np.round(rng.normal(-29, 6, n))),
    ("lognormal 1000 equal", 1000, 1000, lambda n: rng.lognormal(0, 0.5, n), lambda n: rng.lognormal(0.05, 0.5, n)),
    ("dBFS 2000 vs 1500 shifted 1 dB", 2000, 1500, lambda n: rng.normal(-32, 5, n), lambda n: rng.normal(-31, 5, n)),
    ("far apart 60 vs 45", 60, 45, lambda n: rng.normal(0, 1, n), lambda n: rng.normal(4, 1, n)),
    ("asymptotic 12000 vs 11000", 12000, 11000, lambda n: rng.normal(0, 1, n), lambda n: rng.normal(0.04, 1, n)),
]
for name, n1, n2, fa, fb in shapes:
    a, b = fa(n1), fb(n2)
    ks = stats.ks_2samp(a, b)
    pr, pc = decile_bins(a, b)
    numeric.append({
        "name": name, "reference": a.tolist(), "current": b.tolist(),
        "ks_statistic": float(ks.statistic), "ks_pvalue": float(ks.pvalue),
        "wasserstein": float(stats.wasserstein_distance(a, b)),
        "std_reference": float(np.std(a)),
        "psi": psi(pr, pc), "jensenshannon": float(jensenshannon(pr, pc)),
    })

categorical = []
cats = [
    ("two categories (Yates)", [40, 10], [30, 20]),
    ("five categories", [120, 80, 40, 30, 10], [100, 90, 50, 20, 25]),
    ("a category only in current", [50, 50, 0], [45, 40, 15]),
    ("identical", [10, 20, 30], [10, 20, 30]),
    ("large", [5000, 3000, 2000], [4800, 3100, 2100]),
]
for name, r, c in cats:
    table = np.array([r, c])
    keep = table.sum(axis=0) > 0
    chi2, p, dof, _ = stats.chi2_contingency(table[:, keep])
    pr, pc = np.array(r) / sum(r), np.array(c) / sum(c)
    categorical.append({
        "name": name, "reference": r, "current": c,
        "chi2_statistic": float(chi2), "chi2_pvalue": float(p), "chi2_dof": int(dof),
        "jensenshannon": float(jensenshannon(pr, pc)), "psi": psi(pr, pc),
    })

chi2_sf = [{"x": x, "dof": k, "sf": float(stats.chi2.sf(x, k))}
           for x, k in [(0.5, 1), (3.84, 1), (10.0, 3), (50.0, 4), (200.0, 10), (1.0, 30), (400.0, 40)]]

OUT.write_text(json.dumps({"scipy": __import__("scipy").__version__, "numeric": numeric, "categorical": categorical,
                           "chi2_sf": chi2_sf}))
print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
