"""``btm-ppa``: make a BESS workbook, refresh it, or run the worked example.

Exit codes are listed in ``btm_ppa.entrypoints.report.ExitCode``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse
from btm_ppa.adapters.elexon import ELEXON_BASE_URL, ElexonClient
from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.core import interrupts
from btm_ppa.core.simulation import rounded_schedule
from btm_ppa.core.vocab import Method
from btm_ppa.core.wear import WearInputs, capital_recovery_factor, wear_cost_gbp_per_mwh
from btm_ppa.entrypoints.console import crash_report, one_line_logging
from btm_ppa.entrypoints.paths import check_export_path, check_output_path, cli_version
from btm_ppa.entrypoints.report import ExitCode, exit_code_for, print_outcome
from btm_ppa.errors import BtmError, InputError, RequestError, WorkbookUnavailableError
from btm_ppa.prices.ingest import ingest_day_ahead, ingest_prices, ingest_shipped
from btm_ppa.prices.warehouse import PriceWarehouse
from btm_ppa.refresh import refresh
from btm_ppa.sheet.inputs import read_method
from btm_ppa.sheet.template import build_template
from sheets_layout import BessLayout, load_bess_layout

DEMO_PATH = Path("build/bess-demo.xlsx")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="btm-ppa", description="Value behind-the-meter battery PPA deals in a BESS tab.",
        epilog="Exit codes: 0 OK, 1 internal error (a bug), 2 usage, 3 input (a cell, a "
        "file or a value given), 4 workbook unavailable, 5 prices, 6 timeout, 130 "
        "interrupted (Ctrl-C).")
    parser.add_argument("--version", action="version", version=f"btm-ppa {cli_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    tpl = sub.add_parser("template", help="write a new BESS workbook from the layout")
    tpl.add_argument("--out", type=Path, required=True, help="path of the .xlsx to write")
    tpl.add_argument("--example", action="store_true",
                     help="fill the inputs with the seed-004 worked example")
    tpl.add_argument("--force", action="store_true", help="replace an existing file")
    tpl.add_argument("--no-deal", action="store_true",
                     help="leave out the Deal tab (cash flows over the term, sizing)")

    ref = sub.add_parser("refresh", help="price a workbook's BESS tab and write rows 50-62")
    ref.add_argument("--workbook", type=Path, required=True, help="the .xlsx to refresh")
    ref.add_argument("--tab", default=None, help="tab name (default: BESS)")
    ref.add_argument("--warehouse", type=Path, default=None,
                     help="embedded warehouse file (default: $BTM_PPA_WAREHOUSE or the cache)")
    ref.add_argument("--export-schedule", type=Path, default=None, metavar="FILE",
                     help="greedy/optimal: write the per-period schedule (.csv or .parquet)")

    ing = sub.add_parser("ingest-prices", help="load system prices for a date range")
    ing.add_argument("--start", type=_date, required=True, help="first settlement date")
    ing.add_argument("--end", type=_date, required=True, help="last settlement date")
    source = ing.add_mutually_exclusive_group()
    source.add_argument("--from-csv", type=Path, default=None,
                        help="read an Elexon-shaped CSV instead of calling the Elexon API")
    source.add_argument("--day-ahead-csv", type=Path, default=None, metavar="FILE",
                        help="load day-ahead prices (settlementDate, settlementPeriod, "
                             "startTime, dayAheadPrice; hourly rows on odd periods) into "
                             "day_ahead_prices")
    source.add_argument("--shipped", action="store_true",
                        help="load the price history shipped with the package (system "
                             "prices, NIV, MID, day-ahead), e.g. into a new BigQuery dataset")
    where = ing.add_mutually_exclusive_group()
    where.add_argument("--warehouse", type=Path, default=None,
                       help="embedded warehouse file (default: $BTM_PPA_WAREHOUSE or the cache)")
    where.add_argument("--bigquery", metavar="PROJECT.DATASET", default=None,
                       help="load into BigQuery instead (application default credentials)")

    reg = sub.add_parser("vlp-register", help="the GB battery BM unit register with VLP status")
    reg.add_argument("--from", dest="source", required=True, metavar="FILE|elexon",
                     help="a JSON file in the /reference/bmunits/all shape, or 'elexon'")
    reg.add_argument("--out", type=Path, default=None,
                     help="write the register JSON here (seed 000 names it "
                          "vlp_battery_units_data.json) and the seed's three CSVs beside it")
    reg.add_argument("--workbook", type=Path, default=None,
                     help="write a 'VLP Batteries' tab into this .xlsx")
    _store_arguments(reg)

    ref = sub.add_parser("load-reference", help="load the DNO reference tables")
    _store_arguments(ref)

    look = sub.add_parser("lookup", help="MPAN or area -> DNO, time bands, unit rates")
    which = look.add_mutually_exclusive_group(required=True)
    which.add_argument("--mpan", help="13-digit MPAN core")
    which.add_argument("--area", help="GSP group id or name")
    look.add_argument("--tariff", default=None, help="tariff name, as in the statement")
    look.add_argument("--date", type=_date, default=None, help="day (default: today)")
    look.add_argument("--list-tariffs", action="store_true",
                      help="list the tariffs of the area's statement for the day's charging year")

    wear = sub.add_parser("wear", help="battery wear cost per MWh discharged (cell F19), "
                          "from replacement cost, cycle life and a discount rate")
    defaults = WearInputs()
    wear.add_argument("--replacement-gbp-per-kwh", type=float,
                      default=defaults.replacement_gbp_per_kwh,
                      help="replacement cost per kWh of capacity (default %(default)g)")
    wear.add_argument("--cycle-life", type=float, default=defaults.cycle_life,
                      help="equivalent full cycles to end of life (default %(default)g)")
    wear.add_argument("--end-of-life-pct", type=float,
                      default=defaults.end_of_life_capacity_frac * 100,
                      help="capacity left at end of life, %% of the first (default %(default)g)")
    wear.add_argument("--discount-rate-pct", type=float,
                      default=defaults.discount_rate_frac * 100,
                      help="discount rate, %% a year (default %(default)g)")
    wear.add_argument("--cycles-per-year", type=float, default=defaults.cycles_per_year,
                      help="equivalent full cycles a year, for the life in years "
                           "(default %(default)g)")

    demo = sub.add_parser("demo", help="template + worked example + refresh, printed")
    demo.add_argument("--out", type=Path, default=None,
                      help=f"where to write the demo workbook (default: {DEMO_PATH}, the "
                      "demo's own file, replaced on every run); an existing file is replaced "
                      "only with --force")
    demo.add_argument("--force", action="store_true", help="replace an existing --out file")
    demo.add_argument("--warehouse", type=Path, default=None)
    return parser


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--warehouse", type=Path, default=None,
                       help="embedded warehouse file (default: $BTM_PPA_WAREHOUSE or the cache)")
    where.add_argument("--bigquery", metavar="PROJECT.DATASET", default=None,
                       help="BigQuery instead (application default credentials)")


def _store(args: argparse.Namespace) -> Any:
    if args.bigquery:
        from google.cloud import bigquery

        from btm_ppa.adapters.bigquery_warehouse import BigQueryWarehouse

        store = BigQueryWarehouse(bigquery.Client(project=args.bigquery.split(".")[0]),
                                  args.bigquery)
        store.create_tables()
        return store
    return DuckDbWarehouse(args.warehouse)


def _register(args: argparse.Namespace, console: Console) -> ExitCode:
    from btm_ppa.register.export import (
        REGISTER_TABLE,
        make_register,
        register_frame,
        write_register_files,
        write_register_tab,
    )

    if args.out:
        check_output_path("--out", args.out, (".json",), new_folder=True)
    elexon = ElexonClient(base_url=os.environ.get("BTM_PPA_ELEXON_URL", ELEXON_BASE_URL))
    register = make_register(args.source, client=elexon)
    if args.out:
        if not args.out.parent.exists():
            console.print(f"created the folder {args.out.parent} for the register's files")
        for path in write_register_files(register, args.out):
            console.print(f"wrote {path}")
    if args.workbook:
        write_register_tab(XlsxWorkbook(args.workbook), register)
        console.print(f"wrote the 'VLP Batteries' tab of {args.workbook}")
    store = _store(args)
    store.replace_tables({REGISTER_TABLE: register_frame(register)})
    meta, stats = register["metadata"], register["summary_statistics"]
    vlp, direct = (stats["by_vlp_status"][k] for k in ("vlp_operated", "direct_operated"))
    console.print(
        f"{meta['total_battery_bmus']} storage units of {meta['records_read']} records, "
        f"{stats['total_capacity_mw']:,.1f} MW: VLP {vlp['count']} "
        f"({vlp['total_capacity_mw']:,.1f} MW), direct {direct['count']} "
        f"({direct['total_capacity_mw']:,.1f} MW); the seed's rule disagrees on "
        f"{len(stats['seed_rule_disagreements'])}; loaded to {store.description}")
    return ExitCode.OK


def _load_reference(args: argparse.Namespace, console: Console) -> ExitCode:
    from btm_ppa.reference.tables import read_all_reference_tables

    store = _store(args)
    counts = store.replace_tables(read_all_reference_tables())
    for name, count in counts.items():
        console.print(f"{name}: {count:,} rows")
    console.print(f"loaded into {store.description}")
    return ExitCode.OK


def _lookup(args: argparse.Namespace, console: Console) -> ExitCode:
    from btm_ppa.reference.files import read_gsp_groups
    from btm_ppa.reference.tables import lookup
    from btm_ppa.sheet.area import resolve_area

    group = resolve_area(read_gsp_groups(), "--mpan", args.mpan, "--area", args.area)
    result = lookup(group, args.date or dt.date.today(), args.tariff, args.list_tariffs)
    console.print_json(json.dumps(result))
    if "unit_rates_not_held" in result:  # a null rate is never silent
        Console(stderr=True, highlight=False).print(
            f"--tariff {args.tariff}: {result['unit_rates_not_held']}", markup=False)
    return ExitCode.OK


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date as YYYY-MM-DD") from None


def _ingest(args: argparse.Namespace, console: Console) -> ExitCode:
    store: PriceWarehouse
    if args.bigquery:
        from google.cloud import bigquery

        from btm_ppa.adapters.bigquery_warehouse import BigQueryWarehouse

        store = BigQueryWarehouse(bigquery.Client(project=args.bigquery.split(".")[0]),
                                  args.bigquery)
        store.create_tables()
    else:
        store = DuckDbWarehouse(args.warehouse)
    if args.shipped:
        written = ingest_shipped(store, args.start, args.end)
        console.print(f"loaded the shipped prices {args.start} to {args.end}: "
                      + ", ".join(f"{n:,} rows into {t}" for t, n in written.items())
                      + f" ({store.description})")
        return ExitCode.OK
    if args.day_ahead_csv is not None:
        rows = ingest_day_ahead(store, args.start, args.end, args.day_ahead_csv)
        console.print(f"loaded {rows:,} settlement periods of day-ahead prices {args.start} "
                      f"to {args.end} into {store.description}")
        return ExitCode.OK
    client = ElexonClient(base_url=os.environ.get("BTM_PPA_ELEXON_URL", ELEXON_BASE_URL))
    report = ingest_prices(store, args.start, args.end, client=client, csv_path=args.from_csv)
    console.print(f"{report.summary()} into {store.description}")
    return ExitCode.OK


def _check_export_method(book: XlsxWorkbook, tab: str, layout: BessLayout) -> None:
    """Refuse --export-schedule under the `sheet` method, before the workbook is touched:
    only a simulating method has a per-period schedule to export. A workbook that cannot be
    read is left for the refresh to report."""
    try:
        snapshot = book.read(tab, layout.read_range)
    except BtmError:
        return
    if read_method(layout, snapshot) is Method.SHEET:
        spec = layout.input("method")
        raise InputError(spec.cell, snapshot.get(spec.cell),
                         "a method that simulates every settlement period (greedy, "
                         "optimal or realistic) for --export-schedule; nothing was written",
                         "does not simulate settlement periods")


def _refresh(workbook: Path, tab: str | None, warehouse_path: Path | None,
             console: Console, export: Path | None = None) -> ExitCode:
    layout = load_bess_layout()
    if tab is not None and not tab.strip():
        raise RequestError(f"--tab {tab!r}: expected a tab name (or leave --tab out for "
                           f"{layout.tab_name!r})")
    if export is not None:
        check_export_path(export)
        _check_export_method(XlsxWorkbook(workbook), tab or layout.tab_name, layout)
    warehouse = DuckDbWarehouse(warehouse_path)
    outcome = refresh(XlsxWorkbook(workbook), warehouse, tab=tab, layout=layout)
    print_outcome(outcome, layout, console, str(workbook))
    if export is not None and outcome.ok:
        if outcome.schedule is None:
            console.print("no schedule to export: the sheet method does not simulate periods "
                          "(set B22 to greedy, optimal or realistic)")
            return ExitCode.INPUT
        try:
            written = rounded_schedule(outcome.schedule)  # Wh, 4-decimal prices, pennies
            if export.suffix.lower() == ".parquet":
                written.to_parquet(export, index=False)
            else:
                written.to_csv(export, index=False)
        except OSError as exc:
            raise WorkbookUnavailableError(
                f"the workbook was refreshed, but the schedule could not be written to "
                f"{export}: {exc.strerror or exc}") from None
        console.print(f"wrote {len(outcome.schedule):,} settlement periods to {export}")
    return exit_code_for(outcome.error)


def _wear(args: argparse.Namespace, console: Console) -> ExitCode:
    inputs = WearInputs(
        replacement_gbp_per_kwh=args.replacement_gbp_per_kwh, cycle_life=args.cycle_life,
        end_of_life_capacity_frac=args.end_of_life_pct / 100,
        discount_rate_frac=args.discount_rate_pct / 100, cycles_per_year=args.cycles_per_year)
    if found := inputs.problems():
        raise RequestError("; ".join(found))
    years = inputs.cycle_life / inputs.cycles_per_year
    per_year = inputs.cycles_per_year * (1 + inputs.end_of_life_capacity_frac) / 2
    crf = capital_recovery_factor(inputs.discount_rate_frac, years)
    wear = wear_cost_gbp_per_mwh(inputs)
    console.print(
        f"replacement £{inputs.replacement_gbp_per_kwh:g}/kWh = "
        f"£{inputs.replacement_gbp_per_kwh * 1000:,.0f}/MWh of capacity; life "
        f"{inputs.cycle_life:,.0f} cycles / {inputs.cycles_per_year:g} a year = {years:.2f} "
        f"years; a MWh of capacity delivers {per_year:,.2f} MWh a year (capacity fading to "
        f"{inputs.end_of_life_capacity_frac:.0%}); capital recovery factor at "
        f"{inputs.discount_rate_frac:.1%}: {crf:.4f}", markup=False)
    console.print(f"wear cost: £{wear:,.2f} per MWh discharged (type it in the Wear cost cell)",
                  markup=False)
    return ExitCode.OK


def _template(out: Path, example: bool, force: bool, console: Console,
              announce: bool = True, deal: bool = False) -> ExitCode:
    if out.suffix.lower() != ".xlsx":
        raise RequestError(f"--out {out}: expected a file name ending in .xlsx")
    if len(os.fsencode(out.name)) > 255:
        raise RequestError(f"--out: the file name is {len(os.fsencode(out.name))} bytes long; "
                           "file systems allow at most 255")
    if out.is_dir():
        raise RequestError(f"--out {out} is a folder: expected an .xlsx file path")
    check_output_path("--out", out, (".xlsx",), new_folder=True)
    if out.exists() and not force:
        raise RequestError(f"{out} exists: pass --force to replace it")
    try:
        build_template(out, example=example, deal=deal)
    except OSError as exc:
        raise WorkbookUnavailableError(f"{out} could not be written: {exc.strerror or exc}"
                                       ) from None
    if announce:
        console.print(f"wrote {out}")
    return ExitCode.OK


INTERRUPTED = ExitCode.INTERRUPTED  # 130: 128 + SIGINT, as shells report it
INTERRUPTED_TEXT = ("interrupted: nothing was half-written (a workbook being saved is left "
                    "whole, old or new; a price load is all or nothing)")


def main(argv: list[str] | None = None) -> int:
    one_line_logging()
    args = _parser().parse_args(argv)
    # Wide enough for the results table when piped or captured (CI logs, files).
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    # One line per message (no hard wraps), so that logs and scripts can grep it.
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        return _run(args, console)
    except KeyboardInterrupt:
        err.print(INTERRUPTED_TEXT, markup=False)
        return INTERRUPTED
    except BtmError as exc:  # anything not already written to a status row
        if interrupts.requested():  # e.g. DuckDB's "Query interrupted" as a warehouse error
            err.print(INTERRUPTED_TEXT, markup=False)
            return INTERRUPTED
        err.print(f"ERROR: {exc.message}", markup=False)
        return exit_code_for(exc)
    except Exception as exc:  # the last guard: one line here, the trace in a file
        if interrupts.requested():  # a library's own error for the Ctrl-C inside it
            err.print(INTERRUPTED_TEXT, markup=False)
            return INTERRUPTED
        where = crash_report(exc)
        logging.getLogger(__name__).debug("crash", exc_info=exc)
        err.print(f"ERROR: internal error ({type(exc).__name__}); this is a bug in btm-ppa, "
                  f"please report it with the trace in {where}", markup=False)
        return ExitCode.INTERNAL


def _run(args: argparse.Namespace, console: Console) -> int:
    if args.command == "template":
        return _template(args.out, args.example, args.force, console, deal=not args.no_deal)
    if args.command == "refresh":
        return _refresh(args.workbook, args.tab, args.warehouse, console, args.export_schedule)
    if args.command == "vlp-register":
        return _register(args, console)
    if args.command == "load-reference":
        return _load_reference(args, console)
    if args.command == "lookup":
        return _lookup(args, console)
    if args.command == "ingest-prices":
        return _ingest(args, console)
    if args.command == "wear":
        return _wear(args, console)
    if args.command == "demo":
        out = args.out or DEMO_PATH  # the default is the demo's own file: always replaced
        _template(out, True, args.force or args.out is None, console, announce=False)
        console.print(f"wrote the seed-004 worked example to {out}; refreshing it")
        return _refresh(out, None, args.warehouse, console)
    return ExitCode.USAGE


if __name__ == "__main__":
    sys.exit(main())
