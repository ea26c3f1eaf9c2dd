"""The worked example of seed 004 (BtM PPA final demand model), units corrected.

Corrections to the seed, so the example does not inherit its errors:
- the BESS block's Amber and Green DUoS were costed at 2.05 and 0.11 "£/MWh", which are
  p/kWh; at £20.50/MWh and £1.10/MWh, 362 MWh and 721 MWh cost £7,421 and £793
  (the seed showed £742 and £79);
- DUoS unit rates are entered once, in p/kWh, in B10:D10 (17.64 / 2.05 / 0.11).

Everything else is the seed's as published: non-BESS volumes 2 / 2,549 / 2,029 MWh
(4,580 MWh) and costs; BESS charging 1,083 MWh with its levy rates and costs; 921 MWh
discharged, so 85 % round trip; PPA £150/MWh; VLP £15/MWh (seed 001's average).
The non-BESS costs other than system buy sum to £214,973 (= £717,778 - £502,805).
The battery (2.5 MW for 2 h, one cycle a day) is an assumption: the seed gives none.
The site is in North Western (ENWL), whose non-domestic red rate (17.649 p/kWh in
2025/26) is the seed's 17.64 p/kWh.
"""

from __future__ import annotations

import datetime as dt

from btm_ppa.sheet.workbook import CellValue

#: Input cell values by layout key.
EXAMPLE_INPUTS: dict[str, CellValue] = {
    "mpan_core": "1600123456785",
    "dno_area": "North Western",
    "duos_tariff": "Non-Domestic Aggregated or CT Band 1",
    "voltage_level": "LV",
    "duos_red_p_per_kwh": 17.64,
    "duos_amber_p_per_kwh": 2.05,
    "duos_green_p_per_kwh": 0.11,
    "import_power_kw": 2500,
    "export_power_kw": 2500,
    "duration_h": 2,
    "cycles_per_day": 1,
    "round_trip_efficiency_pct": 85,
    "vlp_payment_gbp_per_mwh": 15,
    "window_start": dt.date(2023, 1, 1),
    "window_end": dt.date(2023, 12, 31),
    "method": "sheet",
    "annual_demand_mwh": 5500,
    "ppa_price_gbp_per_mwh": 150,
    "tnuos_gbp_per_mwh": 0,
    "bsuos_gbp_per_mwh": 4.50,
    "ccl_gbp_per_mwh": 7.75,
    "ro_gbp_per_mwh": 61.90,
    "fit_gbp_per_mwh": 11.50,
    # Site charges and price basis: blank in the seed. Blank charges are looked up where
    # the shipped statements hold them (none for 2023, so they count as zero); no agreed
    # capacity means no import limit; blank basis = system buy.
    "agreed_import_capacity_kva": None,
    "power_factor": None,
    "tnuos_residual_gbp_per_day": None,
    "duos_fixed_gbp_per_day": None,
    "duos_capacity_p_per_kva_day": None,
    "price_basis": None,
    # Battery wear and realistic's forecast: blank (wear not priced; the 28-day profile).
    "wear_gbp_per_mwh": None,
    "price_forecast": None,
    "dispatch_chart_week": None,  # the window's first week
}

#: Block rows: (non-BESS volume MWh, non-BESS cost £, BESS volume MWh, BESS cost £).
EXAMPLE_BLOCKS: dict[str, tuple[float, float, float, float]] = {
    "red_duos": (2, 376, 0, 0),
    "amber_duos": (2549, 52254, 362, 7421),
    "green_duos": (2029, 2232, 721, 793),
    "tnuos": (4580, 0, 1083, 0),
    "bsuos": (4580, 20609, 1083, 4874),
    "ccl": (4580, 39203, 1083, 8394),
    "ro": (4580, 66408, 1083, 67047),
    "fit": (4580, 33891, 1083, 12456),
}
