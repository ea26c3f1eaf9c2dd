"""Serialising a refresh outcome: a terminal table, a JSON document, and exit codes."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from btm_ppa.errors import ExitCode, exit_code_for, http_status_for, outcome_of
from btm_ppa.refresh import RefreshOutcome
from btm_ppa.sheet.outputs import rows_of
from sheets_layout import BessLayout

if TYPE_CHECKING:  # rich is for the terminal only: the deployed functions do not ship it
    from rich.console import Console


# The one error table is errors.OUTCOMES; these names are this module's public face.
__all__ = ["ExitCode", "exit_code_for", "http_status_for", "outcome_json", "outcome_of",
           "print_outcome"]


def _fmt(value: object, digits: int = 2) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float | int):
        return f"{value:,.{digits}f}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def print_outcome(outcome: RefreshOutcome, layout: BessLayout, console: Console,
                  source: str) -> None:
    """Rows 50-62 as written (long notes under the table), then the status."""
    from rich.table import Table

    first, last = layout.result_header_row, layout.result_row("status").row
    grid = rows_of(outcome.writes, first, last)
    if outcome.ok and grid:
        header, *body = grid
        table = Table(title=f"{source}: {layout.tab_name} rows {first}-{last}",
                      title_justify="left")
        table.add_column("row", justify="right")
        names = [str(n or "") for n in header[1:]]
        for i, name in enumerate(names[:4]):
            table.add_column(name, justify="right" if i else "left")
        table.add_column("Unit")
        notes = []
        volume_row = layout.result_row("volume_mwh").row
        status_row = layout.result_row("status").row
        for row in body:
            number, label, *values, unit = row
            digits = 3 if number == volume_row else 2
            shown = [_fmt(v, digits) for v in values]
            if isinstance(unit, str) and len(unit) > 12:
                notes.append((number, label, unit))
                unit = "see below"
            if number == status_row:
                unit = ""
            table.add_row(str(number), str(label), *shown, str(unit or ""))
        console.print(table)
        for number, label, text in notes:
            console.print(f"[bold]{label}[/bold] (row {number}, {names[-1]}): {text}",
                          highlight=False)
    if outcome.ok and outcome.deal is not None:
        console.print(deal_summary(outcome.deal), highlight=False)
    style = ("yellow" if outcome.status.startswith("WARNING") else "green") if outcome.ok \
        else "red"
    console.print(f"[{style}]{outcome.status}[/{style}]", highlight=False)
    if not outcome.ok and not outcome.status_written and outcome.error is not None:
        console.print("(nothing was written to the workbook)")


def deal_summary(deal: Any) -> str:
    """A few lines on the Deal tab's figures, for the terminal."""
    r = deal.result
    band = r.band
    held = len(r.scenarios) + len(deal.left_out)
    lines = [f"Deal ({deal.method}, {len(r.scenarios)} of {held} price years, "
             f"{r.terms.term_years} years, {deal.seconds:.1f} s): NPV P10/P50/P90 "
             f"£{r.npv['p10']:,.0f} / £{r.npv['p50']:,.0f} / £{r.npv['p90']:,.0f}; IRR P50 "
             f"{r.irr['p50']:.2%}; site saving NPV P50 £{r.site_npv['p50']:,.0f}"]
    if deal.ceiling is not None:
        c = deal.ceiling
        lines.append(f"Ceiling, perfect foresight (optimal): NPV P10/P50/P90 £{c.npv['p10']:,.0f}"
                     f" / £{c.npv['p50']:,.0f} / £{c.npv['p90']:,.0f}; IRR P50 {c.irr['p50']:.2%}")
    if deal.left_out:
        lines.append(f"Left out: {len(deal.left_out)} price years (see the Deal tab's notes)")
    floor, ceiling = band.developer_floor_gbp_per_mwh, band.site_ceiling_gbp_per_mwh
    if band.exists:
        lines.append(f"PPA price band: £{floor:,.2f} to £{ceiling:,.2f}/MWh")
    else:
        need = "never reaches its hurdle" if floor is None else f"needs £{floor:,.2f}/MWh"
        site = "never saves" if ceiling is None else f"saves up to £{ceiling:,.2f}/MWh"
        lines.append(f"PPA price band: none (the developer {need}; the site {site})")
    if deal.sizing is not None:
        power, duration = deal.sizing.best
        lines.append(f"Best size of {len(deal.sizing.npv_p50_gbp)}: {power:,.0f} kW x "
                     f"{duration:g} h, P50 NPV £{deal.sizing.npv_p50_gbp[(power, duration)]:,.0f}"
                     f" ({deal.sizing.seconds:.1f} s)")
    return "\n".join(lines)


def _json_value(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def outcome_json(outcome: RefreshOutcome, layout: BessLayout) -> dict[str, Any]:
    """JSON body describing a refresh (results by row, status, prices)."""
    body: dict[str, Any] = {
        "ok": outcome.ok,
        "status": outcome.status,
        "method": outcome.method.value if outcome.method else None,
        "status_written": outcome.status_written,  # row 62 holds this status
        "warnings": outcome.warnings,
    }
    if outcome.error is not None:
        body["error"] = {"kind": outcome.error.kind, "message": outcome.error.message,
                         "cell": getattr(outcome.error, "cell", None)}
    if outcome.ok:
        first, last = layout.result_header_row, layout.result_row("status").row
        body["rows"] = {
            str(row[0]): dict(zip(("label", "stream1", "stream2", "total", "notes"),
                                  (_json_value(v) for v in row[1:]), strict=False))
            for row in rows_of(outcome.writes, first + 1, last)
        }
    return body
