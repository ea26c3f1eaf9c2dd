"""The programme's piecewise-linear operations (``envelope``) against brute force: the
maximum over each window and one period's update, evaluated at every point that can
carry the maximum (window ends and breakpoints inside)."""

import numpy as np
import pytest

from btm_ppa.core.dispatch import envelope as E

CAP_MWH = 10.0


def random_function(rng):
    inner = rng.uniform(0, CAP_MWH, rng.integers(1, 8))
    xs = np.unique(np.concatenate([[0.0, CAP_MWH], inner]))
    return xs, rng.normal(size=len(xs)) * 3


def best_over(xs, vs, s, lo, hi, gain):
    candidates = np.concatenate([[s, lo, hi], xs[(xs >= lo) & (xs <= hi)]])
    return (np.interp(candidates, xs, vs) + gain(candidates)).max()


@pytest.mark.parametrize("seed", range(4))
def test_window_maximum_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    points = np.linspace(0, CAP_MWH, 401)
    for _ in range(60):
        xs, fs = random_function(rng)
        h = rng.uniform(0, 12)
        gx, gv = E.window_max(xs, fs, h)
        assert (np.diff(gx) > 0).all() and gx[0] == 0 and gx[-1] == CAP_MWH
        brute = [best_over(xs, fs, s, s, min(s + h, CAP_MWH), np.zeros_like) for s in points]
        np.testing.assert_allclose(np.interp(points, gx, gv), brute, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_one_period_update_matches_brute_force_and_best_move_attains_it(seed):
    rng = np.random.default_rng(100 + seed)
    points = np.linspace(0, CAP_MWH, 201)
    for _ in range(60):
        xs, vs = random_function(rng)
        a, b = rng.uniform(0, 3, 2)  # either order: doing both at once may pay or not
        hc, hx = rng.uniform(0, 4, 2) * (rng.random(2) < 0.9)
        gx, gv = E.step(xs, vs, a, b, hc, hx)

        def gain(y, s, a=a, b=b):
            return np.where(y >= s, -a * (y - s), b * (s - y))

        for s in points:
            lo, hi = max(0.0, s - hx), min(CAP_MWH, s + hc)
            brute = best_over(xs, vs, s, lo, hi, lambda y, s=s: gain(y, s))
            assert np.interp(s, gx, gv) == pytest.approx(brute, abs=1e-9)
            y = E.best_move(xs, vs, s, a, b, hc, hx)
            assert lo - 1e-12 <= y <= hi + 1e-12
            assert np.interp(y, xs, vs) + gain(y, s) == pytest.approx(brute, abs=1e-9)


def test_simplify_drops_only_straight_breakpoints():
    xs = np.array([0.0, 1.0, 2.0, 3.0, 3.0 + 1e-14, 4.0, 5.0])
    vs = np.array([0.0, 1.0, 2.0, 3.0, 3.0, 2.0, 2.0])
    sx, sv = E.simplify(xs, vs)
    np.testing.assert_array_equal(sx, [0.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(sv, [0.0, 3.0, 2.0, 2.0])
