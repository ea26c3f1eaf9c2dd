"""The sizing sweep: P50 NPV of every power x duration, in a process pool over the cores
or, on Google Cloud, as one Cloud Task per size (``Sweep``; the entry points wire it)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields, is_dataclass
from enum import Enum
from typing import Protocol

import numpy as np

import btm_ppa
from btm_ppa.core import deal as core
from btm_ppa.core.deal import DealTerms
from btm_ppa.deal.valuing import figures_at, valuation_points
from btm_ppa.errors import RefreshTimeoutError
from btm_ppa.prices.price_years import ScenarioYear


@dataclass(frozen=True)
class SizingResult:
    powers_kw: tuple[float, ...]
    durations_h: tuple[float, ...]
    #: (power kW, duration h) -> P50 NPV; None: a size not valued in time (a task that
    #: did not finish by the sweep's deadline on Google Cloud)
    npv_p50_gbp: dict[tuple[float, float], float | None]
    seconds: float
    workers: int
    where: str = ""  # how it ran, for the title: "on 2 process(es)", "as 24 Cloud Tasks"

    @property
    def valued(self) -> dict[tuple[float, float], float]:
        return {k: v for k, v in self.npv_p50_gbp.items() if v is not None}

    @property
    def missing(self) -> tuple[tuple[float, float], ...]:
        return tuple(k for k, v in self.npv_p50_gbp.items() if v is None)

    @property
    def best(self) -> tuple[float, float]:
        valued = self.valued
        return max(valued, key=lambda k: (valued[k], -k[0], -k[1]))

    def marginal_hour_gbp(self) -> float | None:
        """P50 NPV gained by one more hour at the best size's power (finite difference on
        the grid's neighbouring durations, per hour); None with a single duration or a
        neighbour not valued."""
        power, duration = self.best
        ds = sorted(self.durations_h)
        if len(ds) < 2:
            return None
        i = ds.index(duration)
        lo, hi = (ds[i], ds[i + 1]) if i + 1 < len(ds) else (ds[i - 1], ds[i])
        low, high = self.npv_p50_gbp[(power, lo)], self.npv_p50_gbp[(power, hi)]
        return None if low is None or high is None else (high - low) / (hi - lo)


@dataclass(frozen=True)
class SweepJob:
    """A sizing sweep to run: every power x duration, the sizes ``known`` already valued,
    and ``digest``, which names the inputs it is valued on (``deal_digest``)."""

    scenarios: Sequence[ScenarioYear]
    method: str
    terms: DealTerms
    powers_kw: tuple[float, ...]
    durations_h: tuple[float, ...]
    known: Mapping[tuple[float, float], float]
    digest: str

    @property
    def sizes(self) -> list[tuple[float, float]]:
        return [(p, d) for d in self.durations_h for p in self.powers_kw]


class Sweep(Protocol):
    """Runs a sweep elsewhere (Cloud Tasks): returns it whole, or raises SizingPending."""

    def __call__(self, job: SweepJob) -> SizingResult: ...


class SizingPending(Exception):
    """The sweep went out as tasks and is not all valued yet: nothing is written but the
    progress (``status``, for the Deal tab's status cell)."""

    def __init__(self, status: str, valued: int, total: int, queued: int) -> None:
        super().__init__(status)
        self.status, self.valued, self.total, self.queued = status, valued, total, queued


class SizingSuperseded(Exception):
    """A gather with nothing to write: its inputs have changed since (a later refresh
    answers for them), or it is the deadline's and every size is in (the gather the last
    size queued writes them). ``str()`` is the status to answer with."""


def _canon(value: object) -> object:
    """A JSON-able form of inputs for ``deal_digest``: dataclasses by field, enums by
    value, arrays by their bytes' hash, floats exactly (repr)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canon(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):
        return _canon(value.value)
    if isinstance(value, np.ndarray):
        return [str(value.dtype), list(value.shape),
                hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()]
    if isinstance(value, Mapping):
        return sorted(([_canon(k), _canon(v)] for k, v in value.items()), key=repr)
    if isinstance(value, list | tuple | set | frozenset):
        items = [_canon(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if value is None or isinstance(value, bool | int | str):
        return value
    return repr(value)


def deal_digest(*parts: object) -> str:
    """A name for everything a sizing sweep's values rest on (the sheet, the BESS tab's
    inputs, the Deal tab's, the HH Data tab, the price years held, the package version):
    a size valued under one digest is reused only under the same digest."""
    text = json.dumps([_canon(p) for p in (*parts, btm_ppa.__version__)], default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def grid_axis(centre: float, low: float | None, high: float | None, steps: int,
              floor: float) -> tuple[float, ...]:
    lo = max(floor, low if low is not None else centre * 0.5)
    hi = high if high is not None else centre * 1.5
    if hi < lo:
        lo, hi = hi, lo
    return tuple(float(round(v, 3)) for v in np.linspace(lo, hi, steps))


_WORKER: dict[str, object] = {}


def _worker_init(scenarios: Sequence[ScenarioYear], method: str, terms: DealTerms,
                 capacities: tuple[float, ...]) -> None:
    _WORKER.update(scenarios=scenarios, method=method, terms=terms, capacities=capacities)


def _size_in_worker(power_kw: float, duration_h: float) -> float:
    return _size_npv((_WORKER["scenarios"], _WORKER["method"], _WORKER["terms"],  # type: ignore[arg-type]
                      power_kw, duration_h, _WORKER["capacities"]))


def value_size(scenarios: Sequence[ScenarioYear], method: str, terms: DealTerms,
               power_kw: float, duration_h: float) -> float:
    """One size's P50 NPV over the scenarios (a sizing task's whole work)."""
    return _size_npv((scenarios, method, terms, power_kw, duration_h,
                      valuation_points(terms.degradation)))


def _size_npv(args: tuple[Sequence[ScenarioYear], str, DealTerms, float, float,
                          tuple[float, ...]]) -> float:
    scenarios, method, terms, power_kw, duration_h, capacities = args
    sized_terms = core.with_size(terms, power_kw, duration_h)
    points, _ = figures_at(scenarios, method, power_kw, power_kw * duration_h, capacities,
                           terms.wear_gbp_per_mwh)
    return core.value_deal(points, sized_terms, band=False).npv["p50"]


def sizing(scenarios: Sequence[ScenarioYear], method: str, terms: DealTerms,
           powers_kw: Sequence[float], durations_h: Sequence[float],
           workers: int | None = None, deadline: float | None = None,
           known: Mapping[tuple[float, float], float] | None = None) -> SizingResult:
    """P50 NPV of every power x duration, in a process pool over the cores (``known``:
    sizes already valued, e.g. the typed one, not valued again)."""
    started = time.perf_counter()
    capacities = valuation_points(terms.degradation)
    sizes = [(p, d) for d in durations_h for p in powers_kw]
    done: dict[tuple[float, float], float | None] = {
        k: v for k, v in (known or {}).items() if k in sizes}
    todo = [k for k in sizes if k not in done]
    jobs = [(scenarios, method, terms, p, d, capacities) for p, d in todo]
    workers = max(1, workers or min(len(todo), os.cpu_count() or 1))
    if workers <= 1:
        values = [_size_npv(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init,
                                 initargs=(scenarios, method, terms, capacities)) as pool:
            futures = [pool.submit(_size_in_worker, p, d) for p, d in todo]
            values = []
            for f in futures:
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    values.append(f.result(timeout=timeout))
                except TimeoutError:
                    for g in futures:
                        g.cancel()
                    raise RefreshTimeoutError(
                        "the sizing sweep did not finish within the refresh's time budget; "
                        "nothing was written (fewer sizing steps in Deal!B32, or raise "
                        "BTM_PPA_DEAL_BUDGET_S)") from None
    done.update(zip(todo, values, strict=True))
    return SizingResult(tuple(powers_kw), tuple(durations_h), {k: done[k] for k in sizes},
                        time.perf_counter() - started, workers, f"on {workers} process(es)")


