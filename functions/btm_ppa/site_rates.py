"""Every charge of a window, per settlement period and per charging year (1 April - 31
March): a window crossing 1 April uses each year's rates for its own periods.

A typed rate cell is an override, used as typed in every period; a blank one takes the
shipped table's rate for each period (``reference/charge_tables.py``). A blank cell
whose table does not hold a year of the window is an error naming the cell and the
year: no charge is ever a silent 0. Where the law makes a charge 0 (no TNUoS demand
residual before April 2023; no Nuclear RAB levy before December 2025) row 61 says so.

Who pays: the fixed, capacity and residual charges of the site as it is without the
battery (agreed capacity = the site's own peak import, or B11 if lower) are Stream 1's;
what the battery adds to them (a higher agreed capacity, a higher residual band) is
Stream 2's.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from btm_ppa.core import periods
from btm_ppa.core.charges import FixedCharges, site_import_limit_mwh
from btm_ppa.core.duos import BandAssignment, TimeBandTable, assign_bands
from btm_ppa.core.simulation import PeriodRates
from btm_ppa.core.units import (
    KW_PER_MW,
    mwh_per_period_to_mw,
    p_per_kwh_to_gbp_per_mwh,
    p_to_gbp,
)
from btm_ppa.core.vocab import BANDS, VoltageLevel
from btm_ppa.errors import InputError
from btm_ppa.levy_rates import (
    OVERRIDE_FACTOR,
    Errors,
    PeriodInfo,
    apply_levies,
    apply_other_levies,
    differs,
)
from btm_ppa.reference import charge_tables as tables
from btm_ppa.reference import loss_factor_tables as llf_tables
from btm_ppa.sheet.inputs import RefreshInputs
from sheets_layout import BessLayout

FloatArray = npt.NDArray[np.float64]

def time_band_table() -> TimeBandTable:
    return TimeBandTable(tables.time_bands())


def charging_years(frame: pd.DataFrame) -> npt.NDArray[np.str_]:
    """The charging year ("2023/24") of each period of a frame."""
    dates = pd.to_datetime(frame[periods.SETTLEMENT_DATE])
    first = np.where(dates.dt.month >= 4, dates.dt.year, dates.dt.year - 1)
    return np.array([f"{y}/{(y + 1) % 100:02d}" for y in first])


@dataclass(frozen=True)
class YearCharges:
    """The charges of one charging year of the window, as applied, for row 61 and the
    README's per-year table."""

    charging_year: str
    days: int
    periods: int
    tariff: str | None
    tariff_source: str
    duos_p_per_kwh: dict[str, float]
    fixed_gbp_per_day: float
    capacity_p_per_kva_day: float
    tdr_gbp_per_day: float
    tdr_band: str | None
    per_mwh: dict[str, str]  # levy -> "13.41 £/MWh (table ...)" as applied
    sources: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        duos = "/".join(f"{self.duos_p_per_kwh[b]:g}" for b in ("red", "amber", "green"))
        levies = ", ".join(f"{k} {v}" for k, v in self.per_mwh.items())
        return (f"{self.charging_year} ({self.days} days): {self.tariff or 'typed rates'}"
                f" DUoS {duos} p/kWh, fixed £{self.fixed_gbp_per_day:,.4g}/day, capacity "
                f"{self.capacity_p_per_kva_day:g} p/kVA/day, TNUoS residual "
                f"{self.tdr_band or '-'} £{self.tdr_gbp_per_day:,.4g}/day; {levies}")


@dataclass(frozen=True)
class SiteRates:
    rates: PeriodRates
    bands: BandAssignment
    stream1_fixed: FixedCharges
    stream2_fixed: FixedCharges | None
    agreed_capacity_kva: float | None
    import_limit_mwh: float | None
    years: tuple[YearCharges, ...]
    notes: tuple[str, ...]
    warnings: tuple[str, ...]


def _years_text(years: Sequence[str]) -> str:
    return ", ".join(years)


def _held_text(held: Sequence[str]) -> str:
    return f"held: {held[0]} to {held[-1]}" if held else "none held"


def peak_import_kva(demand_mwh: FloatArray, power_factor: float) -> float:
    """The site's own peak import (demand alone, no battery) in kVA, rounded up."""
    peak_kw = mwh_per_period_to_mw(float(np.max(demand_mwh))) * KW_PER_MW
    return float(math.ceil(peak_kw / power_factor - 1e-9))


def site_rates(layout: BessLayout, inputs: RefreshInputs, frame: pd.DataFrame, *,
               demand_mwh: FloatArray | None, simulate: bool) -> SiteRates:
    """Per-period rates and per-year fixed charges of a window (``frame`` as made by
    :func:`periods.settlement_periods`). Raises InputError(s) naming blank cells whose
    tables do not hold a year of the window."""
    cell = lambda key: layout.input(key).cell  # noqa: E731
    errors = Errors()
    notes: list[str] = []
    warnings: list[str] = []
    group = inputs.area.gsp_group_id
    year_of = charging_years(frame)
    dates = pd.to_datetime(frame[periods.SETTLEMENT_DATE]).dt.date.to_numpy()
    years = list(dict.fromkeys(year_of.tolist()))
    bands = assign_bands(time_band_table(), group, frame)
    site = inputs.site
    info = PeriodInfo(dates, frame[periods.SETTLEMENT_PERIOD].to_numpy(dtype=np.int64),
                      frame[periods.LOCAL_SLOT].to_numpy(dtype=np.int64),
                      frame[periods.IS_WEEKEND].to_numpy(dtype=bool))

    # Agreed capacity: typed, or (simulating) the site's own peak import.
    capacity = site.agreed_import_capacity_kva
    baseline = None
    if demand_mwh is not None and len(demand_mwh):
        baseline = peak_import_kva(demand_mwh, site.power_factor)
    if capacity is None and simulate:
        if baseline is None:
            errors.add(InputError(cell("agreed_import_capacity_kva"), None,
                                  "the agreed import capacity in kVA", "is blank"))
        else:
            capacity = baseline
            notes.append(f"{cell('agreed_import_capacity_kva')} blank: agreed capacity taken "
                         f"as the site's peak import before the battery, {capacity:,.0f} kVA "
                         f"(demand peak at power factor {site.power_factor:g})")
    stream1_capacity = None if capacity is None else (
        min(capacity, baseline) if baseline is not None else capacity)

    annual_kwh = None
    if inputs.annual_demand_mwh:
        annual_kwh = inputs.annual_demand_mwh * 1000.0
    elif demand_mwh is not None and len(demand_mwh):
        annual_kwh = float(np.sum(demand_mwh)) * 1000.0 * 365.0 / (len(demand_mwh) / 48.0)

    def derived_tariff(year: str, kva: float | None) -> tuple[str | None, str]:
        """The tariff key B9 and the capacity (or annual demand) give, and why."""
        voltage = inputs.voltage
        if voltage is None or voltage is VoltageLevel.EHV:
            return None, f"{cell('voltage_level')} {'blank' if voltage is None else 'EHV'}"
        if voltage is VoltageLevel.HV:
            family, amount, what = "hv site specific", kva, "kVA"
        elif kva is not None:
            family, amount, what = "lv site specific", kva, "kVA"
        else:
            family, amount, what = "non-domestic aggregated", annual_kwh, "kWh/year"
        if amount is None:
            return None, "no agreed capacity or annual demand to band the site"
        held = tables.threshold_years()
        at = year if year in held else min(held, key=lambda y: abs(int(y[:4]) - int(year[:4])))
        band = tables.residual_band(at, family, amount)
        assert band is not None
        return (f"{family} band {band.band}",
                f"{cell('voltage_level')} {voltage.value} and {amount:,.0f} {what}: "
                f"{band.describe()}")

    duos_held = tables.duos_years()
    typed_tariff = inputs.duos_tariff
    rates = {k: np.zeros(len(frame)) for k in
             ("duos", "tnuos", "bsuos", "ccl", "ro", "fit", "other")}
    llf = np.ones(len(frame))
    year_charges: list[YearCharges] = []
    total = [0.0, 0.0]  # DUoS, TNUoS £ of the agreed capacity
    base = [0.0, 0.0]  # the same for the site without the battery
    duos_cells = {b: cell(f"duos_{b}_p_per_kwh") for b in BANDS}
    for year in years:
        rows = year_of == year
        days = len(set(dates[rows]))
        held = year in duos_held
        derived, why = derived_tariff(year, capacity)
        tariff = None
        source = why
        if typed_tariff:
            tariff = tables.duos_tariff(year, group, typed_tariff)
            if held and tariff is None:
                names = tables.tariff_names(year, group)
                close = difflib.get_close_matches(typed_tariff, names, n=3, cutoff=0.4)
                errors.add(InputError(
                    cell("duos_tariff"), typed_tariff,
                    f"an LV/HV half-hourly tariff of the {inputs.area.dno} {year} statement"
                    + (f", e.g. {', '.join(close)}" if close else ""),
                    "is not in the charging statement"))
            source = f"{cell('duos_tariff')} typed"
            if tariff is not None and derived is not None and tariff.key != derived:
                want = tables.duos_tariff(year, group, derived)
                warnings.append(
                    f"{cell('duos_tariff')} {typed_tariff!r} contradicts {why} "
                    f"({want.name if want else derived}); the typed tariff is used")
        elif derived is not None:
            tariff = tables.duos_tariff(year, group, derived)
        # DUoS unit rates, per band of each period.
        unit = {}
        for code, band in enumerate(BANDS):
            typed = inputs.duos_p_per_kwh.get(band)
            published = None if tariff is None else getattr(tariff, f"{band}_p_per_kwh")
            if typed is not None:
                unit[band.value] = typed
                if tariff is not None and published is not None and differs(typed, published):
                    warnings.append(f"{duos_cells[band]} typed {typed:g} p/kWh differs from the "
                                    f"table's {published:g} p/kWh ({tariff.name}, {year}) by "
                                    f"more than x{OVERRIDE_FACTOR:g}")
            elif published is not None:
                unit[band.value] = published
            else:
                unit[band.value] = 0.0
                errors.add(InputError(
                    duos_cells[band], None,
                    f"the {band} DUoS rate in p/kWh: no tariff is held for {year} "
                    f"({why if held else f'no {inputs.area.dno} statement ' + _held_text(duos_held)})",
                    "is blank"))
            in_band = rows & (bands.codes == code)
            rates["duos"][in_band] = p_per_kwh_to_gbp_per_mwh(unit[band.value])

        why_daily = why if held else _held_text(duos_held)
        fixed, cap, tdr, tdr_band = _daily(layout, inputs, year, why_daily, capacity, tariff,
                                           errors.add)
        total[0] += days * (fixed + p_to_gbp(cap) * (capacity or 0.0))
        total[1] += days * tdr
        base_tariff = tariff
        if not typed_tariff and stream1_capacity != capacity:
            key, _ = derived_tariff(year, stream1_capacity)
            base_tariff = None if key is None else tables.duos_tariff(year, group, key)
        b_fixed, b_cap, b_tdr, _ = _daily(layout, inputs, year, why_daily, stream1_capacity,
                                          base_tariff, lambda e: None)
        base[0] += days * (b_fixed + p_to_gbp(b_cap) * (stream1_capacity or 0.0))
        base[1] += days * b_tdr

        applied = apply_levies(layout, inputs, rates, rows, dates, year, errors, warnings)
        apply_other_levies(layout, inputs, rates, rows, info, year, errors, applied)
        applied["LLF"] = _losses(inputs, llf, rows, bands.codes, year,
                                 None if tariff is None else tariff.key)
        if int(year[:4]) < tables.TDR_FROM.year and site.tnuos_residual_gbp_per_day is None:
            applied["TNUoS residual"] = "none before April 2023 (Triad-based then)"
        year_charges.append(YearCharges(
            year, days, int(rows.sum()), None if tariff is None else tariff.name,
            source if tariff is None else tariff.source, unit, fixed, cap, tdr, tdr_band,
            applied))
    errors.raise_if_any()

    for y in year_charges:
        notes.append(y.describe())
    blocks = [b for b in (inputs.non_bess, inputs.bess) if b is not None]
    if not simulate and blocks and all(b.other_levies.volume_mwh == 0 for b in blocks):
        notes.append("row 38 (other levies) blank: the CfD, CM, AAHEDC and Nuclear RAB "
                     "above are not in rows 51-60 (the `sheet` blocks are as typed)")
    for year, stand_in in bands.stand_ins.items():
        notes.append(f"{year} time bands: {stand_in}'s stand in (not held)")
    stream1 = FixedCharges(duos_gbp=base[0], tnuos_gbp=base[1])
    stream2: FixedCharges | None = FixedCharges(duos_gbp=total[0] - base[0],
                                                tnuos_gbp=total[1] - base[1])
    if stream2 is None or abs(stream2.total_gbp) < 1e-9:
        stream2 = None
        stream1 = FixedCharges(duos_gbp=total[0], tnuos_gbp=total[1])
    else:
        notes.append(f"the battery raises the agreed capacity from {stream1_capacity:,.0f} to "
                     f"{capacity:,.0f} kVA: £{stream2.total_gbp:,.2f} of fixed and capacity "
                     "charges are Stream 2's")
    limit = None
    if capacity is not None:
        limit = site_import_limit_mwh(capacity, site.power_factor)
    rates_obj = PeriodRates(
        duos_gbp_per_mwh=rates["duos"], tnuos_gbp_per_mwh=rates["tnuos"],
        bsuos_gbp_per_mwh=rates["bsuos"] * llf, ccl_gbp_per_mwh=rates["ccl"],
        ro_gbp_per_mwh=rates["ro"], fit_gbp_per_mwh=rates["fit"],
        other_levies_gbp_per_mwh=rates["other"] * llf, loss_factor=llf)
    return SiteRates(rates_obj, bands, stream1, stream2, capacity, limit, tuple(year_charges),
                     tuple(notes), tuple(warnings))


def _daily(layout: BessLayout, inputs: RefreshInputs, year: str, why: str,
           kva: float | None, tariff_row: tables.DuosTariff | None,
           need: Callable[[InputError], None]) -> tuple[float, float, float, str | None]:
    """Fixed £/day, capacity p/kVA/day, TNUoS residual £/day (and its band) of a year:
    typed, or the tariff's; ``need`` takes the error of a blank cell with no table."""
    cell = lambda key: layout.input(key).cell  # noqa: E731
    site = inputs.site
    fixed = site.duos_fixed_gbp_per_day
    if fixed is None:
        if tariff_row is None:
            need(InputError(cell("duos_fixed_gbp_per_day"), None,
                            f"the DUoS fixed charge in £/day: no tariff held for {year}"
                            f" ({why})", "is blank"))
            fixed = 0.0
        else:
            fixed = p_to_gbp(tariff_row.fixed_p_per_day or 0.0)
    cap = site.duos_capacity_p_per_kva_day
    if cap is None:
        if tariff_row is None:
            if kva:
                need(InputError(cell("duos_capacity_p_per_kva_day"), None,
                                f"the DUoS capacity charge in p/kVA/day: no tariff held "
                                f"for {year}", "is blank"))
            cap = 0.0
        else:
            cap = tariff_row.capacity_p_per_kva_day or 0.0
    tdr, tdr_band = site.tnuos_residual_gbp_per_day, None
    if tdr is None:
        if int(year[:4]) < tables.TDR_FROM.year:
            tdr = 0.0
        elif tariff_row is None:
            need(InputError(cell("tnuos_residual_gbp_per_day"), None,
                            f"the TNUoS demand residual in £/site/day: no DUoS tariff "
                            f"gives the band for {year}", "is blank"))
            tdr = 0.0
        else:
            tdr_band = tables.tdr_band_of(tariff_row.key)
            found = None if tdr_band is None else tables.tdr_gbp_per_day(year, tdr_band)
            if tdr_band is None:
                tdr = 0.0
            elif found is None:
                need(InputError(cell("tnuos_residual_gbp_per_day"), None,
                                f"the TNUoS demand residual of band {tdr_band} in "
                                f"£/site/day: not held for {year}", "is blank"))
                tdr = 0.0
            else:
                tdr = found.value
    return fixed, cap, tdr, tdr_band


def _losses(inputs: RefreshInputs, llf: FloatArray, rows: npt.NDArray[np.bool_],
            codes: npt.NDArray[np.int8], year: str, tariff_key: str | None) -> str:
    """The line loss factor of a year's periods (typed D15, or the table's by band, the
    nearest held year standing in); what was used, for row 61. TLM is not held: 1."""
    typed = inputs.levies.loss_factor
    if typed is not None:
        llf[rows] = typed
        return f"{typed:g} typed"
    group, voltage = inputs.area.gsp_group_id, inputs.voltage
    held = [y for y in llf_tables.llf_years()
            if llf_tables.loss_factors(y, group, tariff_key, voltage) is not None]
    if not held:
        return "1 (no LLF held for the site's voltage)"
    at = year if year in held else min(held, key=lambda y: abs(int(y[:4]) - int(year[:4])))
    found = llf_tables.loss_factors(at, group, tariff_key, voltage)
    assert found is not None
    for code, band in enumerate(BANDS):
        llf[rows & (codes == code)] = getattr(found, band.value)
    stand_in = "" if at == year else f", {at}'s standing in"
    return (f"{found.red:.4f}/{found.amber:.4f}/{found.green:.4f} ({found.source}{stand_in}; "
            "TLM 1, not held)")
