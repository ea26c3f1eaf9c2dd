"""From a dispatch schedule to the workbook's figures: both cost blocks by band, the
system buy rows, Stream 1 / Stream 2, the daily summary and the per-period schedule.

Stream 1 is the site demand served from the grid (``demand - discharge``), Stream 2 the
demand served by the battery; the BESS block is the battery's charging. Block costs are
rounded to the penny first and the stream lines built from them, so every figure in rows
50-60 re-adds from the blocks exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from btm_ppa.core import periods
from btm_ppa.core.dispatch import DispatchProblem, Schedule
from btm_ppa.core.results import (
    ENERGY_DECIMALS,
    ENERGY_PRICE_DECIMALS,
    PRICE_DECIMALS,
    pennies,
    pennies_adding_up,
)
from btm_ppa.core.valuation import (
    BlockLine,
    CostBlock,
    StreamFigures,
    SystemBuyLine,
    Valuation,
)
from btm_ppa.core.vocab import BANDS, DuosBand

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PeriodRates:
    """Charges on each MWh metered at the site in each settlement period, besides the
    energy price, and the loss factor the energy price is paid on. [£/MWh]

    Rates that are levied on volumes adjusted for losses (BSUoS, CfD, AAHEDC ...) come
    with the loss factor already folded in, so every rate applies to metered MWh.
    """

    duos_gbp_per_mwh: FloatArray  # the period's band rate
    tnuos_gbp_per_mwh: FloatArray
    bsuos_gbp_per_mwh: FloatArray
    ccl_gbp_per_mwh: FloatArray
    ro_gbp_per_mwh: FloatArray
    fit_gbp_per_mwh: FloatArray
    other_levies_gbp_per_mwh: FloatArray  # CfD + CM + AAHEDC + Nuclear RAB
    loss_factor: FloatArray  # energy is bought on metered MWh x this

    def charges_gbp_per_mwh(self) -> FloatArray:
        """Every per-MWh charge of each period, energy excluded. [£/MWh]"""
        return (self.duos_gbp_per_mwh + self.tnuos_gbp_per_mwh + self.bsuos_gbp_per_mwh
                + self.ccl_gbp_per_mwh + self.ro_gbp_per_mwh + self.fit_gbp_per_mwh
                + self.other_levies_gbp_per_mwh)

    def import_cost_gbp_per_mwh(self, energy_price_gbp_per_mwh: FloatArray,
                                band_code: npt.NDArray[np.integer] | None = None) -> FloatArray:
        """Full cost of importing 1 metered MWh in each period: energy x loss factor +
        every charge. [£/MWh]"""
        del band_code  # the rates are already per period
        return energy_price_gbp_per_mwh * self.loss_factor + self.charges_gbp_per_mwh()


@dataclass(frozen=True)
class ChargeRates:
    """Flat per-MWh charges on every MWh imported, besides the system buy price. [£/MWh]"""

    duos_gbp_per_mwh: Mapping[DuosBand, float]
    tnuos_gbp_per_mwh: float
    bsuos_gbp_per_mwh: float
    ccl_gbp_per_mwh: float
    ro_gbp_per_mwh: float
    fit_gbp_per_mwh: float

    @property
    def flat_gbp_per_mwh(self) -> float:
        """TNUoS + BSUoS + CCL + RO + FiT."""
        return (self.tnuos_gbp_per_mwh + self.bsuos_gbp_per_mwh + self.ccl_gbp_per_mwh
                + self.ro_gbp_per_mwh + self.fit_gbp_per_mwh)

    def per_period(self, band_code: npt.NDArray[np.integer]) -> PeriodRates:
        """The same rates in every period (loss factor 1)."""
        n = len(band_code)
        full = lambda v: np.full(n, float(v))  # noqa: E731
        return PeriodRates(
            duos_gbp_per_mwh=np.array([self.duos_gbp_per_mwh[b] for b in BANDS])[band_code],
            tnuos_gbp_per_mwh=full(self.tnuos_gbp_per_mwh),
            bsuos_gbp_per_mwh=full(self.bsuos_gbp_per_mwh), ccl_gbp_per_mwh=full(self.ccl_gbp_per_mwh),
            ro_gbp_per_mwh=full(self.ro_gbp_per_mwh), fit_gbp_per_mwh=full(self.fit_gbp_per_mwh),
            other_levies_gbp_per_mwh=full(0.0), loss_factor=full(1.0))

    def import_cost_gbp_per_mwh(self, energy_price_gbp_per_mwh: FloatArray,
                                band_code: npt.NDArray[np.integer]) -> FloatArray:
        """Full cost of importing 1 MWh in each period: energy (system buy or MID) + DUoS
        band rate + TNUoS ... FiT. [£/MWh]"""
        duos = np.array([self.duos_gbp_per_mwh[b] for b in BANDS])[band_code]
        return energy_price_gbp_per_mwh + duos + self.flat_gbp_per_mwh


@dataclass(frozen=True)
class SimulatedValuation:
    valuation: Valuation
    non_bess: CostBlock
    bess: CostBlock


def _block(energy_mwh: FloatArray, band_code: npt.NDArray[np.integer],
           rates: PeriodRates) -> CostBlock:
    total = float(energy_mwh.sum())

    def line(rate: FloatArray, rows: npt.NDArray[np.bool_] | None = None) -> BlockLine:
        e = energy_mwh if rows is None else energy_mwh[rows]
        r = rate if rows is None else rate[rows]
        return BlockLine(float(e.sum()) if rows is not None else total,
                         float(pennies(float(e @ r))))

    return CostBlock(
        duos={b: line(rates.duos_gbp_per_mwh, band_code == i) for i, b in enumerate(BANDS)},
        tnuos=line(rates.tnuos_gbp_per_mwh), bsuos=line(rates.bsuos_gbp_per_mwh),
        ccl=line(rates.ccl_gbp_per_mwh), ro=line(rates.ro_gbp_per_mwh),
        fit=line(rates.fit_gbp_per_mwh), other_levies=line(rates.other_levies_gbp_per_mwh),
    )


def _system_buy(energy_mwh: FloatArray, price: FloatArray) -> SystemBuyLine:
    """Metered volume and its energy cost (``price`` per metered MWh, losses included)."""
    volume = float(energy_mwh.sum())
    cost = float(energy_mwh @ price)
    return SystemBuyLine(cost / volume if volume else None, volume, cost)


def _as_written(energy_mwh: FloatArray) -> FloatArray:
    """Per-period volumes as the export writes them: to the watt-hour. [MWh]"""
    return np.round(np.asarray(energy_mwh, dtype=float), ENERGY_DECIMALS) + 0.0


@dataclass(frozen=True)
class WrittenVolumes:
    """A schedule's volumes of each period to the watt-hour, as valued in rows 51-60 and
    exported (``rounded_schedule`` writes the same figures). [MWh]"""

    demand_mwh: FloatArray
    grid_to_site_mwh: FloatArray
    charge_mwh: FloatArray
    discharge_mwh: FloatArray


def written_volumes(problem: DispatchProblem, schedule: Schedule) -> WrittenVolumes:
    demand, discharge = _as_written(problem.demand_mwh), _as_written(schedule.discharge_mwh)
    return WrittenVolumes(demand, _as_written(schedule.grid_to_site_mwh(problem)),
                          _as_written(schedule.charge_mwh), discharge)


def value_schedule(problem: DispatchProblem, schedule: Schedule,
                   energy_price_gbp_per_mwh: FloatArray, rates: ChargeRates | PeriodRates,
                   ppa_gbp_per_mwh: float) -> SimulatedValuation:
    """Blocks, system buy rows (at the price basis's energy price, on metered volume x
    loss factor) and both streams.

    The volumes and energy prices valued are the schedule's as exported
    (``rounded_schedule``: energy to the watt-hour, the energy price to 6 decimals), so
    every row recomputes from the export to the penny."""
    if isinstance(rates, ChargeRates):
        rates = rates.per_period(problem.band_code)
    energy_price_gbp_per_mwh = (np.round(energy_price_gbp_per_mwh, ENERGY_PRICE_DECIMALS)
                                * rates.loss_factor)
    volumes = written_volumes(problem, schedule)
    grid, charge, supplied2 = volumes.grid_to_site_mwh, volumes.charge_mwh, volumes.discharge_mwh
    non_bess = _block(grid, problem.band_code, rates)
    bess = _block(charge, problem.band_code, rates)
    buy1 = _system_buy(grid, energy_price_gbp_per_mwh)
    buy2 = _system_buy(charge, energy_price_gbp_per_mwh)
    stream1 = StreamFigures(
        volume_mwh=float(grid.sum()), ppa_revenue_gbp=float(grid.sum()) * ppa_gbp_per_mwh,
        vlp_revenue_gbp=0.0, energy_cost_gbp=buy1.cost_gbp,
        duos_cost_gbp=non_bess.duos_cost_gbp, tnuos_bsuos_cost_gbp=non_bess.tnuos_bsuos_cost_gbp,
        levies_cost_gbp=non_bess.levies_cost_gbp,
    )
    volume2 = float(supplied2.sum())
    stream2 = StreamFigures(
        volume_mwh=volume2, ppa_revenue_gbp=volume2 * ppa_gbp_per_mwh,
        vlp_revenue_gbp=volume2 * problem.vlp_gbp_per_mwh, energy_cost_gbp=buy2.cost_gbp,
        duos_cost_gbp=bess.duos_cost_gbp, tnuos_bsuos_cost_gbp=bess.tnuos_bsuos_cost_gbp,
        levies_cost_gbp=bess.levies_cost_gbp,
    )
    return SimulatedValuation(Valuation(stream1, stream2, buy1, buy2), non_bess, bess)


def schedule_frame(frame: pd.DataFrame, problem: DispatchProblem, schedule: Schedule,
                   energy_price_gbp_per_mwh: FloatArray, ppa_gbp_per_mwh: float) -> pd.DataFrame:
    """The full per-period schedule, one row per settlement period. The energy price is
    the price basis's (system buy or market index). The volumes are the schedule's own;
    profit_gbp is on them to the watt-hour, as rows 51-60 value them, so its months and
    days add up to row 59. [£/MWh]"""
    grid = schedule.grid_to_site_mwh(problem)
    written = written_volumes(problem, schedule)
    cost = problem.import_cost_gbp_per_mwh
    return pd.DataFrame({
        "settlement_date": frame[periods.SETTLEMENT_DATE].to_numpy(),
        "settlement_period": frame[periods.SETTLEMENT_PERIOD].to_numpy(),
        "start_time_utc": frame[periods.START_TIME_UTC].to_numpy(),
        "duos_band": np.array([b.value for b in BANDS])[problem.band_code],
        "demand_mwh": problem.demand_mwh,
        "energy_price_gbp_per_mwh": energy_price_gbp_per_mwh,
        "import_cost_gbp_per_mwh": cost,
        "grid_to_site_mwh": grid,
        "charge_mwh": schedule.charge_mwh,
        "discharge_mwh": schedule.discharge_mwh,
        "soc_end_mwh": schedule.soc_mwh,
        "profit_gbp": ppa_gbp_per_mwh * written.demand_mwh
        + problem.vlp_gbp_per_mwh * written.discharge_mwh
        - cost * (written.grid_to_site_mwh + written.charge_mwh),
    })


def rounded_schedule(schedule_rows: pd.DataFrame) -> pd.DataFrame:
    """The schedule as exported: energy to the watt-hour, the energy price to 6 decimals
    (as valued), other prices per MWh to 4 decimals, money to the penny, by each column's
    unit suffix. A money column adds up to its exact
    total rounded to the penny, so profit_gbp sums to row 59's Total plus the fixed charges
    (they are per day, not per period; row 61 states them), give or take the penny
    rounding of row 59's own lines."""
    out = schedule_rows.copy()
    for column in out.columns:
        if column == "energy_price_gbp_per_mwh":
            out[column] = out[column].round(ENERGY_PRICE_DECIMALS) + 0.0
        elif column.endswith("_gbp_per_mwh"):
            out[column] = out[column].round(PRICE_DECIMALS) + 0.0
        elif column.endswith("_mwh"):
            out[column] = out[column].round(ENERGY_DECIMALS) + 0.0
        elif column.endswith("_gbp"):
            out[column] = pennies_adding_up(out[column].to_numpy())
    return out


def daily_summary(schedule_rows: pd.DataFrame) -> pd.DataFrame:
    """Charge, discharge, grid import by band and profit per settlement day."""
    rows = schedule_rows.assign(import_mwh=schedule_rows["grid_to_site_mwh"]
                                + schedule_rows["charge_mwh"])
    by_band = rows.pivot_table(index="settlement_date", columns="duos_band", values="import_mwh",
                               aggfunc="sum", fill_value=0.0)
    by_band = by_band.reindex(columns=[b.value for b in BANDS], fill_value=0.0)
    by_band.columns = [f"import_{c}_mwh" for c in by_band.columns]
    totals = rows.groupby("settlement_date")[["charge_mwh", "discharge_mwh", "profit_gbp"]].sum()
    return totals.join(by_band)[["charge_mwh", "discharge_mwh", "import_red_mwh",
                                 "import_amber_mwh", "import_green_mwh", "profit_gbp"]]


def week_detail(schedule_rows: pd.DataFrame, first_day: dt.date) -> pd.DataFrame:
    """The seven settlement days from ``first_day`` (within the schedule), period by
    period, for the Dispatch tab's chart: start (UK clock time), energy price, state of
    charge at the period's end, charge, discharge. [£/MWh, MWh]"""
    days = pd.to_datetime(schedule_rows["settlement_date"]).dt.date
    week = schedule_rows[(days >= first_day) & (days < first_day + dt.timedelta(days=7))]
    start = pd.to_datetime(week["start_time_utc"], utc=True).dt.tz_convert(periods.UK_TZ)
    return pd.DataFrame({
        "start_uk": start.dt.tz_localize(None).to_numpy(),
        "energy_price_gbp_per_mwh": week["energy_price_gbp_per_mwh"].to_numpy(),
        "soc_end_mwh": week["soc_end_mwh"].to_numpy(),
        "charge_mwh": week["charge_mwh"].to_numpy(),
        "discharge_mwh": week["discharge_mwh"].to_numpy(),
    })


def monthly_profit(schedule_rows: pd.DataFrame, ppa_gbp_per_mwh: float,
                   vlp_gbp_per_mwh: float) -> pd.DataFrame:
    """Profit by calendar month and stream, before the fixed and capacity charges (they are
    per day and Stream 1's; row 61 states them). Stream 2 is the battery's: discharge x
    (PPA + VLP) - import cost x charge (to the watt-hour, as valued); Stream 1 the rest
    of each period's profit. [£]"""
    written = {c: _as_written(schedule_rows[c].to_numpy()) for c in ("discharge_mwh",
                                                                     "charge_mwh")}
    stream2 = ((ppa_gbp_per_mwh + vlp_gbp_per_mwh) * written["discharge_mwh"]
               - schedule_rows["import_cost_gbp_per_mwh"] * written["charge_mwh"])
    month = pd.to_datetime(schedule_rows["settlement_date"]).dt.to_period("M")
    frame = pd.DataFrame({"month": month, "stream1_gbp": schedule_rows["profit_gbp"] - stream2,
                          "stream2_gbp": stream2})
    by_month = frame.groupby("month", sort=True)[["stream1_gbp", "stream2_gbp"]].sum()
    by_month.index = [p.to_timestamp().date() for p in by_month.index]
    return by_month
