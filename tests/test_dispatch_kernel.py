"""The compiled dynamic programme (btm-ppa-dp) against its Python and numpy reference
(``value_function`` with kernel="python", itself checked against brute force in
``test_dispatch_envelope`` and against an independent MILP through ``optimal`` in
``test_dispatch``): the same optimum, a path that attains it, and the same contract for
deadlines and bad buffers."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from btm_ppa.core.dispatch import value_function as V

pytestmark = pytest.mark.unit

btm_ppa_dp = pytest.importorskip("btm_ppa_dp", reason="the compiled programme is not installed")


def path_value(plan: V.Plan, a: np.ndarray, b: np.ndarray) -> float:
    u = plan.stored_change_mwh
    return float(np.where(u > 0, -a * u, -b * u).sum())


def check_path(plan: V.Plan, hc: np.ndarray, hx: np.ndarray, capacity: float) -> None:
    u = plan.stored_change_mwh
    soc = np.cumsum(u)
    assert (u <= hc + 1e-9).all() and (-u <= hx + 1e-9).all()
    assert soc.min(initial=0) >= -1e-9 and soc.max(initial=0) <= capacity + 1e-9
    # Where only one mode was open, the path used only that one.
    assert (u[plan.mode == V.CHARGE_MODE] >= -1e-12).all()
    assert (u[plan.mode == V.DISCHARGE_MODE] <= 1e-12).all()


@st.composite
def programmes(draw):
    n = draw(st.integers(1, 60))
    eff = draw(st.sampled_from([0.7, 0.85, 0.95, 1.0]))
    vlp = draw(st.sampled_from([0.0, 10.0, 40.0, 150.0]))
    cost = np.array(draw(st.lists(st.floats(-60, 300, allow_nan=False).map(lambda v: round(v, 2)),
                                  min_size=n, max_size=n)))
    # A cycle-limit price on some periods, as optimal's later rounds put there.
    price = np.array(draw(st.lists(st.sampled_from([0.0, 0.0, 5.0, 30.0]), min_size=n, max_size=n)))
    hc = np.array(draw(st.lists(st.sampled_from([0.0, 0.3, 0.5, 1.0]), min_size=n, max_size=n)))
    hx = np.array(draw(st.lists(st.sampled_from([0.0, 0.2, 0.5, 1.0]), min_size=n, max_size=n)))
    capacity = draw(st.sampled_from([0.25, 1.0, 1.7, 4.0]))
    return cost / eff, cost + vlp - price, eff * hc, hx, capacity


@settings(max_examples=300, deadline=None)
@given(args=programmes())
def test_the_compiled_programme_finds_the_references_optimum(args):
    a, b, hc, hx, capacity = args
    compiled = V.solve(a, b, hc, hx, capacity, kernel="compiled")
    reference = V.solve(a, b, hc, hx, capacity, kernel="python")
    scale = 1.0 + abs(reference.value_gbp)
    assert compiled.value_gbp == pytest.approx(reference.value_gbp, abs=1e-9 * scale)
    # Its own path attains the value it reports (ties may pick another optimal path).
    assert path_value(compiled, a, b) == pytest.approx(compiled.value_gbp, abs=1e-7 * scale)
    check_path(compiled, hc, hx, capacity)
    assert compiled.pieces_max == reference.pieces_max


def test_a_year_of_real_shaped_prices_agrees_with_the_reference():
    rng = np.random.default_rng(7)
    n = 17_520
    t = np.arange(n)
    cost = 95 + 60 * np.sin(2 * np.pi * t / 48) + rng.normal(0, 25, n)
    eff, vlp = 0.9, 35.0
    hc, hx = np.full(n, eff * 1.5), np.minimum(1.5, rng.uniform(0.2, 2.0, n))
    args = (cost / eff, cost + vlp, hc, hx, 6.0)
    compiled = V.solve(*args, kernel="compiled")
    reference = V.solve(*args, kernel="python")
    assert compiled.pieces_max == 2  # the non-concave form was exercised
    assert compiled.value_gbp == pytest.approx(reference.value_gbp, rel=1e-10)
    assert path_value(compiled, cost / eff, cost + vlp) == pytest.approx(compiled.value_gbp,
                                                                           rel=1e-10)
    check_path(compiled, hc, hx, 6.0)


def test_a_past_deadline_raises_and_a_future_one_does_not():
    n = 5_000
    a, b = np.full(n, 50.0), np.full(n, 60.0)
    hc = hx = np.full(n, 0.5)
    with pytest.raises(V.DeadlineExceeded):
        V.solve(a, b, hc, hx, 2.0, deadline=time.monotonic() - 1, kernel="compiled")
    plan = V.solve(a, b, hc, hx, 2.0, deadline=time.monotonic() + 60, kernel="compiled")
    assert plan.value_gbp > 0


def test_buffers_of_the_wrong_length_or_type_are_refused():
    a = np.zeros(4)
    change, mode = np.zeros(4), np.zeros(4, dtype=np.int8)
    with pytest.raises(ValueError, match="one entry per period"):
        btm_ppa_dp.solve(a, a, a, np.zeros(3), 1.0, -1.0, change, mode)
    with pytest.raises(ValueError, match="8-byte items"):
        btm_ppa_dp.solve(a.astype(np.float32), a, a, a, 1.0, -1.0, change, mode)
    with pytest.raises(ValueError, match="capacity"):
        btm_ppa_dp.solve(a, a, a, a, float("nan"), -1.0, change, mode)
    with pytest.raises((TypeError, BufferError, ValueError)):
        btm_ppa_dp.solve(a, a, a, a, 1.0, -1.0, change, bytes(4))  # read-only output


def test_an_unknown_kernel_is_refused():
    with pytest.raises(ValueError, match="kernel"):
        V.solve(np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1), 1.0, kernel="fortran")


@pytest.mark.parametrize("kernel", ["compiled", "python"])
def test_value_functions_past_their_memory_budget_stop_the_programme(monkeypatch, kernel):
    # Cheap periods where doing both pays keep every value function non-concave: each one
    # is kept for the forward pass, and the budget counts their breakpoints.
    n = 400
    a, b = np.full(n, 50.0), np.full(n, 80.0)
    hc, hx = np.full(n, 0.5), np.full(n, 0.3)
    plan = V.solve(a, b, hc, hx, 2.0, kernel=kernel)
    assert plan.pieces_max == 2
    monkeypatch.setattr(V, "MAX_STORED_POINTS", 50)
    with pytest.raises(V.ProgrammeTooLarge, match="more than 50 breakpoints"):
        V.solve(a, b, hc, hx, 2.0, kernel=kernel)
    assert issubclass(V.ProgrammeTooLarge, V.DeadlineExceeded)  # handled as a spent budget
