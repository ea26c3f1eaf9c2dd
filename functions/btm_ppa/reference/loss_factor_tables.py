"""Line loss factors by charging year (``data/charges``): the settlement LLFs of a
tariff's LLFC by DUoS band where held (2023/24 for _C _E _H _L), else the DUoS
statement's generic LLF for the voltage (illustrative). TLMs are not held."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from btm_ppa.core.vocab import VoltageLevel
from btm_ppa.reference.charge_tables import _number, _rows, normalise_tariff

LLF_BY_LLFC_FILE = "line_loss_factors_2023-24_by_llfc_and_duos_band.csv"
LLF_GENERIC_FILE = "line_loss_factors_generic_by_voltage_2022-23_to_2023-24.csv"


@dataclass(frozen=True)
class LossFactors:
    """Mean line loss factor in each DUoS band (red, amber, green) of one year."""

    charging_year: str
    red: float
    amber: float
    green: float
    source: str


@functools.cache
def _llf_by_llfc() -> dict[tuple[str, str, str], LossFactors]:
    out: dict[tuple[str, str, str], LossFactors] = {}
    for r in _rows(LLF_BY_LLFC_FILE):
        if r["is_lv_hv_nondomestic_demand"] != "True":
            continue
        key = (r["charging_year"], r["gsp_group"], normalise_tariff(r["duos_tariff_name"]))
        out.setdefault(key, LossFactors(
            r["charging_year"], float(r["llf_mean_red"]), float(r["llf_mean_amber"]),
            float(r["llf_mean_green"]),
            f"Elexon D0265 LLFs, LLFC {r['llfc']} ({LLF_BY_LLFC_FILE})"))
    return out


@functools.cache
def _llf_generic() -> dict[tuple[str, str, str], LossFactors]:
    """Generic LLFs (mean of the statement's five time periods) by (year, group, voltage)."""
    out: dict[tuple[str, str, str], LossFactors] = {}
    for r in _rows(LLF_GENERIC_FILE):
        name = r["metered_voltage"].casefold().replace("-", " ")
        voltage = ("LV" if name.startswith(("low voltage network", "lv network")) else
                   "HV" if name.startswith(("high voltage network", "hv network")) else None)
        values = [_number(r[f"llf_period{i}"]) for i in range(1, 6)]
        held = [v for v in values if v is not None]
        if voltage is None or not held:
            continue
        mean = sum(held) / len(held)
        out.setdefault((r["charging_year"], r["gsp_group"], voltage), LossFactors(
            r["charging_year"], mean, mean, mean,
            f"generic {r['metered_voltage']} LLF, mean of the statement's time periods "
            f"({LLF_GENERIC_FILE}; illustrative)"))
    return out


def loss_factors(charging_year: str, gsp_group_id: str, tariff_key: str | None,
                 voltage: VoltageLevel | None) -> LossFactors | None:
    """The year's LLFs: the settlement LLFs of the tariff's LLFC where held (2023/24 for
    _C _E _H _L), else the statement's generic LLF for the voltage; None when neither."""
    if tariff_key is not None:
        found = _llf_by_llfc().get((charging_year, gsp_group_id, tariff_key))
        if found is not None:
            return found
    if voltage is None:
        return None
    return _llf_generic().get((charging_year, gsp_group_id, voltage.value))


def llf_years() -> tuple[str, ...]:
    return tuple(sorted({k[0] for k in (*_llf_by_llfc(), *_llf_generic())}))
