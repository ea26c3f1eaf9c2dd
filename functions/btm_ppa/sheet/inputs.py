"""From a BESS tab snapshot to model inputs: layout checks, typed values, and the
cross-checks that catch p/kWh typed where £/MWh is expected.

This is the boundary where cells become numbers, so it is where messages name cells.
Every problem found is collected, so the analyst sees all the wrong cells at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from btm_ppa.core.area import GspGroup
from btm_ppa.core.forecast import DEFAULT_FORECAST, PriceForecast
from btm_ppa.core.units import p_per_kwh_to_gbp_per_mwh, percent_to_fraction
from btm_ppa.core.valuation import BlockLine, CostBlock
from btm_ppa.core.vocab import BANDS, DuosBand, Method, VoltageLevel
from btm_ppa.errors import InputError, InputErrors
from btm_ppa.sheet import cells as cellparse
from btm_ppa.sheet.area import resolve_area
from btm_ppa.sheet.layout_check import check_layout, find_label_nearby, is_bess_tab
from btm_ppa.sheet.site import NO_SITE_CHARGES, SiteChargeInputs, read_site_charges
from btm_ppa.sheet.workbook import TabSnapshot
from sheets_layout import BessLayout, Block, Kind

#: A £/MWh figure this many times smaller than another for the same row is taken as
#: p/kWh typed where £/MWh is expected (1 p/kWh = £10/MWh).
_TENFOLD = (7.0, 14.0)
#: DUoS rates above this are £/MWh typed where p/kWh is expected (real reds are < 40).
_MAX_PLAUSIBLE_P_PER_KWH = 100.0
__all__ = ["check_layout", "check_window", "find_label_nearby", "is_bess_tab", "read_inputs",
           "read_method"]

#: The longest price window a refresh simulates (five years: 87,600 settlement periods),
#: checked from the dates before anything is fetched or allocated.
MAX_WINDOW_DAYS = 5 * 366


@dataclass(frozen=True)
class BatteryInputs:
    """F13-F18. Powers may be blank under `sheet`, which does not simulate."""

    import_power_kw: float | None
    export_power_kw: float | None
    duration_h: float | None
    cycles_per_day: float | None
    round_trip_efficiency_frac: float
    vlp_payment_gbp_per_mwh: float


@dataclass(frozen=True)
class LevyRates:
    """Per-MWh charges on every MWh imported (F31, F32, F35-F37); None where blank: the
    table's rate of each period then applies. [£/MWh]"""

    tnuos_gbp_per_mwh: float | None
    bsuos_gbp_per_mwh: float | None
    ccl_gbp_per_mwh: float | None
    ro_gbp_per_mwh: float | None
    fit_gbp_per_mwh: float | None
    # layout 4 (D11:D17): blank = the table's where held
    cfd_gbp_per_mwh: float | None = None
    cm_gbp_per_mwh: float | None = None
    aahedc_gbp_per_mwh: float | None = None
    nuclear_rab_gbp_per_mwh: float | None = None
    loss_factor: float | None = None
    triad_gbp_per_kw: float | None = None
    cca: bool = False  # CCL at the Climate Change Agreement discount


@dataclass(frozen=True)
class RefreshInputs:
    """Everything the analyst typed, in model units."""

    area: GspGroup
    voltage: VoltageLevel | None
    duos_tariff: str | None
    duos_p_per_kwh: dict[DuosBand, float | None]  # None: blank, the table's rate applies
    duos_gbp_per_mwh: dict[DuosBand, float | None]
    battery: BatteryInputs
    levies: LevyRates
    window_start: dt.date | None
    window_end: dt.date | None
    method: Method
    annual_demand_mwh: float | None
    ppa_price_gbp_per_mwh: float
    non_bess: CostBlock | None  # analyst blocks, under `sheet` only
    bess: CostBlock | None
    site: SiteChargeInputs = NO_SITE_CHARGES
    #: F19: battery wear per MWh discharged; None when blank (not priced). [£/MWh]
    wear_gbp_per_mwh: float | None = None
    price_forecast: PriceForecast = DEFAULT_FORECAST  # B25, realistic's forecast
    chart_week: dt.date | None = None  # the Dispatch week tab's first day (blank: window's)


def read_method(layout: BessLayout, snapshot: TabSnapshot) -> Method | None:
    """The method cell, or None when it does not hold a method (for the status row)."""
    try:
        return _method(layout, snapshot)
    except InputError:
        return None


def check_window(layout: BessLayout, start: dt.date, end: dt.date) -> None:
    """A window's span from its dates, before any price is fetched."""
    start_cell, end_cell = layout.input("window_start").cell, layout.input("window_end").cell
    if end < start:
        raise InputError(end_cell, end, f"a date on or after the window start {start_cell} "
                         f"({start})", "is before the window start")
    days = (end - start).days + 1
    if days > MAX_WINDOW_DAYS:
        raise InputError(start_cell, start, f"a window {start_cell}:{end_cell} of at most "
                         f"{MAX_WINDOW_DAYS:,} days (five years); this one is {days:,} days "
                         f"to {end}", "makes the price window too long")


class _Collector:
    """Runs parsers and gathers their InputErrors instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[InputError] = []

    def take(self, parse: Callable[[], Any]) -> Any:
        try:
            return parse()
        except InputError as exc:
            self.errors.append(exc)
            return None

    def add(self, error: InputError) -> None:
        self.errors.append(error)

    def raise_if_any(self) -> None:
        if self.errors:
            raise self.errors[0] if len(self.errors) == 1 else InputErrors(self.errors)


def _value(layout: BessLayout, snapshot: TabSnapshot, key: str, collect: _Collector,
           required: bool | None = None) -> Any:
    spec = layout.input(key)
    raw = snapshot.get(spec.cell)
    need = spec.required if required is None else required
    if spec.kind is Kind.NUMBER:
        return collect.take(lambda: cellparse.parse_number(
            spec.cell, raw, spec.unit, required=need, minimum=spec.minimum,
            maximum=spec.maximum))
    if spec.kind is Kind.PERCENT:
        return collect.take(lambda: cellparse.parse_percent(spec.cell, raw, required=need,
                                                            minimum=spec.minimum))
    if spec.kind is Kind.DATE:
        return collect.take(lambda: cellparse.parse_date(
            spec.cell, raw, required=need, earliest=spec.earliest, latest=spec.latest))
    return cellparse.parse_text(raw)


def _yes_no(layout: BessLayout, snapshot: TabSnapshot, key: str, collect: _Collector) -> bool:
    spec = layout.input(key)
    text = cellparse.parse_text(snapshot.get(spec.cell))
    if text is None or text.casefold() in ("no", "n", "false", "0"):
        return False
    if text.casefold() in ("yes", "y", "true", "1"):
        return True
    collect.add(InputError(spec.cell, text, "yes or no (blank = no)", "is not yes or no"))
    return False


def _method(layout: BessLayout, snapshot: TabSnapshot) -> Method:
    spec = layout.input("method")
    text = cellparse.parse_text(snapshot.get(spec.cell))
    if text is None:
        return Method.SHEET
    try:
        return Method(text.casefold())
    except ValueError:
        raise InputError(spec.cell, text, "one of " + ", ".join(m.value for m in Method),
                         "is not a method") from None


def _price_forecast(layout: BessLayout, snapshot: TabSnapshot) -> PriceForecast:
    spec = layout.input("price_forecast")
    text = cellparse.parse_text(snapshot.get(spec.cell))
    if text is None:
        return DEFAULT_FORECAST
    found = PriceForecast.parse(text)
    if found is None:
        raise InputError(spec.cell, text, "one of " + ", ".join(f.value for f in PriceForecast)
                         + f" (blank: {DEFAULT_FORECAST.value})", "is not a price forecast")
    return found


def _block(layout: BessLayout, block: Block, snapshot: TabSnapshot,
           collect: _Collector) -> CostBlock | None:
    lines: dict[str, BlockLine] = {}
    complete = True
    for row in layout.block_rows:
        parsed: list[float] = []
        for spec in (block.volume_cell(row), block.cost_cell(row)):
            try:
                value = cellparse.parse_number(spec.cell, snapshot.get(spec.cell), spec.unit,
                                               required=spec.required, minimum=spec.minimum,
                                               maximum=spec.maximum)
            except InputError as exc:
                collect.add(exc)
                complete = False
                continue
            parsed.append(0.0 if value is None else value)  # a later layout's row: blank = 0
        if len(parsed) == 2:
            lines[row.key] = BlockLine(*parsed)
    if not complete:
        return None
    return CostBlock(
        duos={band: lines[f"{band}_duos"] for band in BANDS},
        tnuos=lines["tnuos"], bsuos=lines["bsuos"], ccl=lines["ccl"], ro=lines["ro"],
        fit=lines["fit"], other_levies=lines.get("other_levies", BlockLine(0.0, 0.0)),
    )


def read_inputs(layout: BessLayout, snapshot: TabSnapshot,
                groups: tuple[GspGroup, ...]) -> RefreshInputs:
    """Check the layout, parse every input and cross-check units. Raises LayoutError,
    InputError or InputErrors."""
    collect = _Collector()
    method = collect.take(lambda: _method(layout, snapshot)) or Method.SHEET
    check_layout(layout, snapshot)

    mpan, area_spec = layout.input("mpan_core"), layout.input("dno_area")
    area = collect.take(lambda: resolve_area(
        groups, mpan.cell, snapshot.get(mpan.cell), area_spec.cell, snapshot.get(area_spec.cell)))
    voltage_spec = layout.input("voltage_level")
    voltage_text = cellparse.parse_text(snapshot.get(voltage_spec.cell))
    voltage = None
    if voltage_text is not None:
        try:
            voltage = VoltageLevel(voltage_text.upper())
        except ValueError:
            collect.add(InputError(voltage_spec.cell, voltage_text, "LV, HV or EHV",
                                   "is not a voltage level"))

    duos_p = {band: _value(layout, snapshot, f"duos_{band}_p_per_kwh", collect) for band in BANDS}
    simulate = method is not Method.SHEET
    battery = BatteryInputs(
        import_power_kw=_value(layout, snapshot, "import_power_kw", collect, simulate),
        export_power_kw=_value(layout, snapshot, "export_power_kw", collect, simulate),
        duration_h=_value(layout, snapshot, "duration_h", collect, simulate),
        cycles_per_day=_value(layout, snapshot, "cycles_per_day", collect, simulate),
        round_trip_efficiency_frac=percent_to_fraction(
            _value(layout, snapshot, "round_trip_efficiency_pct", collect) or 100.0),
        vlp_payment_gbp_per_mwh=_value(layout, snapshot, "vlp_payment_gbp_per_mwh", collect) or 0,
    )
    levy_values = {key: _value(layout, snapshot, key, collect) for key in (
        "tnuos_gbp_per_mwh", "bsuos_gbp_per_mwh", "ccl_gbp_per_mwh", "ro_gbp_per_mwh",
        "fit_gbp_per_mwh")}
    levy_values |= {key: _value(layout, snapshot, key, collect) for key in (
        "cfd_gbp_per_mwh", "cm_gbp_per_mwh", "aahedc_gbp_per_mwh", "nuclear_rab_gbp_per_mwh",
        "loss_factor", "triad_gbp_per_kw")}
    cca = _yes_no(layout, snapshot, "cca", collect)
    window_start = _value(layout, snapshot, "window_start", collect)
    window_end = _value(layout, snapshot, "window_end", collect)
    chart_week = _value(layout, snapshot, "dispatch_chart_week", collect)
    annual_demand = _value(layout, snapshot, "annual_demand_mwh", collect)
    ppa = _value(layout, snapshot, "ppa_price_gbp_per_mwh", collect)
    wear = _value(layout, snapshot, "wear_gbp_per_mwh", collect)
    forecast = collect.take(lambda: _price_forecast(layout, snapshot)) or DEFAULT_FORECAST
    if simulate:
        for key in ("import_power_kw", "export_power_kw", "duration_h", "cycles_per_day"):
            value = getattr(battery, key)
            spec = layout.input(key)
            least = spec.minimum_simulated or 0.0
            if value is not None and (value <= 0 or value < least):
                collect.add(InputError(
                    spec.cell, value, f"a number above 0 in {spec.unit} (at least {least:g}) "
                    f"for the {method.value} method", "is not positive" if value <= 0 else "is too small"))
        has_hh = layout.hh_data_tab in snapshot.tab_names
        if not has_hh and annual_demand is None:
            spec = layout.input("annual_demand_mwh")
            collect.add(InputError(spec.cell, None, f"annual site demand in MWh, or an "
                                   f"'{layout.hh_data_tab}' tab", "is blank"))
        elif not has_hh and annual_demand == 0:
            spec = layout.input("annual_demand_mwh")
            collect.add(InputError(spec.cell, 0, "annual site demand above 0 MWh", "is zero"))
        elif not has_hh and annual_demand < (layout.input("annual_demand_mwh").minimum_simulated
                                             or 0.0):
            spec = layout.input("annual_demand_mwh")
            collect.add(InputError(spec.cell, annual_demand, f"annual site demand of at least "
                                   f"{spec.minimum_simulated:g} MWh", "is too small"))
    if window_start is not None and window_end is not None:
        collect.take(lambda: check_window(layout, window_start, window_end))
    site = read_site_charges(layout, snapshot,
                             lambda key: _value(layout, snapshot, key, collect), collect.add)
    non_bess = bess = None
    if method is Method.SHEET:
        non_bess = _block(layout, layout.non_bess, snapshot, collect)
        bess = _block(layout, layout.bess, snapshot, collect)
    collect.raise_if_any()

    _check_duos_units(layout, duos_p, non_bess, bess, collect)
    _check_levy_units(layout, levy_values, non_bess, bess, collect)
    collect.raise_if_any()
    return RefreshInputs(
        area=area, voltage=voltage,
        duos_tariff=cellparse.parse_text(snapshot.get(layout.input("duos_tariff").cell)),
        duos_p_per_kwh=duos_p,
        duos_gbp_per_mwh={band: None if duos_p[band] is None
                          else p_per_kwh_to_gbp_per_mwh(duos_p[band]) for band in BANDS},
        battery=battery, levies=LevyRates(**levy_values, cca=cca), window_start=window_start,
        window_end=window_end, method=method, annual_demand_mwh=annual_demand,
        ppa_price_gbp_per_mwh=ppa, non_bess=non_bess, bess=bess, site=site,
        chart_week=chart_week, wear_gbp_per_mwh=wear, price_forecast=forecast,
    )


def _tenfold_below(small: float, large: float) -> bool:
    return small > 0 and large > 0 and _TENFOLD[0] <= large / small <= _TENFOLD[1]


def _implied(line: BlockLine) -> float | None:
    """The £/MWh rate a block line was costed at, if it has volume and cost."""
    if line.volume_mwh > 0 and line.cost_gbp > 0:
        return line.cost_gbp / line.volume_mwh
    return None


def _check_duos_units(layout: BessLayout, duos_p: dict[DuosBand, float | None],
                      non_bess: CostBlock | None, bess: CostBlock | None,
                      collect: _Collector) -> None:
    """Red >= Amber >= Green, rates plausible in p/kWh, block costs costed in £/MWh."""
    cell = {band: layout.input(f"duos_{band}_p_per_kwh").cell for band in BANDS}
    typed = {band: rate for band, rate in duos_p.items() if rate is not None}
    for band, rate in typed.items():
        if rate > _MAX_PLAUSIBLE_P_PER_KWH:
            collect.add(InputError(
                cell[band], rate,
                f"a DUoS rate in p/kWh (real {band} rates are below {_MAX_PLAUSIBLE_P_PER_KWH:g} "
                f"p/kWh; {rate:g} p/kWh would be £{rate * 10:,.2f}/MWh)",
                "looks like £/MWh typed where p/kWh is expected"))
    for higher, lower in ((DuosBand.RED, DuosBand.AMBER), (DuosBand.AMBER, DuosBand.GREEN)):
        if higher in typed and lower in typed and typed[higher] < typed[lower]:
            collect.add(InputError(
                cell[higher], typed[higher],
                f"{higher} >= {lower} ({cell[lower]} is {typed[lower]:g} p/kWh); all three "
                "in p/kWh, as the charging statements publish them",
                f"({higher} DUoS) is below {lower}"))
    if collect.errors:
        return
    for block, spec_block in ((non_bess, layout.non_bess), (bess, layout.bess)):
        if block is None:
            continue
        for band in BANDS:
            implied = _implied(block.duos[band])
            if band not in typed:
                continue
            site = p_per_kwh_to_gbp_per_mwh(typed[band])
            if implied is not None and _tenfold_below(implied, site):
                row = layout.block_row(f"{band}_duos")
                cost = spec_block.cost_cell(row).cell
                volume = spec_block.volume_cell(row).cell
                collect.add(InputError(
                    cost, block.duos[band].cost_gbp,
                    f"£ at £/MWh rates: {volume} {block.duos[band].volume_mwh:g} MWh x "
                    f"£{site:,.2f}/MWh ({cell[band]} {duos_p[band]:g} p/kWh) = "
                    f"£{block.duos[band].volume_mwh * site:,.2f}",
                    f"is £{implied:,.2f}/MWh, ten times below the {band} DUoS rate: it looks "
                    "costed with p/kWh typed where £/MWh is expected"))


def _check_levy_units(layout: BessLayout, rates: dict[str, float], non_bess: CostBlock | None,
                      bess: CostBlock | None, collect: _Collector) -> None:
    """A BESS levy rate ten times below what the blocks were costed at is p/kWh."""
    if non_bess is None or bess is None:
        return
    for row in layout.block_rows:
        if row.rate_input is None:
            continue
        spec = layout.input(row.rate_input)
        rate = rates[row.rate_input]
        if rate is None:
            continue
        line_nb = getattr(non_bess, row.key)
        line_bess = getattr(bess, row.key)
        for line, block in ((line_nb, layout.non_bess), (line_bess, layout.bess)):
            implied = _implied(line)
            if implied is not None and _tenfold_below(rate, implied):
                collect.add(InputError(
                    spec.cell, rate,
                    f"£/MWh; {block.cost_cell(row).cell} costs this row at £{implied:,.2f}/MWh",
                    "looks like p/kWh typed where £/MWh is expected"))
                break
