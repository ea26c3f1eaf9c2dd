"""The exact dynamic programme over stored energy behind ``optimal``.

State: the stored energy s in [0, capacity] before a settlement period. With W_t(s) the
best value obtainable from period t on, one period's recursion is

    W_{t-1}(s) = max over u of g_t(u) + W_t(s + u),

where u is the change of stored energy: u = eff * charge in [0, hc_t] costs ``a_t`` per MWh
stored (a_t = import cost / eff), u = -discharge in [-hx_t, 0] earns ``b_t`` per MWh
(b_t = import cost + VLP, less any price put on the day's discharge). g_t is concave when
b_t <= a_t, i.e. when charging and discharging at once could not pay. Then W_{t-1} is the
sup-convolution of W_t with g_t: its slopes (marginal values of stored energy) are those of
W_t with two segments inserted, slope a_t over hc_t and slope b_t over hx_t, shifted left
by hc_t and cut back to [0, capacity]. When b_t > a_t only one mode may be used, so
W_{t-1} is the larger of two such functions (charge only, discharge only) and is no longer
concave. It stays piecewise linear and is then kept exactly as breakpoints and values in
numpy (``envelope``): each mode's update is a maximum over a sliding window, and the two
are merged where they cross. Once the function is concave again it goes back to the
one-piece form.

Nothing is discretised: the schedule read back forward from an empty battery (by the
thresholds, or by maximising over the stored W_t) attains W_0(0), up to rounding.

The same programme is compiled (``functions/dp_kernel/btm_ppa_dp.c``, the distribution
``btm-ppa-dp``, installed by ``make setup`` and shipped to the cloud as a wheel): a period
costs about a microsecond there against tens to hundreds here. ``solve`` uses it whenever
it is installed; this module's Python and numpy remain its reference (the tests compare
the two) and the fallback where it is not.
"""

from __future__ import annotations

import time
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from btm_ppa.core.dispatch import envelope

try:
    import btm_ppa_dp as _compiled
except ImportError:  # not installed: the reference below does the same, slower
    _compiled = None

#: The programme ``solve`` runs by default: "compiled" when btm-ppa-dp is installed.
DEFAULT_KERNEL = "compiled" if _compiled is not None else "python"

#: Shorter segments than this are dropped. [MWh]
_EPS_MWH = 1e-12
#: A piece within this of another (plus a relative 1e-12) is dominated. [£]
_TOL_GBP = 1e-9
#: How often (in periods) the deadline is checked.
_CHECK_EVERY = 256

CHARGE_MODE, DISCHARGE_MODE, BOTH_MODES = 1, -1, 0


class DeadlineExceeded(Exception):
    """The optimisation did not finish before its deadline (a ``time.monotonic()`` value)."""


class ProgrammeTooLarge(DeadlineExceeded):
    """The value functions kept for the forward pass would hold more than
    ``MAX_STORED_POINTS`` breakpoints: a budget ran out, as with a deadline. (Only absurd
    shapes get there: a battery thousands of times larger than its site's use, charged in
    every period, where each period adds breakpoints.)"""


#: Most breakpoints the non-concave value functions may keep in all (16 bytes each:
#: 128 MB). A site-year of the benchmark's distribution keeps under half a million, five
#: years under two and a half million.
MAX_STORED_POINTS = 8_000_000


@dataclass(frozen=True)
class Plan:
    """A schedule as stored-energy changes, its value, and the rule used per period."""

    stored_change_mwh: npt.NDArray[np.float64]  # u_t: > 0 charging (energy stored), < 0 discharging
    mode: npt.NDArray[np.int8]  # CHARGE_MODE / DISCHARGE_MODE where only one mode was open
    value_gbp: float  # W_0(0): the sum of g_t(u_t) along the path
    pieces_max: int  # 1: the value function stayed concave; 2: it did not


# A piece: (v0, lengths, negated slopes ascending) over [0, capacity]; stored with
# (kind, ya, yb) appended.


def _transform(v0: float, lens: list[float], neg: list[float], a: float, b: float,
               hc: float, hx: float) -> tuple:
    """Sup-convolution of one concave piece with the kernel (slope a over hc charging,
    slope b over hx discharging; either length may be 0), cut back to [0, capacity].
    Also returns the thresholds the decision reads (in the old piece's coordinates):
    charge up to ``ya``, discharge down to ``yb``."""
    i = bisect_left(neg, -a)  # segments worth more than charging costs
    j = bisect_right(neg, -b)  # segments worth at least what discharging earns
    ya = sum(lens[:i])
    yb = sum(lens[:j])
    if hc > 0.0 and hx > 0.0:  # a >= b here, so i <= j
        nl = [*lens[:i], hc, *lens[i:j], hx, *lens[j:]]
        nn = [*neg[:i], -a, *neg[i:j], -b, *neg[j:]]
    elif hc > 0.0:
        nl = [*lens[:i], hc, *lens[i:]]
        nn = [*neg[:i], -a, *neg[i:]]
    elif hx > 0.0:
        nl = [*lens[:j], hx, *lens[j:]]
        nn = [*neg[:j], -b, *neg[j:]]
    else:
        return v0, array("d", lens), array("d", neg), ya, yb
    v0 = _cut_back(v0 - a * hc, nl, nn, hc, hx)
    # Kept for the forward pass: packed doubles take a quarter of a list's memory.
    return v0, array("d", nl), array("d", nn), ya, yb


def _cut_back(v0: float, lens: list[float], neg: list[float], hc: float, hx: float) -> float:
    """Cut a shifted piece back to [0, capacity], in place: the first ``hc`` MWh fell below
    0 (their value leaves ``v0``, which is returned) and the last ``hx`` MWh rose above
    capacity."""
    cut, k, m = hc, 0, len(lens)
    while cut > _EPS_MWH and k < m:
        ln = lens[k]
        if ln <= cut + _EPS_MWH:
            v0 -= ln * neg[k]
            cut -= ln
            k += 1
        else:
            v0 -= cut * neg[k]
            lens[k] = ln - cut
            cut = 0.0
    if k:
        del lens[:k], neg[:k]
    cut = hx
    while cut > _EPS_MWH and lens:
        ln = lens[-1]
        if ln <= cut + _EPS_MWH:
            cut -= ln
            lens.pop()
            neg.pop()
        else:
            lens[-1] = ln - cut
            cut = 0.0
    return v0


def _transform_in_place(piece: list, a: float, b: float, hc: float, hx: float
                        ) -> tuple[float, float]:
    """``_transform`` of a piece nothing else refers to, in place (a good period: a >= b,
    both lengths > 0). Returns the thresholds (ya, yb)."""
    lens, neg = piece[1], piece[2]
    i = bisect_left(neg, -a)
    j = bisect_right(neg, -b)
    ya = sum(lens[:i])
    yb = ya + sum(lens[i:j])
    lens.insert(j, hx)
    neg.insert(j, -b)
    lens.insert(i, hc)
    neg.insert(i, -a)
    piece[0] = _cut_back(piece[0] - a * hc, lens, neg, hc, hx)
    return ya, yb


def _as_function(piece: list) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """A concave piece [v0, lengths, negated slopes] as breakpoints and values."""
    lens = np.asarray(piece[1], dtype=np.float64)
    xs = np.zeros(len(lens) + 1)
    vs = np.full(len(lens) + 1, float(piece[0]))
    np.cumsum(lens, out=xs[1:])
    vs[1:] -= np.cumsum(lens * np.asarray(piece[2], dtype=np.float64))
    return xs, vs


def _as_piece(xs: npt.NDArray[np.float64], vs: npt.NDArray[np.float64]) -> list | None:
    """The function as a concave piece, or None when it is not concave."""
    lens = np.diff(xs)
    neg = -np.diff(vs) / lens
    if len(neg) > 1 and (np.diff(neg) < 0.0).any():
        return None
    return [float(vs[0]), lens.tolist(), neg.tolist()]


def solve(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64],
          hc: npt.NDArray[np.float64], hx: npt.NDArray[np.float64], capacity_mwh: float,
          deadline: float | None = None, kernel: str | None = None,
          max_points: int | None = None, max_breakpoints: int = 0) -> Plan:
    """The best stored-energy path from an empty battery (leftover energy worth nothing).

    ``a``: cost per MWh stored (£/MWh); ``b``: value per MWh discharged (£/MWh); ``hc``:
    most energy stored per period (MWh, after losses); ``hx``: most discharged (MWh).
    Raises DeadlineExceeded once ``time.monotonic()`` passes ``deadline``, and
    ProgrammeTooLarge past ``max_points`` breakpoints kept (at most ``MAX_STORED_POINTS``,
    the default). ``kernel``: "compiled" or "python" (default ``DEFAULT_KERNEL``).
    ``max_breakpoints`` (compiled only; 0: exact): the most breakpoints one value function
    keeps, past which its shallowest dips are raised to their chords: the value is then an
    upper bound, and the schedule still feasible (its value computed apart).
    """
    kernel = kernel or DEFAULT_KERNEL
    points = MAX_STORED_POINTS if max_points is None else min(max_points, MAX_STORED_POINTS)
    if kernel == "compiled":
        return _solve_compiled(a, b, hc, hx, capacity_mwh, deadline, points, max_breakpoints)
    if kernel != "python":
        raise ValueError(f"kernel must be 'compiled' or 'python', not {kernel!r}")
    return _solve_python(a, b, hc, hx, capacity_mwh, deadline, points)


def _solve_compiled(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64],
                    hc: npt.NDArray[np.float64], hx: npt.NDArray[np.float64],
                    capacity_mwh: float, deadline: float | None, max_points: int,
                    max_breakpoints: int = 0) -> Plan:
    if _compiled is None:
        raise RuntimeError("the compiled programme (btm-ppa-dp) is not installed")
    n = len(a)
    if float(capacity_mwh) <= 0.0:
        return Plan(np.zeros(n), np.zeros(n, dtype=np.int8), 0.0, 1)
    change = np.zeros(n)
    mode = np.zeros(n, dtype=np.int8)
    try:
        out = _compiled.solve(
            *(np.ascontiguousarray(v, dtype=np.float64) for v in (a, b, hc, hx)),
            float(capacity_mwh), -1.0 if deadline is None else deadline, change, mode,
            max_points, max_breakpoints)
    except MemoryError as exc:  # past max_points, or out of memory before it
        raise ProgrammeTooLarge(str(exc)) from None
    if out is None:
        raise DeadlineExceeded
    value, most = out
    return Plan(change, mode, float(value), int(most))


def _solve_python(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64],
                  hc: npt.NDArray[np.float64], hx: npt.NDArray[np.float64], capacity_mwh: float,
                  deadline: float | None, max_points: int) -> Plan:
    n = len(a)
    a_l, b_l, hc_l, hx_l = (np.asarray(v, dtype=np.float64).tolist() for v in (a, b, hc, hx))
    cap = float(capacity_mwh)
    if cap <= 0.0:
        return Plan(np.zeros(n), np.zeros(n, dtype=np.int8), 0.0, 1)
    # While the value function is concave it is one piece updated in place (``own``) and
    # only the decision thresholds are kept for the forward pass; otherwise it is a
    # general piecewise-linear function (``func``, see ``envelope``), kept per period.
    own: list | None = [0.0, [cap], [0.0]]
    func: tuple | None = None
    stored: list = [None] * n
    kept = 0  # breakpoints in the stored functions
    most = 1
    for t in range(n - 1, -1, -1):
        # The clock every period once the function is general (a period may then take
        # milliseconds here), every few hundred while it is one concave piece.
        if (deadline is not None and (own is None or t % _CHECK_EVERY == 0)
                and time.monotonic() > deadline):
            raise DeadlineExceeded
        at, bt, hct, hxt = a_l[t], b_l[t], hc_l[t], hx_l[t]
        good = bt <= at or hct <= 0.0 or hxt <= 0.0
        if own is not None and good:
            # With one mode shut (no charge or no discharge possible), its rule alone.
            kind = BOTH_MODES if bt <= at else CHARGE_MODE if hxt <= 0.0 else DISCHARGE_MODE
            if hct > 0.0 and hxt > 0.0:
                ya, yb = _transform_in_place(own, at, bt, hct, hxt)
            else:
                v0, lens, neg, ya, yb = _transform(own[0], own[1], own[2], at, bt, hct, hxt)
                own = [v0, list(lens), list(neg)]
            stored[t] = (ya, yb, kind)
            continue
        if own is not None:
            func = _as_function(own)
            own = None
        assert func is not None
        stored[t] = func  # W_t: the forward pass maximises over it directly
        kept += len(func[0])
        if kept > max_points:
            raise ProgrammeTooLarge(f"the value functions need more than {max_points} "
                                    "breakpoints in all")
        func = envelope.step(func[0], func[1], at, bt, hct, hxt)
        most = max(most, 2)
        own = _as_piece(*func)
        if own is not None:
            func = None
    # Forward: from an empty battery, follow the thresholds or maximise over W_t.
    change = np.zeros(n)
    mode = np.zeros(n, dtype=np.int8)
    s = 0.0
    value = own[0] if own is not None else float(func[1][0]) if func is not None else 0.0
    for t in range(n):
        if deadline is not None and t % _CHECK_EVERY == 0 and time.monotonic() > deadline:
            raise DeadlineExceeded
        options = stored[t]
        if len(options) == 3:  # concave: its thresholds
            ya, yb, kind = options
            if kind == BOTH_MODES:
                y = min(ya, s + hc_l[t]) if s < ya else max(yb, s - hx_l[t]) if s > yb else s
            elif kind == CHARGE_MODE:
                y = min(max(s, ya), s + hc_l[t])
            else:
                y = max(min(s, yb), s - hx_l[t])
        else:
            y = envelope.best_move(options[0], options[1], s, a_l[t], b_l[t], hc_l[t], hx_l[t])
            kind = (BOTH_MODES if b_l[t] <= a_l[t] or y == s
                    else CHARGE_MODE if y > s else DISCHARGE_MODE)
        y = 0.0 if y < 0.0 else cap if y > cap else y
        change[t] = y - s
        mode[t] = kind
        s = y
    return Plan(change, mode, float(value), most)
