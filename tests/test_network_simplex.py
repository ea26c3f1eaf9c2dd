"""The network simplex on random circulations, against scipy's LP (HiGHS through scipy,
a separate formulation with one column per arc and one equality row per node)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from btm_ppa.core.dispatch.network_simplex import OPTIMAL, PIVOT_LIMIT, solve_circulation


@st.composite
def circulations(draw):
    """A random graph whose first arcs form a tree: node i -> parent[i] (parent > i, the
    last node is the root), with positive capacity; then random extra arcs, some with
    zero capacity, costs of both signs (negative cycles are what the solver removes)."""
    nodes = draw(st.integers(2, 9))
    parent = [draw(st.integers(i + 1, nodes - 1)) for i in range(nodes - 1)]
    extra = draw(st.integers(1, 3 * nodes))
    tail = list(range(nodes - 1)) + [draw(st.integers(0, nodes - 1)) for _ in range(extra)]
    head = parent + [draw(st.integers(0, nodes - 1)) for _ in range(extra)]
    capacity = ([draw(st.integers(1, 50)) for _ in range(nodes - 1)]
                + [draw(st.integers(0, 50)) for _ in range(extra)])
    cost = [draw(st.integers(-100, 100)) for _ in range(len(tail))]
    arrays = [np.array(a, dtype=np.int64) for a in (tail, head, capacity, cost)]
    return (*arrays, np.array([*parent, -1], dtype=np.int64),
            np.array([*range(nodes - 1), -1], dtype=np.int64))


def _lp_optimum(tail, head, capacity, cost, nodes):
    incidence = np.zeros((nodes, len(tail)))
    incidence[tail, np.arange(len(tail))] += 1
    incidence[head, np.arange(len(tail))] -= 1
    res = linprog(cost, A_eq=incidence, b_eq=np.zeros(nodes),
                  bounds=list(zip(np.zeros(len(tail)), capacity, strict=True)), method="highs")
    assert res.status == 0
    return res.fun


@settings(max_examples=200, deadline=None)
@given(case=circulations())
def test_circulation_is_feasible_optimal_and_certified_by_its_potentials(case):
    tail, head, capacity, cost, parent, parent_arc = case
    nodes = len(parent)
    result = solve_circulation(tail, head, capacity, cost, parent, parent_arc, max_pivots=10_000)
    assert result.status == OPTIMAL
    flow = result.flow
    assert ((flow >= 0) & (flow <= capacity)).all()
    balance = np.bincount(tail, flow, nodes) - np.bincount(head, flow, nodes)
    assert (balance == 0).all()
    assert int(cost @ flow) == pytest.approx(_lp_optimum(tail, head, capacity, cost, nodes),
                                             abs=1e-6)
    # Complementary slackness, exactly in integers: the potentials prove optimality.
    reduced = cost + result.potential[tail] - result.potential[head]
    assert (reduced[(flow < capacity)] >= 0).all()
    assert (reduced[(flow > 0)] <= 0).all()


def test_a_negative_cycle_is_saturated_and_nothing_else_moves():
    # 0 -> 1 -> 2 -> 0 costs -3 per unit and carries at most 4; 0 -> 2 is dearer.
    tail = np.array([0, 1, 2, 0], dtype=np.int64)
    head = np.array([2, 2, 0, 1], dtype=np.int64)
    capacity = np.array([10, 4, 9, 7], dtype=np.int64)
    cost = np.array([5, -1, -4, 2], dtype=np.int64)
    parent = np.array([2, 2, -1], dtype=np.int64)
    result = solve_circulation(tail, head, capacity, cost, parent,
                               np.array([0, 1, -1], dtype=np.int64), max_pivots=100)
    assert result.status == OPTIMAL
    assert result.flow.tolist() == [0, 4, 4, 4]
    assert int(cost @ result.flow) == -12


def test_running_out_of_pivots_is_reported_not_returned_as_optimal():
    tail = np.array([0, 1, 2, 0], dtype=np.int64)
    head = np.array([2, 2, 0, 1], dtype=np.int64)
    capacity = np.array([10, 4, 9, 7], dtype=np.int64)
    cost = np.array([5, -1, -4, 2], dtype=np.int64)
    result = solve_circulation(tail, head, capacity, cost, np.array([2, 2, -1], dtype=np.int64),
                               np.array([0, 1, -1], dtype=np.int64), max_pivots=0)
    assert result.status == PIVOT_LIMIT


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(capacity=a["capacity"].astype(float)), "int64"),
    (lambda a: a.update(parent=np.array([1, 2, -1], dtype=np.int64)), "from a node to its parent"),
    (lambda a: a["capacity"].__setitem__(1, 0), "positive capacity"),
    (lambda a: a["capacity"].__setitem__(3, -1), ">= 0"),
])
def test_bad_starting_data_is_refused(change, message):
    args = dict(tail=np.array([0, 1, 2, 0], dtype=np.int64),
                head=np.array([2, 2, 0, 1], dtype=np.int64),
                capacity=np.array([10, 4, 9, 7], dtype=np.int64),
                cost=np.array([5, -1, -4, 2], dtype=np.int64),
                parent=np.array([2, 2, -1], dtype=np.int64),
                parent_arc=np.array([0, 1, -1], dtype=np.int64))
    change(args)
    with pytest.raises((TypeError, ValueError), match=message):
        solve_circulation(max_pivots=100, **args)
