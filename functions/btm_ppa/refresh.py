"""The refresh use case: read the BESS tab, price it, compute, write rows 40-42 and 50-62.

One read and one write per refresh. On any problem with the tab's content the figures
are left as they were and only the status row says what is wrong (which cell, what was
seen, what was expected); inputs are never written.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from btm_ppa.budgets import (
    BUDGET_ENV,
    DEFAULT_BUDGET_S,
    READ_BUDGET_S,
    deal_budget_s,
    refresh_budget_s,
)
from btm_ppa.core import dispatch, interrupts
from btm_ppa.core.duos import assign_bands
from btm_ppa.core.prices import PriceBasis, band_average_prices
from btm_ppa.core.results import ResultTable, result_table, with_fixed_charges
from btm_ppa.core.simulation import schedule_frame
from btm_ppa.core.valuation import SheetMethodInputs, value_sheet_method
from btm_ppa.core.vocab import Method
from btm_ppa.deal import DealOutcome, SizingPending, SizingSuperseded, Sweep
from btm_ppa.errors import (
    BtmError,
    InternalError,
    RefreshTimeoutError,
    sheet_status_for,
)
from btm_ppa.prices import warehouse as wh
from btm_ppa.prices.warehouse import PriceWarehouse
from btm_ppa.reference import files as reference
from btm_ppa.sheet.deal_outputs import deal_tab_writes, progress_writes
from btm_ppa.sheet.dispatch_tabs import no_schedule_tabs, owned_tabs, schedule_tabs
from btm_ppa.sheet.guidance import tab_guides
from btm_ppa.sheet.inputs import RefreshInputs, check_window, read_inputs, read_method
from btm_ppa.sheet.outputs import (
    PricesUsed,
    block_writes,
    no_schedule_table,
    ppa_writes,
    result_writes,
    simulated_before,
    system_buy_writes,
)
from btm_ppa.sheet.stale import error_writes, stale_after_edit
from btm_ppa.sheet.valuation_tab import capture_note, valuation_table, wear_note
from btm_ppa.sheet.verdicts import (
    check_bands_priced,
    compare_methods,
    published_rate_notes,
    schedule_status,
)
from btm_ppa.sheet.workbook import AnyChart, CellValue, CellWrite, TableWrite, TabSnapshot, Workbook
from btm_ppa.simulate import (
    SiteCharges,
    peak_import_note,
    plan_schedules,
    simulation,
    site_charges,
    validation_notes,
    value_all,
)
from sheets_layout import BessLayout, load_bess_layout, load_deal_layout

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
    tables: dict[str, TableWrite] = field(default_factory=dict)  # whole tabs (Dispatch)
    schedule: pd.DataFrame | None = None  # greedy/optimal: the per-period schedule
    charts: list[AnyChart] = field(default_factory=list)  # the Deal tab's
    deal: DealOutcome | None = None
    queued: bool = False  # the sizing sweep went out as tasks: only its progress written


def refresh(
    workbook: Workbook,
    warehouse: PriceWarehouse,
    *,
    tab: str | None = None,
    layout: BessLayout | None = None,
    now: dt.datetime | None = None,
    budget_s: float | None = None,
    sweep: Sweep | None = None,
    sheet: object = None,
) -> RefreshOutcome:
    """Refresh one BESS tab. Never raises BtmError: problems come back in the outcome.

    WorkbookUnavailableError and a missing tab are reported without writing anything;
    every other problem, running out of the time budget (``budget_s`` seconds, by default
    ``refresh_budget_s()``; RefreshTimeoutError) too, is written to the status row, and
    the previous results in rows 51-61 are kept and marked stale (``stale_marking``).
    ``sweep`` runs the Deal tab's sizing elsewhere (Cloud Tasks): while it is not all in,
    only its progress is written (``queued``); ``sheet`` names the sheet for its digest.
    """
    budget = refresh_budget_s() if budget_s is None else budget_s
    layout = layout or load_bess_layout()
    tab = tab or layout.tab_name
    now = now or dt.datetime.now(dt.UTC)
    reading = time.monotonic()
    snapshot = _read(workbook, tab, layout)
    if isinstance(snapshot, RefreshOutcome):
        return snapshot
    deal_tab = load_deal_layout().tab_name
    if deal_tab in snapshot.tables and budget_s is None:
        budget = max(budget, deal_budget_s())
    method = read_method(layout, snapshot)  # for the status row, even when inputs are wrong
    try:
        inputs = read_inputs(layout, snapshot, reference.read_gsp_groups())
        method = inputs.method
        if (read_s := time.monotonic() - reading) > READ_BUDGET_S:
            raise RefreshTimeoutError(f"reading the workbook took {read_s:.1f} s, over its "
                                      f"{READ_BUDGET_S:g} s budget; nothing was written")
        deadline = time.monotonic() + budget  # the solve's budget starts once it is read
        outcome = _compute(layout, inputs, warehouse, now, snapshot.tables, deadline, budget,
                           simulated_before=simulated_before(layout, snapshot))
        outcome.tables = owned_tabs(layout, tab, outcome.tables)  # each BESS tab its own
        if deal_tab in snapshot.tables:  # the Deal tab's figures and charts, in the one write
            outcome.deal, writes, charts = deal_tab_writes(
                layout, inputs, warehouse, snapshot.tables, now, deadline, sweep, sheet)
            outcome.writes += writes
            outcome.charts += charts
    except (SizingPending, SizingSuperseded) as later:  # the sweep runs on as tasks
        return _sizing_progress(workbook, tab, later, method)
    except BtmError as exc:  # the timeout too: its status row, the results marked stale
        if interrupts.requested():  # DuckDB's interrupted query, say: Ctrl-C, not an error
            raise KeyboardInterrupt from exc
        return _report_error(workbook, tab, layout, snapshot, exc, method, now)
    except Exception as exc:  # a bug: the status row must not keep saying OK
        if interrupts.requested():  # a library's own error for a Ctrl-C inside it
            raise KeyboardInterrupt from exc
        log.exception("refresh crashed")
        return _report_error(workbook, tab, layout, snapshot, InternalError(
            f"internal error ({type(exc).__name__}) while computing; the figures were left "
            "as they were; please report it"), method, now)
    guides = tab_guides(layout, [g.name for g in reference.read_gsp_groups()])
    try:  # the guides only where the layout matched: on success
        if outcome.charts:
            workbook.write(tab, outcome.writes, outcome.tables, outcome.charts, guides=guides)
        else:
            workbook.write(tab, outcome.writes, outcome.tables, guides=guides)
    except BtmError as exc:  # locked or unshared between read and write: nothing written
        return RefreshOutcome(ok=False, status=f"ERROR: {exc.message}", method=method, error=exc)
    outcome.status_written = True
    return _stale_if_edited(workbook, tab, layout, snapshot, outcome, now)


def _sizing_progress(workbook: Workbook, tab: str, later: Exception,
                     method: Method | None) -> RefreshOutcome:
    """Only the sweep's progress (the Deal tab's status cell); a superseded gather writes
    nothing (the refresh the change queued answers)."""
    if isinstance(later, SizingSuperseded):
        return RefreshOutcome(ok=True, status=str(later), method=method)
    assert isinstance(later, SizingPending)
    writes = progress_writes(later.status)
    workbook.write(tab, writes)  # a BtmError here reaches the caller: nothing else was written
    return RefreshOutcome(ok=True, status=later.status, method=method, writes=writes,
                          queued=True, status_written=True)


def _stale_if_edited(workbook: Workbook, tab: str, layout: BessLayout, snapshot: TabSnapshot,
                     outcome: RefreshOutcome, now: dt.datetime) -> RefreshOutcome:
    """Sheets has no transaction: an edit that landed while the results were written marks
    them stale, by cell (``sheet/stale.py``), and the caller runs the refresh again."""
    check = getattr(workbook, "changed_since_read", None)
    written = {w.address for w in outcome.writes if w.tab in (None, tab)}
    # Cells this write put on other tabs (the Deal tab's results), and tabs it replaced whole,
    # are not an analyst's edit.
    elsewhere: dict[str, set[str]] = {}
    for w in outcome.writes:
        if w.tab not in (None, tab):
            elsewhere.setdefault(w.tab, set()).add(w.address)
    changed = (check(written, elsewhere=elsewhere, replaced=set(outcome.tables))
               if check is not None else [])
    if not changed:
        return outcome
    writes, error = stale_after_edit(layout, snapshot, outcome.writes, changed,
                                     outcome.method, now)
    stale = RefreshOutcome(ok=False, status=f"STALE: {error.message}", method=outcome.method,
                           error=error, warnings=outcome.warnings)
    try:
        workbook.write(tab, writes)
    except BtmError as exc:
        log.warning("could not mark the results stale: %s", exc.message)
        return stale
    stale.writes, stale.status_written = writes, True
    return stale


def _read(workbook: Workbook, tab: str, layout: BessLayout) -> TabSnapshot | RefreshOutcome:
    """The one read of a refresh, or the outcome saying why the workbook could not be read
    (nothing is written then: there is nowhere safe to write)."""
    try:
        return workbook.read(tab, layout.read_range,
                             optional_tabs=(layout.hh_data_tab, load_deal_layout().tab_name))
    except BtmError as exc:
        return RefreshOutcome(ok=False, status=f"ERROR: {exc.message}", error=exc)


def validate(workbook: Workbook, *, tab: str | None = None, layout: BessLayout | None = None,
             now: dt.datetime | None = None,
             warehouse: PriceWarehouse | None = None) -> RefreshOutcome:
    """Check the layout and every input cell. Nothing is written, whatever is found: a
    problem comes back in the outcome's status (the text a refresh would put in the status
    row). With a warehouse, the notes also give the peak import greedy and optimal would
    plan."""
    layout = layout or load_bess_layout()
    tab = tab or layout.tab_name
    now = now or dt.datetime.now(dt.UTC)
    snapshot = _read(workbook, tab, layout)
    if isinstance(snapshot, RefreshOutcome):
        return snapshot
    try:
        inputs = read_inputs(layout, snapshot, reference.read_gsp_groups())
        site = validation_notes(layout, inputs, warehouse, snapshot.tables, now.date(),
                                deadline=time.monotonic() + refresh_budget_s())
        notes = published_rate_notes(layout, inputs, now) + site
    except BtmError as exc:  # reported to the caller alone: validation writes nothing
        return RefreshOutcome(ok=False, status=sheet_status_for(exc),
                              method=read_method(layout, snapshot), error=exc)
    checked = len(layout.inputs) + (2 * 2 * len(layout.block_rows) if inputs.non_bess else 0)
    # The add-on shows the status alone: the residual band and peak import go in it too.
    capacity_cell = layout.input("agreed_import_capacity_kva").cell
    shown = [n for n in site if n.startswith(("peak site import", f"{capacity_cell} "))]
    return RefreshOutcome(ok=True, status=f"VALID: {checked} input cells checked, none wrong "
                          f"(method {inputs.method.value}, DNO area {inputs.area.name})"
                          + "".join(f"; {n}" for n in shown),
                          method=inputs.method, warnings=notes)


def _compute(layout: BessLayout, inputs: RefreshInputs, warehouse: PriceWarehouse,
             now: dt.datetime, snapshot_tables: Mapping[str, list[list[CellValue]]],
             deadline: float | None = None, budget_s: float = DEFAULT_BUDGET_S,
             simulated_before: bool = False) -> RefreshOutcome:
    start_cell = layout.input("window_start").cell
    end_cell = layout.input("window_end").cell
    window = wh.resolve_window(warehouse, inputs.window_start, inputs.window_end,
                               start_cell, end_cell)
    check_window(layout, window.start, window.end)  # before any price is fetched
    prices = wh.window_prices(warehouse, window, start_cell, end_cell, inputs.site.price_basis,
                              layout.input("price_basis").cell)
    present = prices.present
    bands = assign_bands(reference.read_time_bands(), inputs.area.gsp_group_id, present)
    band_prices = band_average_prices(present[prices.price_column].to_numpy(), bands.codes)
    charges = site_charges(layout, inputs, prices.frame, snapshot_tables,
                           simulate=inputs.method is not Method.SHEET)
    notes = [f"price basis: {prices.basis.value}" + (
        " (Elexon market index price, MID)" if prices.basis is PriceBasis.MARKET_INDEX else ""),
        *charges.notes]

    if inputs.method is not Method.SHEET:
        return _compute_simulated(layout, inputs, warehouse, prices, snapshot_tables, now,
                                  charges, notes, deadline, budget_s)
    assert inputs.non_bess is not None and inputs.bess is not None  # read_inputs under SHEET
    check_bands_priced(layout, inputs, band_prices.period_count, f"{start_cell}:{end_cell}")
    valuation = value_sheet_method(
        SheetMethodInputs(
            non_bess=inputs.non_bess, bess=inputs.bess,
            ppa_price_gbp_per_mwh=inputs.ppa_price_gbp_per_mwh,
            vlp_payment_gbp_per_mwh=inputs.battery.vlp_payment_gbp_per_mwh,
            round_trip_efficiency_frac=inputs.battery.round_trip_efficiency_frac,
        ),
        band_prices,
    )
    table = with_fixed_charges(result_table(valuation.stream1, valuation.stream2),
                               charges.fixed, charges.stream2_fixed)
    used = PricesUsed(
        window=prices, band_prices=band_prices,
        stream1_average_gbp_per_mwh=valuation.non_bess_system_buy.average_gbp_per_mwh,
        stream2_average_gbp_per_mwh=valuation.bess_system_buy.average_gbp_per_mwh,
        band_stand_ins=dict(bands.stand_ins), warehouse=warehouse.description,
        notes=tuple(notes))
    warnings = list(charges.warnings)
    if prices.missing:
        warnings.append(
            f"{len(prices.missing)} settlement period(s) in the window have no "
            f"{prices.basis.value} price and were filled by linear interpolation "
            f"({prices.missing_summary()})")
    writes = system_buy_writes(layout, valuation)
    if simulated_before:  # rows 46-48 hold greedy/optimal figures: replace them
        writes += ppa_writes(layout, table)
    writes += result_writes(layout, table, used, inputs.method, now, warnings)
    return RefreshOutcome(ok=True, status="OK", method=inputs.method, table=table,
                          prices=used, writes=writes, warnings=warnings,
                          tables={**no_schedule_tabs(inputs.method),
                                  layout.valuation["tab"]: no_schedule_table(inputs.method)})


def _compute_simulated(layout: BessLayout, inputs: RefreshInputs, warehouse: PriceWarehouse,
                       prices: wh.WindowPrices, tables: Mapping[str, list[list[CellValue]]],
                       now: dt.datetime, charges: SiteCharges, notes: list[str],
                       deadline: float | None = None,
                       budget_s: float = DEFAULT_BUDGET_S) -> RefreshOutcome:
    """greedy / optimal / realistic: simulate every settlement period of the window; the
    other methods beside it in the Valuation tab."""
    frame = prices.frame
    sim = simulation(layout, inputs, prices, charges)
    problem, price = sim.problem, sim.price_gbp_per_mwh
    wear = inputs.wear_gbp_per_mwh or 0.0
    started = time.perf_counter()
    planned = plan_schedules(warehouse, prices, sim, inputs, layout, deadline, budget_s,
                             BUDGET_ENV)
    schedules, best, forecast = planned.schedules, planned.best, planned.forecast
    log.info("dispatch of %d periods in %.3f s (%s)", problem.periods,
             time.perf_counter() - started,
             "no optimum within the budget" if best is None else
             f"{best.rounds} programme runs, gap £{best.gap_gbp:.4f}")
    ppa = inputs.ppa_price_gbp_per_mwh
    valued, results, worth = value_all(sim, schedules, ppa, charges.fixed, wear,
                                       charges.stream2_fixed)
    chosen = schedules[inputs.method.value]
    simulated, table = valued[inputs.method.value], results[inputs.method.value]
    if best is None:  # a greedy refresh still answers; only the comparison is missing
        comparison = (f"optimal not compared: not found within the {budget_s:g} s budget "
                      f"({BUDGET_ENV})")
    else:
        comparison = compare_methods(results[Method.OPTIMAL.value],
                                     results[Method.GREEDY.value])
        if not best.proven:
            comparison += f"; optimal within £{best.gap_gbp:,.2f} of the bound"
        if best.cut_short:
            comparison += (f"; the optimal search was cut short by its {best.cut_short}: "
                           f"the schedule is {dispatch.SOURCE_WORDS[best.source]}")
        comparison += "; " + capture_note(worth, wear)
    present = prices.present
    band_prices = band_average_prices(present[prices.price_column].to_numpy(),
                                      problem.band_code[frame[prices.price_column].notna()])
    peak = peak_import_note(problem, {m: schedules[m.value] for m in Method
                                      if m.value in schedules})
    extra = [wear_note(layout, wear)] + ([forecast.note] if forecast is not None
                                         and inputs.method is Method.REALISTIC else [])
    used = PricesUsed(
        window=prices, band_prices=band_prices,
        stream1_average_gbp_per_mwh=simulated.valuation.non_bess_system_buy.average_gbp_per_mwh,
        stream2_average_gbp_per_mwh=simulated.valuation.bess_system_buy.average_gbp_per_mwh,
        band_stand_ins=dict(sim.band_stand_ins), warehouse=warehouse.description,
        comparison=f"{comparison}; {sim.demand_source}",
        notes=(*notes, peak, *extra))
    warnings = list(charges.warnings)
    if prices.missing:
        warnings.append(f"{len(prices.missing)} settlement period(s) had no {prices.basis.value} "
                        f"price and were filled by linear interpolation "
                        f"({prices.missing_summary()})")
    if sim.breach:
        warnings.append(sim.breach)
    rows = schedule_frame(frame, problem, chosen, price, ppa)
    tabs, week_note = schedule_tabs(layout, rows, inputs.method, inputs.chart_week, ppa,
                                    problem.vlp_gbp_per_mwh)
    warnings += [week_note] if week_note else []
    status = schedule_status(problem, inputs.method, chosen, best, warnings)
    writes = block_writes(layout, simulated.non_bess, simulated.bess)
    writes += system_buy_writes(layout, simulated.valuation)
    writes += ppa_writes(layout, table)
    writes += result_writes(layout, table, used, inputs.method, now, warnings, status)
    tabs[layout.valuation["tab"]] = valuation_table(layout, inputs, results, worth, forecast,
                                                    best, budget_s)
    return RefreshOutcome(
        ok=True, status=status, method=inputs.method, table=table, prices=used, writes=writes,
        warnings=warnings, schedule=rows, tables=tabs)


def _report_error(workbook: Workbook, tab: str, layout: BessLayout, snapshot: TabSnapshot,
                  exc: BtmError, method: Method | None, now: dt.datetime) -> RefreshOutcome:
    outcome = RefreshOutcome(ok=False, status=sheet_status_for(exc), method=method, error=exc)
    planned = error_writes(layout, snapshot, exc, method, now)
    if planned is None:
        log.warning("status row not found (or not a BESS tab); error not written to the "
                    "sheet: %s", exc.message)
        return outcome
    outcome.status, writes = planned
    try:
        workbook.write(tab, writes)
    except BtmError as write_exc:
        log.warning("could not write the error to the sheet: %s", write_exc.message)
        return outcome
    outcome.writes = writes
    outcome.status_written = True
    return outcome
