"""The refresh use case: read the BESS tab, price it, compute, write rows 40-42 and 50-62.

One read and one write per refresh. On any problem with the tab's content the figures
are left as they were and only the status row says what is wrong (which cell, what was
seen, what was expected); inputs are never written.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from btm_ppa import reference
from btm_ppa import warehouse as wh
from btm_ppa.core.duos import assign_bands
from btm_ppa.core.prices import band_average_prices
from btm_ppa.core.results import ResultTable, result_table
from btm_ppa.core.valuation import SheetMethodInputs, value_sheet_method
from btm_ppa.core.vocab import BANDS, DuosBand, Method
from btm_ppa.errors import BtmError, InputError, LayoutError
from btm_ppa.sheet_inputs import RefreshInputs, read_inputs
from btm_ppa.sheet_outputs import (
    PricesUsed,
    find_status_row,
    result_writes,
    status_writes,
    system_buy_writes,
)
from btm_ppa.warehouse import PriceWarehouse
from btm_ppa.workbook import CellWrite, TabSnapshot, Workbook
from sheets_layout import BessLayout, load_bess_layout

log = logging.getLogger(__name__)


@dataclass
class RefreshOutcome:
    """What a refresh did, for the CLI, the HTTP response and logs."""

    ok: bool
    status: str  # the text written to the status cell ("OK" or "ERROR: ...")
    method: Method | None = None
    table: ResultTable | None = None
    prices: PricesUsed | None = None
    writes: list[CellWrite] = field(default_factory=list)
    error: BtmError | None = None
    status_written: bool = False
    warnings: list[str] = field(default_factory=list)


def refresh(
    workbook: Workbook,
    warehouse: PriceWarehouse,
    *,
    tab: str | None = None,
    layout: BessLayout | None = None,
    now: dt.datetime | None = None,
) -> RefreshOutcome:
    """Refresh one BESS tab. Never raises BtmError: problems come back in the outcome.

    WorkbookUnavailableError and a missing tab are reported without writing anything
    (there is nowhere safe to write); every other problem is written to the status row.
    """
    layout = layout or load_bess_layout()
    tab = tab or layout.tab_name
    now = now or dt.datetime.now(dt.UTC)
    try:
        snapshot = workbook.read(tab, layout.read_range, optional_tabs=(layout.hh_data_tab,))
    except BtmError as exc:
        return RefreshOutcome(ok=False, status=f"ERROR: {exc.message}", error=exc)

    method: Method | None = None
    try:
        inputs = read_inputs(layout, snapshot, reference.read_gsp_groups())
        method = inputs.method
        outcome = _compute(layout, inputs, warehouse, now)
    except BtmError as exc:
        return _report_error(workbook, tab, layout, snapshot, exc, method, now)
    try:
        workbook.write(tab, outcome.writes)
    except BtmError as exc:  # locked or unshared between read and write: nothing written
        return RefreshOutcome(ok=False, status=f"ERROR: {exc.message}", method=method, error=exc)
    return outcome


def _compute(layout: BessLayout, inputs: RefreshInputs, warehouse: PriceWarehouse,
             now: dt.datetime) -> RefreshOutcome:
    start_cell = layout.input("window_start").cell
    end_cell = layout.input("window_end").cell
    window = wh.resolve_window(warehouse, inputs.window_start, inputs.window_end,
                               start_cell, end_cell)
    prices = wh.window_prices(warehouse, window, start_cell, end_cell)
    present = prices.present
    bands = assign_bands(reference.read_time_bands(), inputs.area.gsp_group_id, present)
    band_prices = band_average_prices(
        present["system_buy_price_gbp_per_mwh"].to_numpy(), bands.codes)

    if inputs.method is not Method.SHEET:
        raise InputError(layout.input("method").cell, inputs.method.value,
                         "sheet (the greedy and optimal methods are not available yet)",
                         "is not available")
    assert inputs.non_bess is not None and inputs.bess is not None  # read_inputs under SHEET
    _check_bands_priced(layout, inputs, band_prices.period_count, f"{start_cell}:{end_cell}")
    valuation = value_sheet_method(
        SheetMethodInputs(
            non_bess=inputs.non_bess, bess=inputs.bess,
            ppa_price_gbp_per_mwh=inputs.ppa_price_gbp_per_mwh,
            vlp_payment_gbp_per_mwh=inputs.battery.vlp_payment_gbp_per_mwh,
            round_trip_efficiency_frac=inputs.battery.round_trip_efficiency_frac,
        ),
        band_prices,
    )
    table = result_table(valuation.stream1, valuation.stream2)
    used = PricesUsed(
        window=prices, band_prices=band_prices,
        stream1_average_gbp_per_mwh=valuation.non_bess_system_buy.average_gbp_per_mwh,
        stream2_average_gbp_per_mwh=valuation.bess_system_buy.average_gbp_per_mwh,
        band_stand_ins=dict(bands.stand_ins), warehouse=warehouse.description,
    )
    warnings = []
    if prices.missing:
        warnings.append(
            f"{len(prices.missing)} settlement period(s) in the window have no price "
            f"({prices.missing_summary()}); band averages use the {len(present):,} priced")
    writes = system_buy_writes(layout, valuation)
    writes += result_writes(layout, table, used, inputs.method, now, warnings)
    return RefreshOutcome(ok=True, status="OK", method=inputs.method, table=table,
                          prices=used, writes=writes, warnings=warnings)


def _check_bands_priced(layout: BessLayout, inputs: RefreshInputs,
                        counts: Mapping[DuosBand, int], window_cells: str) -> None:
    for block, spec in ((inputs.non_bess, layout.non_bess), (inputs.bess, layout.bess)):
        assert block is not None
        for band in BANDS:
            volume = block.duos[band].volume_mwh
            if volume > 0 and counts[band] == 0:
                cell = spec.volume_cell(layout.block_row(f"{band}_duos")).cell
                raise InputError(
                    cell, volume,
                    f"0 MWh, or a window ({window_cells}) that holds {band} periods",
                    f"has {band} volume but the window has no {band} period to price it")


def _report_error(workbook: Workbook, tab: str, layout: BessLayout, snapshot: TabSnapshot,
                  exc: BtmError, method: Method | None, now: dt.datetime) -> RefreshOutcome:
    status = f"ERROR: {exc.message}"
    outcome = RefreshOutcome(ok=False, status=status, method=method, error=exc)
    row = find_status_row(layout, snapshot)
    if row is None:
        log.warning("status row not found; error not written to the sheet: %s", exc.message)
        return outcome
    if isinstance(exc, LayoutError) and row != layout.result_row("status").row:
        status += f" (status shown in row {row}, where the status row now is)"
        outcome.status = status
    writes = status_writes(layout, status, method, now, row=row)
    try:
        workbook.write(tab, writes)
    except BtmError as write_exc:
        log.warning("could not write the error to the sheet: %s", write_exc.message)
        return outcome
    outcome.writes = writes
    outcome.status_written = True
    return outcome
