"""Site demand per settlement period: from half-hourly data, or an annual total spread
over a default commercial load shape.

The default shape (documented in the README) is a weekday working profile: 45 % of peak
overnight, ramping to full load 08:00-18:00, easing off to 50 % late evening; weekends
and bank holidays run at 50 % all day. Bank holidays follow the site's nation (England,
Wales or Scotland), from the ``holidays`` package.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import holidays
import numpy as np
import numpy.typing as npt
import pandas as pd

from btm_ppa.core import periods

#: Relative load of each half-hour clock slot (0 = 00:00) on a working day.
WORKDAY_SHAPE = np.array(
    [0.45] * 12          # 00:00-06:00
    + [0.60, 0.75, 0.85, 0.95]  # 06:00-08:00 ramp up
    + [1.00] * 20        # 08:00-18:00
    + [0.85, 0.75, 0.65, 0.60]  # 18:00-20:00 ramp down
    + [0.50] * 8         # 20:00-24:00
)
#: Relative load of every slot on weekends and bank holidays.
NON_WORKING_LEVEL = 0.50

#: Holiday calendar subdivision of each GSP group (Scotland and Wales differ from England).
_NATION = {"_N": "SCT", "_P": "SCT", "_K": "WLS", "_D": "WLS"}


def non_working_days(gsp_group_id: str, years: Iterable[int]) -> set[dt.date]:
    """Bank holidays of the site's nation in the given years."""
    return set(holidays.UK(subdiv=_NATION.get(gsp_group_id, "ENG"), years=list(years)))


def default_shape_weights(frame: pd.DataFrame, gsp_group_id: str) -> npt.NDArray[np.float64]:
    """Relative load of each period of a period frame (``periods.settlement_periods``)."""
    dates = frame[periods.SETTLEMENT_DATE]
    years = {d.year for d in (dates.iloc[0], dates.iloc[-1])} | {dates.iloc[0].year + 1}
    off = non_working_days(gsp_group_id, range(min(years), max(years) + 1))
    non_working = frame[periods.IS_WEEKEND].to_numpy() | dates.isin(off).to_numpy()
    slot = frame[periods.LOCAL_SLOT].to_numpy()
    return np.where(non_working, NON_WORKING_LEVEL, WORKDAY_SHAPE[slot])


def spread_annual_demand(annual_mwh: float, frame: pd.DataFrame,
                         gsp_group_id: str) -> npt.NDArray[np.float64]:
    """Spread an annual total over the window's periods with the default shape. [MWh]

    The window supplies exactly ``annual_mwh x days / 365`` when it is a year or longer
    (so a 365-day window supplies ``annual_mwh`` and a 366-day window ``annual_mwh x
    366/365``), the load shape (bank holidays included) deciding each period's part.
    A shorter window supplies its share of the year that starts on its first day: the
    shape's weight over the window / the shape's weight over those 365 days.
    """
    weights = default_shape_weights(frame, gsp_group_id)
    dates = frame[periods.SETTLEMENT_DATE]
    first, last = dates.iloc[0], dates.iloc[-1]
    days = (last - first).days + 1
    if days >= 365:
        return annual_mwh * days / 365.0 * weights / weights.sum()
    year = periods.settlement_periods(first, first + dt.timedelta(days=364))
    return annual_mwh * weights / default_shape_weights(year, gsp_group_id).sum()
