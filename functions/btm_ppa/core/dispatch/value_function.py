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
concave. It stays piecewise linear and is kept exactly, as the upper envelope of concave
pieces (lists of segment lengths and slopes over the whole of [0, capacity]); a piece
that lies under another one at both ends of every interval between breakpoints is dropped
(both are linear there, so it is under it throughout).

Nothing is discretised: the schedule read back from the stored pieces (forward, from an
empty battery, following the best piece's rule) attains W_0(0), up to rounding.
"""

from __future__ import annotations

import time
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: Shorter segments than this are dropped. [MWh]
_EPS_MWH = 1e-12
#: A piece within this of another (plus a relative 1e-12) is dominated. [£]
_TOL_GBP = 1e-9
#: How often (in periods) the deadline is checked.
_CHECK_EVERY = 256

CHARGE_MODE, DISCHARGE_MODE, BOTH_MODES = 1, -1, 0


class DeadlineExceeded(Exception):
    """The optimisation did not finish before its deadline (a ``time.monotonic()`` value)."""


@dataclass(frozen=True)
class Plan:
    """A schedule as stored-energy changes, its value, and the rule used per period."""

    stored_change_mwh: npt.NDArray[np.float64]  # u_t: > 0 charging (energy stored), < 0 discharging
    mode: npt.NDArray[np.int8]  # CHARGE_MODE / DISCHARGE_MODE where only one mode was open
    value_gbp: float  # W_0(0): the sum of g_t(u_t) along the path
    pieces_max: int  # most concave pieces held at once (1: the value function stayed concave)


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
    if hc > 0.0:  # shifted left by hc: cut off what fell below 0
        v0 -= a * hc
        cut, k, m = hc, 0, len(nl)
        while cut > _EPS_MWH and k < m:
            ln = nl[k]
            if ln <= cut + _EPS_MWH:
                v0 -= ln * nn[k]
                cut -= ln
                k += 1
            else:
                v0 -= cut * nn[k]
                nl[k] = ln - cut
                cut = 0.0
        if k:
            del nl[:k], nn[:k]
    if hx > 0.0:  # cut off what rose above capacity
        cut = hx
        while cut > _EPS_MWH and nl:
            ln = nl[-1]
            if ln <= cut + _EPS_MWH:
                cut -= ln
                nl.pop()
                nn.pop()
            else:
                nl[-1] = ln - cut
                cut = 0.0
    # Kept for the forward pass: packed doubles take a quarter of a list's memory.
    return v0, array("d", nl), array("d", nn), ya, yb


def _breakpoints(piece: tuple) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    lens = np.array(piece[1])
    xs = np.zeros(len(lens) + 1)
    vs = np.full(len(lens) + 1, piece[0])
    np.cumsum(lens, out=xs[1:])
    vs[1:] -= np.cumsum(lens * np.array(piece[2]))
    return xs, vs


def _values_at(piece: tuple, points: list[float]) -> list[float]:
    """A piece's values at sorted points in [0, capacity]."""
    out = []
    lens, neg = piece[1], piece[2]
    x, v, i, n = 0.0, piece[0], 0, len(lens)
    for p in points:
        while i < n and x + lens[i] <= p:
            x += lens[i]
            v -= lens[i] * neg[i]
            i += 1
        out.append(v - (p - x) * neg[i] if i < n else v)
    return out


def _prune(pieces: list[tuple]) -> list[tuple]:
    """The pieces not dominated on every interval between breakpoints by one kept piece."""
    if len(pieces) * sum(len(p[1]) for p in pieces) > 96:  # numpy pays off
        return _prune_many(pieces)
    found = set()
    for piece in pieces:
        x = 0.0
        for ln in piece[1]:
            x += ln
            found.add(x)
    points = [0.0, *sorted(found)]
    values = [_values_at(p, points) for p in pieces]
    k = len(points)
    kept: list[int] = []
    m = len(pieces)
    for j in range(m):
        vj = values[j]
        others = [values[i] for i in kept] + values[j + 1:]
        for q in range(k - 1):
            lo = vj[q] - _TOL_GBP - 1e-12 * abs(vj[q])
            hi = vj[q + 1] - _TOL_GBP - 1e-12 * abs(vj[q + 1])
            if not any(vi[q] >= lo and vi[q + 1] >= hi for vi in others):
                kept.append(j)
                break
    return [pieces[j] for j in kept]


def _prune_many(pieces: list[tuple]) -> list[tuple]:
    """``_prune`` in numpy, for many pieces."""
    shapes = [_breakpoints(p) for p in pieces]
    points = np.unique(np.concatenate([xs for xs, _ in shapes]))
    values = np.array([np.interp(points, xs, vs) for xs, vs in shapes])
    slack = _TOL_GBP + 1e-12 * np.abs(values)
    kept: list[int] = []
    m = len(pieces)
    for j in range(m):
        others = kept + list(range(j + 1, m))
        low = values[j] - slack[j]
        above = values[others] >= low
        both_ends = above[:, :-1] & above[:, 1:] if len(points) > 1 else above
        if not both_ends.any(axis=0).all():
            kept.append(j)
    return [pieces[j] for j in kept]


def _value_at(piece: tuple, s: float) -> float:
    v, x = piece[0], 0.0
    for ln, ng in zip(piece[1], piece[2], strict=False):
        if x + ln >= s:
            return v - (s - x) * ng
        x += ln
        v -= ln * ng
    return v


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
    v0 = piece[0] - a * hc
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
    piece[0] = v0
    return ya, yb


def solve(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64],
          hc: npt.NDArray[np.float64], hx: npt.NDArray[np.float64], capacity_mwh: float,
          deadline: float | None = None) -> Plan:
    """The best stored-energy path from an empty battery (leftover energy worth nothing).

    ``a``: cost per MWh stored (£/MWh); ``b``: value per MWh discharged (£/MWh); ``hc``:
    most energy stored per period (MWh, after losses); ``hx``: most discharged (MWh).
    Raises DeadlineExceeded once ``time.monotonic()`` passes ``deadline``.
    """
    n = len(a)
    a_l, b_l, hc_l, hx_l = (np.asarray(v, dtype=np.float64).tolist() for v in (a, b, hc, hx))
    cap = float(capacity_mwh)
    if cap <= 0.0:
        return Plan(np.zeros(n), np.zeros(n, dtype=np.int8), 0.0, 1)
    pieces: list[tuple] = [(0.0, [cap], [0.0], BOTH_MODES, 0.0, 0.0)]
    # While the value function is one concave piece it is updated in place (``own``, a
    # private copy) and only the decision thresholds are kept for the forward pass.
    own: list | None = None
    stored: list = [None] * n
    most = 1
    for t in range(n - 1, -1, -1):
        if deadline is not None and t % _CHECK_EVERY == 0 and time.monotonic() > deadline:
            raise DeadlineExceeded
        at, bt, hct, hxt = a_l[t], b_l[t], hc_l[t], hx_l[t]
        good = bt <= at or hct <= 0.0 or hxt <= 0.0
        if good and len(pieces) == 1 and hct > 0.0 and hxt > 0.0:
            if own is None:
                p = pieces[0]
                own = [p[0], list(p[1]), list(p[2])]
            stored[t] = _transform_in_place(own, at, bt, hct, hxt)
            continue
        if own is not None:
            pieces = [(own[0], own[1], own[2], BOTH_MODES, 0.0, 0.0)]
            own = None
        if good:
            # With one mode shut (no charge or no discharge possible), its rule alone.
            kind = BOTH_MODES if bt <= at else CHARGE_MODE if hxt <= 0.0 else DISCHARGE_MODE
            new = [(*_transform(p[0], p[1], p[2], at, bt, hct, hxt), kind) for p in pieces]
        else:
            new = []
            for p in pieces:
                new.append((*_transform(p[0], p[1], p[2], at, bt, hct, 0.0), CHARGE_MODE))
                new.append((*_transform(p[0], p[1], p[2], at, bt, 0.0, hxt), DISCHARGE_MODE))
        if len(new) > 1:
            new = _prune(new)
            if len(new) > most:
                most = len(new)
        stored[t] = new
        pieces = new
    # Forward: from an empty battery, follow the best piece's rule in each period.
    change = np.zeros(n)
    mode = np.zeros(n, dtype=np.int8)
    s = 0.0
    if own is not None:
        pieces = [(own[0], own[1], own[2], BOTH_MODES, 0.0, 0.0)]
    value = max(_value_at(p, 0.0) for p in pieces) if n else 0.0
    for t in range(n):
        if deadline is not None and t % _CHECK_EVERY == 0 and time.monotonic() > deadline:
            raise DeadlineExceeded
        options = stored[t]
        if type(options) is tuple:  # one concave piece: its thresholds
            (ya, yb), kind = options, BOTH_MODES
        else:
            best = options[0] if len(options) == 1 else max(options, key=lambda p: _value_at(p, s))
            _, _, _, ya, yb, kind = best
        if kind == BOTH_MODES:
            y = min(ya, s + hc_l[t]) if s < ya else max(yb, s - hx_l[t]) if s > yb else s
        elif kind == CHARGE_MODE:
            y = min(max(s, ya), s + hc_l[t])
        else:
            y = max(min(s, yb), s - hx_l[t])
        y = 0.0 if y < 0.0 else cap if y > cap else y
        change[t] = y - s
        mode[t] = kind
        s = y
    return Plan(change, mode, float(value), most)
