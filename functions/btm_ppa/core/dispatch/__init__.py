"""Half-hourly battery dispatch behind the meter.

``model`` holds the problem, the schedule and the checks; ``greedy`` the seeds'
battery-first rule; ``optimal`` the exact profit-maximising schedule.
"""

from btm_ppa.core.dispatch.greedy import greedy_schedule
from btm_ppa.core.dispatch.model import (
    ENERGY_TOLERANCE_MWH,
    Battery,
    DispatchProblem,
    Schedule,
    feasibility_problems,
    no_battery,
    profit_gbp,
)
from btm_ppa.core.dispatch.optimal import optimal_schedule

__all__ = [
    "ENERGY_TOLERANCE_MWH",
    "Battery",
    "DispatchProblem",
    "Schedule",
    "feasibility_problems",
    "greedy_schedule",
    "no_battery",
    "optimal_schedule",
    "profit_gbp",
]
