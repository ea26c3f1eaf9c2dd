"""The per-MWh levies of a charging year's periods (TNUoS per MWh, BSUoS, CCL, RO, FiT):
typed (an override, flagged when far from the table), or the table's rate of each
period; a period no table holds is an error naming the cell."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from btm_ppa.errors import InputError, InputErrors
from btm_ppa.reference import charge_tables as tables
from btm_ppa.sheet.inputs import RefreshInputs
from sheets_layout import BessLayout

FloatArray = npt.NDArray[np.float64]

#: A typed rate more than this factor above or below the table's is flagged in row 62.
OVERRIDE_FACTOR = 1.5


class Errors:
    """InputErrors gathered across charges, one per cell."""

    def __init__(self) -> None:
        self.errors: list[InputError] = []

    def add(self, error: InputError) -> None:
        if not any(e.cell == error.cell for e in self.errors):
            self.errors.append(error)

    def raise_if_any(self) -> None:
        if self.errors:
            raise self.errors[0] if len(self.errors) == 1 else InputErrors(self.errors)


def differs(typed: float, table: float) -> bool:
    if table == 0 or typed == 0:
        return abs(typed - table) > 1e-9 and max(abs(typed), abs(table)) > 0
    ratio = typed / table
    return ratio > OVERRIDE_FACTOR or ratio < 1 / OVERRIDE_FACTOR


def apply_levies(layout: BessLayout, inputs: RefreshInputs, rates: dict[str, FloatArray],
            rows: npt.NDArray[np.bool_], dates: npt.NDArray[np.object_], year: str,
            errors: Errors, warnings: list[str]) -> dict[str, str]:
    """The per-MWh levies of one charging year's periods: typed, or the table's."""
    cell = lambda key: layout.input(key).cell  # noqa: E731
    levies = inputs.levies
    applied: dict[str, str] = {}

    def by_year(key: str, name: str, typed: float | None,
                lookup: Callable[[str], tables.Rate | None], what: str) -> None:
        found = lookup(year)
        if typed is not None:
            rates[key][rows] = typed
            applied[name] = f"{typed:g} £/MWh typed"
            if found is not None and differs(typed, found.value):
                warnings.append(f"{cell(what)} typed {typed:g} £/MWh differs from the "
                                      f"table's {found.value:g} £/MWh ({name}, {year}) by more "
                                      f"than x{OVERRIDE_FACTOR:g}")
        elif found is not None:
            rates[key][rows] = found.value
            applied[name] = f"{found.value:g} £/MWh ({found.confidence})"
        else:
            errors.add(InputError(cell(what), None, f"the {name} rate in £/MWh for {year} "
                                  "(no table holds it)", "is blank"))

    # TNUoS per MWh: none for half-hourly demand (the residual is per day from April 2023).
    rates["tnuos"][rows] = levies.tnuos_gbp_per_mwh or 0.0
    if levies.tnuos_gbp_per_mwh:
        applied["TNUoS"] = f"{levies.tnuos_gbp_per_mwh:g} £/MWh typed"
    # BSUoS: fixed tariff per half-year from April 2023, typed before.
    if levies.bsuos_gbp_per_mwh is not None:
        by_year("bsuos", "BSUoS", levies.bsuos_gbp_per_mwh, lambda _y: None, "bsuos_gbp_per_mwh")
        days = sorted(set(dates[rows]))
        for day in (days[0], days[-1]):
            found = tables.bsuos_gbp_per_mwh(day)
            if found is not None and differs(levies.bsuos_gbp_per_mwh, found.value):
                warnings.append(
                    f"{cell('bsuos_gbp_per_mwh')} typed {levies.bsuos_gbp_per_mwh:g} £/MWh "
                    f"differs from the table's {found.value:g} £/MWh (BSUoS, {day}) by more "
                    f"than x{OVERRIDE_FACTOR:g}")
                break
    else:
        idx = np.flatnonzero(rows)
        missing = []
        seen: dict[float, None] = {}
        for day in sorted(set(dates[rows])):
            found = tables.bsuos_gbp_per_mwh(day)
            sel = idx[dates[idx] == day]
            if found is None:
                missing.append(day)
            else:
                rates["bsuos"][sel] = found.value
                seen[found.value] = None
        if missing:
            errors.add(InputError(
                cell("bsuos_gbp_per_mwh"), None,
                f"the BSUoS rate in £/MWh for {missing[0]} to {missing[-1]} (the fixed tariff "
                f"is held from {tables.BSUOS_FIXED_FROM}; before it BSUoS was a half-hourly "
                "price)", "is blank"))
        applied["BSUoS"] = "/".join(f"{v:g}" for v in seen) + " £/MWh (fixed tariff)"
    by_year("ccl", "CCL", levies.ccl_gbp_per_mwh, tables.ccl_gbp_per_mwh, "ccl_gbp_per_mwh")
    by_year("ro", "RO", levies.ro_gbp_per_mwh, tables.ro_gbp_per_mwh, "ro_gbp_per_mwh")
    by_year("fit", "FiT", levies.fit_gbp_per_mwh, lambda _y: None, "fit_gbp_per_mwh")
    return applied
