"""Exact operations on continuous piecewise-linear functions of stored energy, in numpy:
the value function of ``value_function`` once it is no longer concave.

A function is a pair of arrays (xs, vs): breakpoints ascending from 0 to the capacity and
the values there, linear in between. Every operation below is exact up to rounding: new
breakpoints are only ever added where two linear pieces cross, and a breakpoint is only
removed where the function is straight through it (to within ``_TOL_GBP``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Breakpoints closer than this are merged. [MWh]
_EPS_MWH = 1e-12
#: A breakpoint this close to the chord of its neighbours is removed (plus a relative
#: 1e-14 of the value). [£]
_TOL_GBP = 1e-10


def _inner_max(xs: FloatArray, fs: FloatArray, lo: FloatArray, hi: FloatArray) -> FloatArray:
    """Per window (lo, hi): the largest value of F at a breakpoint inside it that is a local
    maximum (-inf where there is none). With F at both ends of the window this is F's
    maximum over the window: F is linear between breakpoints."""
    peak = np.flatnonzero((fs[1:-1] >= fs[:-2]) & (fs[1:-1] >= fs[2:])) + 1
    if not len(peak):
        return np.full(len(lo), -np.inf)
    px = xs[peak]
    inside = (px[:, None] > lo[None, :]) & (px[:, None] < hi[None, :])
    return np.where(inside, fs[peak][:, None], -np.inf).max(axis=0)


def window_max(xs: FloatArray, fs: FloatArray, h: float) -> tuple[FloatArray, FloatArray]:
    """M(s) = max of F(y) over y in [s, min(s + h, cap)], for s in [0, cap] (cap = xs[-1])."""
    cap = xs[-1]
    if h <= 0.0 or len(xs) < 2:
        return xs, fs
    shifted = xs - h
    grid = np.sort(np.concatenate([xs, shifted[shifted > 0.0]]))  # repeats: empty intervals
    g0, g1 = grid[:-1], grid[1:]
    mid = 0.5 * (g0 + g1)
    # Inside one grid interval neither end of the window crosses a breakpoint of F: F at
    # both ends is linear, and the breakpoints strictly inside the window do not change.
    inner = _inner_max(xs, fs, mid, mid + h)
    at_s = np.interp(grid, xs, fs)
    at_end = np.interp(np.minimum(grid + h, cap), xs, fs)
    a0, a1, b0, b1 = at_s[:-1], at_s[1:], at_end[:-1], at_end[1:]
    # No breakpoint inside: a line under the other two, which never wins.
    c = np.where(np.isfinite(inner), inner,
                 np.minimum(np.minimum(a0, b0), np.minimum(a1, b1)) - 1.0)
    starts = np.array([a0, b0, c])  # three lines per interval: F(s), F(s + h), inner maximum
    ends = np.array([a1, b1, c])
    d0 = starts[[0, 0, 1]] - starts[[1, 2, 2]]
    d1 = ends[[0, 0, 1]] - ends[[1, 2, 2]]
    cross = d0 * d1 < 0.0
    f = np.zeros((len(g0), 4))
    with np.errstate(divide="ignore", invalid="ignore"):
        f[:, 1:] = np.where(cross, d0 / (d0 - d1), np.nan).T  # NaN where no crossing
    f.sort(axis=1)  # NaN last
    valid = ~np.isnan(f)
    k = np.nonzero(valid)[0]
    fv = f[valid]
    px = g0[k] + fv * (g1[k] - g0[k])
    pv = np.max(starts[:, k] + fv * (ends[:, k] - starts[:, k]), axis=0)
    px = np.concatenate([px, [cap]])
    pv = np.concatenate([pv, [max(a1[-1], b1[-1], c[-1])]])
    return px, pv


def upper(x1: FloatArray, v1: FloatArray, x2: FloatArray, v2: FloatArray
          ) -> tuple[FloatArray, FloatArray]:
    """max of two functions on the same [0, cap]."""
    grid = np.sort(np.concatenate([x1, x2]))  # repeats merged by ``simplify``
    p = np.interp(grid, x1, v1)
    q = np.interp(grid, x2, v2)
    d = p - q
    cross = np.flatnonzero(d[:-1] * d[1:] < 0.0)
    if len(cross):
        d0, d1 = d[cross], d[cross + 1]
        xc = grid[cross] + (grid[cross + 1] - grid[cross]) * (d0 / (d0 - d1))
        vc = p[cross] + (p[cross + 1] - p[cross]) * (d0 / (d0 - d1))
        order = np.argsort(np.concatenate([grid, xc]), kind="stable")
        return (np.concatenate([grid, xc])[order],
                np.concatenate([np.maximum(p, q), vc])[order])
    return grid, np.maximum(p, q)


def simplify(xs: FloatArray, vs: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Merge breakpoints closer than ``_EPS_MWH`` and drop those the function is straight
    through."""
    keep = np.ones(len(xs), dtype=bool)
    keep[1:] = np.diff(xs) > _EPS_MWH
    if not keep[-1]:  # keep the capacity itself; drop the point just before it
        keep[-1] = True
        last = np.flatnonzero(keep[:-1])[-1]
        keep[last] = last == 0
    xs, vs = xs[keep], vs[keep]
    while True:
        xs, vs, again = _drop_straight(xs, vs)
        if not again:
            return xs, vs


def _drop_straight(xs: FloatArray, vs: FloatArray) -> tuple[FloatArray, FloatArray, bool]:
    """One pass of ``simplify``'s removal of straight points; True when another may help."""
    n = len(xs)
    if n < 3:
        return xs, vs, False
    x0, x1, x2 = xs[:-2], xs[1:-1], xs[2:]
    v0, v1, v2 = vs[:-2], vs[1:-1], vs[2:]
    tol = _TOL_GBP + 1e-14 * np.abs(vs)
    straight = np.zeros(n, dtype=bool)
    straight[1:-1] = np.abs(v1 - v0 - (v2 - v0) * ((x1 - x0) / (x2 - x0))) <= tol[1:-1]
    if not straight.any():
        return xs, vs, False
    # A run of straight points goes at once if every one is on the chord of the points
    # kept either side of the run; otherwise every other one goes, and another pass follows.
    index = np.arange(n)
    left = np.maximum.accumulate(np.where(straight, 0, index))
    right = np.minimum.accumulate(np.where(straight, n - 1, index)[::-1])[::-1]
    span = np.where(straight, xs[right] - xs[left], 1.0)
    chord = vs[left] + (vs[right] - vs[left]) * ((xs - xs[left]) / span)
    off = straight & (np.abs(vs - chord) > tol)
    again = bool(off.any())
    if again:
        bent = straight & (np.bincount(left[off], minlength=n)[left] > 0)
        straight &= ~bent | ((index - left) % 2 == 1)  # of a bent run, every other point
    return xs[~straight], vs[~straight], again


def step(xs: FloatArray, vs: FloatArray, a: float, b: float, hc: float, hx: float
         ) -> tuple[FloatArray, FloatArray]:
    """One period backwards: max over u of g(u) + W(s + u), g(u) = -a u charging (u in
    [0, hc]) and -b u discharging (u in [-hx, 0]), one mode at a time."""
    cap = xs[-1]
    cx, cv = window_max(xs, vs - a * xs, hc)
    cv = cv + a * cx
    rx = cap - xs[::-1]
    dx, dv = window_max(rx, (vs - b * xs)[::-1], hx)
    dx = cap - dx[::-1]
    dv = dv[::-1] + b * dx
    dx[0], dx[-1] = 0.0, cap
    cx[0], cx[-1] = 0.0, cap
    return simplify(*upper(cx, cv, dx, dv))


def best_move(xs: FloatArray, vs: FloatArray, s: float, a: float, b: float, hc: float,
              hx: float) -> float:
    """The stored energy after the period that maximises g(y - s) + W(y), from s."""
    cap = xs[-1]
    lo = max(0.0, s - hx)
    hi = min(cap, s + hc)
    i0 = int(np.searchsorted(xs, lo, "right"))
    i1 = int(np.searchsorted(xs, hi, "left"))
    cand = np.concatenate([[s, lo, hi], xs[i0:i1]])
    gain = np.where(cand >= s, -a * (cand - s), b * (s - cand))
    total = np.interp(cand, xs, vs) + gain
    return float(cand[int(np.argmax(total))])
