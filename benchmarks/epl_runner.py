"""Solve a dispatch problem with energypylinear (PuLP + CBC) in its own virtualenv.

energypylinear pins older numpy, pandas and rich than btm-ppa, so it cannot share the
project's environment; ``run.py`` calls this script with ``.venv-bench/bin/python``.
Reads the problem from an .npz file, prints one JSON line: import cost (£), seconds.
"""

import json
import sys
import time

import energypylinear as epl
import numpy as np


def main(path: str, timeout_s: float) -> None:
    data = np.load(path)
    battery = epl.Battery(
        power_mw=float(data["charge_power_mw"]),
        discharge_power_mw=float(data["discharge_power_mw"]),
        capacity_mwh=float(data["capacity_mwh"]),
        efficiency_pct=float(data["efficiency_frac"]),
        initial_charge_mwh=0.0,
        final_charge_mwh=float(data["final_soc_mwh"]),
    )
    site = epl.Site(
        assets=[battery],
        electricity_prices=data["import_cost_gbp_per_mwh"],
        export_electricity_prices=0.0,
        electric_load_mwh=data["demand_mwh"],
        freq_mins=30,
        export_limit_mw=0.0,
    )
    started = time.perf_counter()
    result = site.optimize(verbose=False, optimizer_config=epl.OptimizerConfig(
        timeout=int(timeout_s), relative_tolerance=0.0))
    seconds = time.perf_counter() - started
    results = result.results
    cost = float((results["site-import_power_mwh"] * data["import_cost_gbp_per_mwh"]).sum())
    print(json.dumps({"import_cost_gbp": cost, "seconds": seconds,
                      "status": str(result.status.status)}))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
