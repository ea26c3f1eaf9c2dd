"""The worked example of seed 004 (BtM PPA final demand model), on 2023/24's real
charges (issue 21).

What is the seed's: the non-BESS volumes 2 / 2,549 / 2,029 MWh (4,580 MWh), BESS charging
1,083 MWh of which 921 MWh is discharged (85 % round trip), PPA £150/MWh, VLP £15/MWh
(seed 001's average), 5,500 MWh/yr of demand, the FiT levy £11.50/MWh (no FiT table is
held: it stays a typed input). The battery (2.5 MW for 2 h, one cycle a day) is an
assumption: the seed gives none.

What is not the seed's (the seed's rates were not 2023's: RO £61.90/MWh where 2023/24's
is £27.68, BSUoS £4.50 where the fixed tariff was £13.41 then £14.03): the window is the
2023/24 charging year; the site (North Western, LV, 1,500 kVA agreed capacity, so LV Site
Specific Band 4) has its DUoS tariff, unit rates, fixed, capacity and TNUoS residual
charges, BSUoS, CCL and RO left blank, so every period takes the tables' rate; and the
block costs of the `sheet` method are the seed's volumes at those rates (DUoS 7.456 /
1.432 / 0.131 p/kWh; BSUoS at the mean of the two half-years, £13.72/MWh; CCL £7.75; RO
£27.6757; FiT £11.50; the other levies row left blank, i.e. none). The levies no table
holds for 2023/24 are typed as stated assumptions: Capacity Market £80/MWh of winter
working-day 16:00-19:00 import, AAHEDC £0.41/MWh (2025/26's rate), Triad tariff £0/kW.
The CfD levy is left blank: the rate in force each day, from the held table (2023-2024).
"""

from __future__ import annotations

import datetime as dt

from btm_ppa.sheet.workbook import CellValue

#: Input cell values by layout key.
EXAMPLE_INPUTS: dict[str, CellValue] = {
    "mpan_core": "1600123456785",
    "dno_area": "North Western",
    "duos_tariff": None,  # blank: from B9 and B11 (LV Site Specific Band 4)
    "voltage_level": "LV",
    "duos_red_p_per_kwh": None,  # blank: the tariff's rate in each charging year
    "duos_amber_p_per_kwh": None,
    "duos_green_p_per_kwh": None,
    "import_power_kw": 2500,
    "export_power_kw": 2500,
    "duration_h": 2,
    "cycles_per_day": 1,
    "round_trip_efficiency_pct": 85,
    "vlp_payment_gbp_per_mwh": 15,
    "window_start": dt.date(2023, 4, 1),
    "window_end": dt.date(2024, 3, 31),
    "method": "sheet",
    "annual_demand_mwh": 5500,
    "ppa_price_gbp_per_mwh": 150,
    "tnuos_gbp_per_mwh": None,  # blank: no per-MWh TNUoS for half-hourly demand
    "bsuos_gbp_per_mwh": None,  # blank: the fixed tariff of each half-year
    "ccl_gbp_per_mwh": None,
    "ro_gbp_per_mwh": None,
    "fit_gbp_per_mwh": 11.50,
    "agreed_import_capacity_kva": 1500,
    "power_factor": None,
    "tnuos_residual_gbp_per_day": None,
    "duos_fixed_gbp_per_day": None,
    "duos_capacity_p_per_kva_day": None,
    "price_basis": None,
    # Battery wear and realistic's forecast: blank (wear not priced; the 28-day profile).
    "wear_gbp_per_mwh": None,
    "price_forecast": None,
    "dispatch_chart_week": None,  # the window's first week
    # Layout 4 (D11:D17). Blank: the CfD interim levy rate in force each day (held from 2023
    # to the end of 2024: cfd_interim_levy_rates.csv, so the Deal tab's calendar 2024 too),
    # no Nuclear RAB (before December 2025), the tables' LLFs, no CCA.
    "cfd_gbp_per_mwh": None,
    "cm_gbp_per_mwh": 80.0,  # no table: an assumption (an adviser's winter estimate)
    "aahedc_gbp_per_mwh": 0.41,  # 2023/24 not held: 2025/26's 0.40984, an assumption
    "nuclear_rab_gbp_per_mwh": None,
    "loss_factor": None,
    "cca": None,
    "triad_gbp_per_kw": 0,  # not held: North West's HH locational demand tariff, assumed 0
}

#: 2023/24 rates the `sheet` method's block costs are priced at. [£/MWh]
_DUOS_2023_GBP_PER_MWH = {"red_duos": 74.56, "amber_duos": 14.32, "green_duos": 1.31}
_LEVIES_2023_GBP_PER_MWH = {"tnuos": 0.0, "bsuos": 13.72, "ccl": 7.75, "ro": 27.6757,
                            "fit": 11.50}
_NON_BESS_MWH = {"red_duos": 2, "amber_duos": 2549, "green_duos": 2029}
_BESS_MWH = {"red_duos": 0, "amber_duos": 362, "green_duos": 721}


def _blocks() -> dict[str, tuple[float, float, float, float]]:
    rates = {**_DUOS_2023_GBP_PER_MWH, **_LEVIES_2023_GBP_PER_MWH}
    volumes = {k: (_NON_BESS_MWH[k], _BESS_MWH[k]) for k in _NON_BESS_MWH}
    volumes.update({k: (4580, 1083) for k in _LEVIES_2023_GBP_PER_MWH})
    return {k: (v1, round(v1 * rates[k], 2), v2, round(v2 * rates[k], 2))
            for k, (v1, v2) in volumes.items()}


#: Block rows: (non-BESS volume MWh, non-BESS cost £, BESS volume MWh, BESS cost £).
EXAMPLE_BLOCKS: dict[str, tuple[float, float, float, float]] = _blocks()
