"""Half-hourly battery dispatch behind the meter.

``model`` holds the problem, the schedule and the checks; ``greedy`` the seeds'
battery-first rule; ``optimal`` the exact profit-maximising schedule with its certificate
(``value_function``: the dynamic programme over stored energy; ``lp``: the LP with modes
fixed, for the daily cycle limit, in HiGHS; ``network``: the same LP as a circulation, by
the compiled network simplex).
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
from btm_ppa.core.dispatch.optimal import (
    PROFIT_TOLERANCE_GBP,
    DeadlineExceeded,
    OptimalResult,
    battery_value_gbp,
    optimal_dispatch,
    optimal_schedule,
    simultaneity_pays,
)
from btm_ppa.core.dispatch.relaxed import (
    DEADLINE,
    IDLE,
    MEMORY_BUDGET,
    RELAXATION,
    RULE,
    SEARCH,
    SOURCE_WORDS,
)

__all__ = [
    "DEADLINE",
    "ENERGY_TOLERANCE_MWH",
    "IDLE",
    "MEMORY_BUDGET",
    "PROFIT_TOLERANCE_GBP",
    "RELAXATION",
    "RULE",
    "SEARCH",
    "SOURCE_WORDS",
    "Battery",
    "DeadlineExceeded",
    "DispatchProblem",
    "OptimalResult",
    "Schedule",
    "battery_value_gbp",
    "feasibility_problems",
    "greedy_schedule",
    "no_battery",
    "optimal_dispatch",
    "optimal_schedule",
    "profit_gbp",
    "simultaneity_pays",
]
