"""The sizing sweep on Google Cloud: one Cloud Task per size, gathered through BigQuery,
then the sheet written once.

On Google Cloud (a task queue, and prices in BigQuery) a refresh of a sheet with a Deal
tab values the deal at the typed size; for the sweep's other sizes not yet valued under
the inputs' digest (``deal.inputs_digest``) it queues one task each (``{"size": ...}``)
and a deadline gather, writes the progress to the Deal tab's status cell and answers 202.
Nothing else is written: the figures already there stay until the gather replaces them.

Each size task reads the sheet, checks its inputs still have the digest it was queued
for (if not, it is superseded: a later refresh answers for the new inputs), values its
size, adds it to ``sizing_results``, writes the progress, and the task that finds every
size there queues the gather: a refresh (``{"sizing": {"digest": ...}}``) that finds all
sizes valued and writes BESS rows 50-62, the Deal tab and its charts in one write. If
sizes are still missing ``BTM_PPA_SIZING_DEADLINE_S`` after the fan-out (a task that kept
failing), the deadline gather writes what is valued, the missing sizes blank and the
Deal tab's status a WARNING naming them.

Task names carry the digest and a round of that length, so a retried refresh or a second
click queues nothing twice, and a refresh after the round queues again what is missing.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

from btm_ppa.adapters.cloud_tasks import task_id
from btm_ppa.budgets import env_seconds
from btm_ppa.deal import (
    SizingPending,
    SizingResult,
    SizingSuperseded,
    SweepJob,
    deal_scenarios,
    deal_terms,
    inputs_digest,
    size_grid,
    value_size,
)
from btm_ppa.entrypoints import runtime
from btm_ppa.errors import BtmError, http_status_for
from btm_ppa.prices.price_years import held_years
from btm_ppa.reference import files as reference
from btm_ppa.sheet.deal_inputs import read_deal_inputs
from btm_ppa.sheet.deal_outputs import progress_writes
from btm_ppa.sheet.inputs import read_inputs
from btm_ppa.sheet.workbook import Workbook
from sheets_layout import load_bess_layout, load_deal_layout

log = logging.getLogger(__name__)

DEADLINE_ENV = "BTM_PPA_SIZING_DEADLINE_S"
#: Seconds after a fan-out when what is valued is written, whatever is missing: 12 minutes,
#: inside the 15 after which the add-on calls a RUNNING refresh lost
#: (deploy/apps_script/Helpers.js, BTM_RUNNING_EXPIRES_MS).
DEFAULT_DEADLINE_S = 720.0


def deadline_s() -> float:
    return env_seconds(DEADLINE_ENV, DEFAULT_DEADLINE_S, most=86_400)


def _size_name(size: tuple[float, float]) -> str:
    return f"{size[0]:,.0f} kW x {size[1]:g} h"


def _clock(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%H:%M:%S UTC")


def sweep_request(body: dict[str, Any]) -> tuple[str, bool] | None:
    """A gather's ``"sizing": {"digest": ..., "final": bool}`` (the body's schema checked
    it: ``requests.SCHEMAS``), or None."""
    raw = body.get("sizing")
    return None if raw is None else (str(raw["digest"]), raw.get("final") is True)


def size_request(body: dict[str, Any]) -> tuple[str, float, float] | None:
    """A size task's ``"size": {"digest", "power_kw", "duration_h"}``, or None."""
    raw = body.get("size")
    if raw is None:
        return None
    return str(raw["digest"]), float(raw["power_kw"]), float(raw["duration_h"])


@dataclass
class FanOut:
    """The ``Sweep`` of a refresh on Google Cloud (see the module's notes)."""

    store: Any  # adapters.sizing_store.SizingStore
    queue: Any  # adapters.cloud_tasks.TaskQueue
    task: dict[str, Any]  # the sheet's refresh body: spreadsheet_id, sheet, trigger
    expect: str | None = None  # a gather's digest: other inputs now means superseded
    final: bool = False  # the deadline gather: write what is valued

    def __call__(self, job: SweepJob) -> SizingResult:
        if self.expect is not None and job.digest != self.expect:
            raise SizingSuperseded("SUPERSEDED: the inputs changed after this sizing sweep was "
                                   "queued; the refresh queued by that change answers for them")
        stored = self.store.valued(job.digest)
        sizes = job.sizes
        got: dict[tuple[float, float], float | None] = {
            k: (job.known[k] if k in job.known else stored[k][0] if k in stored else None)
            for k in sizes}
        missing = [k for k in sizes if got[k] is None]
        tasks = len([k for k in sizes if k not in job.known])
        seconds = sum(stored[k][1] for k in sizes if k in stored)
        result = SizingResult(job.powers_kw, job.durations_h, got, seconds, tasks,
                              f"of task time, as {tasks} Cloud Tasks")
        if self.final and not missing:  # the last size queued the gather: it writes them
            raise SizingSuperseded(f"SIZED: all {len(sizes)} sizes were valued in time; the "
                                   "gather the last of them queued writes the results")
        if not missing or self.final:
            return result
        now = dt.datetime.now(dt.UTC)
        span = deadline_s()
        round_no = str(int(now.timestamp() // span))
        queued = 0
        for p, d in missing:
            body = {**self.task, "size": {"digest": job.digest, "power_kw": p, "duration_h": d}}
            queued += self.queue.enqueue(body, name=task_id("size", job.digest, round_no,
                                                               f"{p:g}", f"{d:g}")) is not None
        due = now + dt.timedelta(seconds=span)
        self.queue.enqueue({**self.task, "sizing": {"digest": job.digest, "final": True}},
                           name=task_id("sizing-deadline", job.digest, round_no),
                           schedule_time=due)
        raise SizingPending(
            f"SIZING: {len(sizes) - len(missing)} of {len(sizes)} sizes valued; "
            + (f"{queued} queued as Cloud Tasks at {_clock(now)}" if queued else
               "the rest are on the queue")
            + "; the figures below and rows 50-62 are the last refresh's until all are in "
            f"(by {_clock(due)} at the latest)", len(sizes) - len(missing), len(sizes), queued)


def fan_out(body: dict[str, Any], tab: str, trigger: str) -> FanOut | None:
    """The sweep of a refresh of a Google Sheet on Google Cloud, or None (a process pool
    in the refresh): needs the queue and prices in BigQuery."""
    queue = runtime.task_queue()
    warehouse = runtime.warehouse()
    client, dataset = getattr(warehouse, "client", None), getattr(warehouse, "dataset", None)
    if queue is None or client is None or not dataset or "spreadsheet_id" not in body:
        return None
    from btm_ppa.adapters.sizing_store import SizingStore

    gather = sweep_request(body)
    return FanOut(SizingStore(client, dataset), queue,
                  {"spreadsheet_id": body["spreadsheet_id"], "sheet": tab, "trigger": trigger},
                  expect=gather[0] if gather else None, final=gather[1] if gather else False)


def run_size_task(workbook: Workbook, sweep: FanOut, tab: str,
                  request: tuple[str, float, float]) -> tuple[dict[str, Any], int]:
    """Value one size of a sweep (a Cloud Task's call), record it, show the progress, and
    queue the gather once every size is in."""
    digest, power_kw, duration_h = request
    bess, deal = load_bess_layout(), load_deal_layout()
    warehouse = runtime.warehouse()
    started = time.perf_counter()
    snapshot = workbook.read(tab, bess.read_range, optional_tabs=(bess.hh_data_tab, deal.tab_name))
    if deal.tab_name not in snapshot.tables:
        return {"ok": True, "status": "SUPERSEDED: the Deal tab is gone"}, 200
    try:
        inputs = read_inputs(bess, snapshot, reference.read_gsp_groups())
        values = read_deal_inputs(deal, snapshot.tables[deal.tab_name])
        years = held_years(warehouse, inputs.site.price_basis)
        now_digest = inputs_digest(bess, (sweep.task["spreadsheet_id"], tab), inputs, values,
                                   snapshot.tables, years, warehouse)
        axes = size_grid(inputs, values)
        if now_digest != digest or axes is None or power_kw not in axes[0] \
                or duration_h not in axes[1]:
            return {"ok": True, "status": "SUPERSEDED: the inputs changed after this size was "
                    "queued; the refresh queued by that change answers for them"}, 200
        stored = sweep.store.valued(digest)
        size = (power_kw, duration_h)
        b = inputs.battery
        sizes = [(p, d) for d in axes[1] for p in axes[0] if (p, d) != (b.export_power_kw,
                                                                          b.duration_h)]
        if size in stored:  # a retry after the size was recorded (at-least-once delivery)
            _gather_if_complete(sweep, digest, sizes, stored)
            return {"ok": True, "status": f"ALREADY SIZED: {_size_name(size)} was valued by "
                    "an earlier attempt; nothing written"}, 200
        _, found = deal_scenarios(bess, inputs, values, warehouse, snapshot.tables, years)
        npv = value_size(found.years, values.text("method"), deal_terms(inputs, values),
                         power_kw, duration_h)
    except BtmError as exc:  # the inputs are wrong now: the next refresh says so
        if http_status_for(exc) >= 500:
            raise
        return {"ok": True, "status": f"NOT SIZED: {exc.message}"}, 200
    seconds = time.perf_counter() - started
    sweep.store.add(digest, power_kw, duration_h, npv, seconds)
    stored = sweep.store.valued(digest)
    have = sum(k in stored for k in sizes)
    total = len(axes[0]) * len(axes[1])
    done = total - len(sizes) + have  # the typed size, when on the grid, the deal's own
    text = (f"SIZING: {done} of {total} sizes valued (the latest, {_size_name(size)}, at "
            f"{_clock(dt.datetime.now(dt.UTC))})" + ("; writing the results" if done == total
            else "; the figures below and rows 50-62 are the last refresh's until all are in"))
    try:  # before the gather is queued, so the gather's status is the last word
        workbook.write(tab, progress_writes(text))
    except BtmError as exc:  # progress only: the size is recorded, the sweep goes on
        log.warning("sizing progress not written: %s", exc.message)
    _gather_if_complete(sweep, digest, sizes, stored)
    return {"ok": True, "status": f"SIZED: {_size_name(size)}, P50 NPV £{npv:,.0f} in "
            f"{seconds:.1f} s; {done} of {total} sizes valued", "npv_p50_gbp": npv}, 200


def _gather_if_complete(sweep: FanOut, digest: str, sizes: list[tuple[float, float]],
                        stored: dict[tuple[float, float], tuple[float, float]]) -> None:
    """Queue the gather once every size is recorded (named by the digest: queued once)."""
    if all(k in stored for k in sizes):
        sweep.queue.enqueue({**sweep.task, "sizing": {"digest": digest}},
                            name=task_id("sizing-gather", digest))
