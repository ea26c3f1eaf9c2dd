"""The seeds' battery-first rule, period by period: Red discharges as much as it can;
Amber keeps what today's remaining Red periods can use and discharges the rest, or
charges towards it when short; Green charges. Always feasible."""

from __future__ import annotations

import numpy as np

from btm_ppa.core.dispatch.model import DispatchProblem, Schedule
from btm_ppa.core.vocab import BANDS, DuosBand

#: ``band_code`` values: positions in BANDS.
_RED, _AMBER = BANDS.index(DuosBand.RED), BANDS.index(DuosBand.AMBER)


def greedy_schedule(problem: DispatchProblem) -> Schedule:
    """The seeds' battery-first rule, period by period, always feasible.

    Red: discharge as much as power, demand, charge and the day's cycles allow; never
    charge. Amber: keep enough charge (and cycles) for the rest of today's red periods;
    discharge what is above that, or, when short of it with red still to come, charge
    towards it. Green: charge as much as possible; never discharge. Charging never takes
    the site's import above its import limit.
    """
    b = problem.battery
    eff, cap = b.round_trip_efficiency_frac, b.capacity_mwh
    day_cap = b.daily_discharge_limit_mwh
    dcap = problem.discharge_cap_mwh
    red_need = np.where(problem.band_code == _RED, dcap, 0.0)
    # Red energy still to come today after period t: reverse cumulative sum within each day.
    rev = red_need[::-1]
    day_rev = problem.day_index[::-1]
    boundaries = np.flatnonzero(np.diff(day_rev)) + 1
    suffix = np.concatenate([np.cumsum(part) for part in np.split(rev, boundaries)])[::-1]
    red_after = (suffix - red_need).tolist()
    n = problem.periods
    charge, discharge, soc_out = [0.0] * n, [0.0] * n, [0.0] * n
    bands, days, caps = problem.band_code.tolist(), problem.day_index.tolist(), dcap.tolist()
    charge_caps = problem.charge_cap_mwh.tolist()  # power limit and site import limit
    soc, day, used = 0.0, -1, 0.0
    # A plain loop with inline min/max: this runs once per settlement period.
    for t in range(n):
        if days[t] != day:
            day, used = days[t], 0.0
        allowance = day_cap - used
        band, cmax = bands[t], charge_caps[t]
        if band == _RED:  # red: discharge
            x = caps[t]
            if soc < x:
                x = soc
            if allowance < x:
                x = allowance
            if x > 0.0:
                soc -= x
                used += x
                discharge[t] = x
        elif band == _AMBER:  # amber: keep what today's red can use; discharge or charge to it
            keep = red_after[t]
            if allowance < keep:
                keep = allowance
            if cap < keep:
                keep = cap
            if soc > keep:
                x = caps[t]
                if soc - keep < x:
                    x = soc - keep
                if allowance - keep < x:
                    x = allowance - keep
                if x > 0.0:
                    soc -= x
                    used += x
                    discharge[t] = x
            elif soc < keep:
                ch = (keep - soc) / eff
                if cmax < ch:
                    ch = cmax
                if ch > 0.0:
                    soc += eff * ch
                    charge[t] = ch
        else:  # green: charge
            ch = (cap - soc) / eff
            if cmax < ch:
                ch = cmax
            if ch > 0.0:
                soc += eff * ch
                charge[t] = ch
        soc_out[t] = soc
    return Schedule(np.array(charge), np.array(discharge), np.array(soc_out))
