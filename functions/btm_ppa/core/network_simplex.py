"""Primal network simplex for a minimum-cost circulation, compiled with numba.

The dispatch LP without the "charge or discharge, not both" rule is a minimum-cost flow
(see ``dispatch._network_relaxation``), and a network simplex solves it several times
faster than a general LP simplex because a pivot only walks one cycle of a spanning
tree. Arithmetic is in int64 throughout, so every comparison is exact and the method
terminates: the tree is kept strongly feasible (Cunningham's rule: every zero-flow tree
arc points towards the root, every full one away from it, so each node can push flow to
the root), which rules out cycling through degenerate pivots.

The tree is stored as parent links plus doubly linked child lists. A pivot finds the
cycle's apex by depth, picks the last blocking arc met when walking the cycle from the
apex in the flow's direction, re-hangs the cut-off subtree on the entering arc and
shifts the potentials of that subtree by one constant.

Reduced cost convention: ``cost[e] + pi[tail[e]] - pi[head[e]]``. At the optimum it is
>= 0 on arcs at zero flow, <= 0 on full arcs and 0 on tree arcs.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# The compiled solver is cached beside this file (about 3 s to compile, 0.3 s to load).
# Where the package directory is read-only (a deployed Cloud Function) numba needs
# another writable place, and the temporary directory is one.
if not os.access(os.path.dirname(os.path.abspath(__file__)), os.W_OK):
    os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "btm-ppa-numba"))

import numba

IntArray = npt.NDArray[np.int64]

#: Returned when the pivot budget ran out before the optimum was proven.
PIVOT_LIMIT = 1
OPTIMAL = 0


@dataclass(frozen=True)
class Circulation:
    """An optimal circulation: flow per arc and a potential per node (integer units)."""

    status: int
    flow: IntArray
    potential: IntArray
    pivots: int


def solve_circulation(tail: IntArray, head: IntArray, capacity: IntArray, cost: IntArray,
                      parent: IntArray, parent_arc: IntArray, max_pivots: int,
                      block: int = 5) -> Circulation:
    """Minimum-cost circulation with zero lower bounds, starting from zero flow.

    ``parent``/``parent_arc`` give the starting spanning tree: for each node its parent
    (-1 for the one root) and the arc joining them. Every such arc must have positive
    capacity and point from the node to its parent, so that the zero-flow tree is
    strongly feasible. ``block`` is the number of arcs priced before the best violating
    one found so far enters (block search; small blocks measured fastest here).
    """
    for name, a in (("capacity", capacity), ("cost", cost)):
        if a.dtype != np.int64:
            raise TypeError(f"{name} must be int64, not {a.dtype}")
    if (capacity < 0).any():
        raise ValueError("capacities must be >= 0")
    child = np.flatnonzero(parent >= 0)
    arcs = parent_arc[child]
    if (tail[arcs] != child).any() or (head[arcs] != parent[child]).any():
        raise ValueError("every starting tree arc must run from a node to its parent")
    if (capacity[arcs] <= 0).any():
        raise ValueError("every starting tree arc needs positive capacity")
    flow, pi, pivots, status = _simplex(tail.astype(np.int64), head.astype(np.int64),
                                        capacity, cost, parent.astype(np.int64).copy(),
                                        parent_arc.astype(np.int64).copy(), int(block),
                                        int(max_pivots))
    return Circulation(int(status), flow, pi, int(pivots))


@numba.njit(cache=True, nogil=True)
def _simplex(tail, head, cap, cost, parent, pred, block, max_pivots):  # pragma: no cover
    m = tail.shape[0]
    nn = parent.shape[0]
    flow = np.zeros(m, np.int64)
    state = np.ones(m, np.int8)  # 1 at zero flow, -1 full, 0 in the tree
    up = np.zeros(nn, np.bool_)  # the node's tree arc runs node -> parent
    pi = np.zeros(nn, np.int64)
    depth = np.zeros(nn, np.int64)
    first_child = np.full(nn, -1, np.int64)
    next_sib = np.full(nn, -1, np.int64)
    prev_sib = np.full(nn, -1, np.int64)
    root = -1
    for x in range(nn):
        p = parent[x]
        if p < 0:
            root = x
            continue
        e = pred[x]
        state[e] = 0
        up[x] = tail[e] == x
        f = first_child[p]
        next_sib[x] = f
        if f >= 0:
            prev_sib[f] = x
        first_child[p] = x
    # Potentials and depths, walking the tree in pre-order from the root.
    node = root
    while True:
        c = first_child[node]
        if c < 0:
            while node != root and next_sib[node] < 0:
                node = parent[node]
            if node == root:
                break
            c = next_sib[node]
        node = c
        e = pred[node]
        p = parent[node]
        pi[node] = pi[p] - cost[e] if up[node] else pi[p] + cost[e]
        depth[node] = depth[p] + 1

    next_arc = 0
    pivots = 0
    while True:
        # Entering arc: the most violating one within the first block that has any.
        best = 0
        enter = -1
        scanned = 0
        e = next_arc
        while scanned < m:
            s = state[e]
            if s != 0 and cap[e] > 0:
                v = s * (cost[e] + pi[tail[e]] - pi[head[e]])
                if v < best:
                    best = v
                    enter = e
            scanned += 1
            e += 1
            if e == m:
                e = 0
            if enter >= 0 and scanned % block == 0:
                break
        if enter < 0:
            return flow, pi, pivots, 0
        if pivots >= max_pivots:
            return flow, pi, pivots, 1
        next_arc = e
        pivots += 1
        # Flow goes round the cycle through the entering arc from ua to ub.
        if state[enter] == 1:
            ua = tail[enter]
            ub = head[enter]
        else:
            ua = head[enter]
            ub = tail[enter]
        a = ua
        b = ub
        while depth[a] > depth[b]:
            a = parent[a]
        while depth[b] > depth[a]:
            b = parent[b]
        while a != b:
            a = parent[a]
            b = parent[b]
        apex = a
        # Leaving arc: the last blocking arc from the apex in the flow's direction,
        # i.e. apex -> ua (scanned upwards from ua, so ties keep the first), then the
        # entering arc, then ub -> apex (ties keep the last).
        delta = cap[enter]
        out = -1
        out_on_a = False
        x = ua
        while x != apex:
            e = pred[x]
            r = flow[e] if up[x] else cap[e] - flow[e]
            if r < delta:
                delta = r
                out = x
                out_on_a = True
            x = parent[x]
        x = ub
        while x != apex:
            e = pred[x]
            r = cap[e] - flow[e] if up[x] else flow[e]
            if r <= delta:
                delta = r
                out = x
                out_on_a = False
            x = parent[x]
        if delta > 0:
            x = ua
            while x != apex:
                e = pred[x]
                if up[x]:
                    flow[e] -= delta
                else:
                    flow[e] += delta
                x = parent[x]
            x = ub
            while x != apex:
                e = pred[x]
                if up[x]:
                    flow[e] += delta
                else:
                    flow[e] -= delta
                x = parent[x]
            if state[enter] == 1:
                flow[enter] += delta
            else:
                flow[enter] -= delta
        if out < 0:  # the entering arc went from one bound to the other
            state[enter] = -state[enter]
            continue
        rc = cost[enter] + pi[tail[enter]] - pi[head[enter]]
        if out_on_a:
            u_in = ua
            v_in = ub
        else:
            u_in = ub
            v_in = ua
        leave = pred[out]
        state[leave] = 1 if flow[leave] == 0 else -1
        state[enter] = 0
        # Re-hang the subtree cut off below `out` from u_in, reversing the path.
        x = u_in
        new_p = v_in
        new_e = enter
        new_up = tail[enter] == u_in
        while True:
            old_p = parent[x]
            old_e = pred[x]
            old_up = up[x]
            ps = prev_sib[x]
            ns = next_sib[x]
            if ps >= 0:
                next_sib[ps] = ns
            else:
                first_child[old_p] = ns
            if ns >= 0:
                prev_sib[ns] = ps
            parent[x] = new_p
            pred[x] = new_e
            up[x] = new_up
            f = first_child[new_p]
            next_sib[x] = f
            prev_sib[x] = -1
            if f >= 0:
                prev_sib[f] = x
            first_child[new_p] = x
            if x == out:
                break
            new_p = x
            new_e = old_e
            new_up = not old_up
            x = old_p
        # Make the entering arc's reduced cost zero: shift the moved subtree.
        sigma = rc if head[enter] == u_in else -rc
        node = u_in
        pi[node] += sigma
        depth[node] = depth[v_in] + 1
        while True:
            c = first_child[node]
            if c < 0:
                while node != u_in and next_sib[node] < 0:
                    node = parent[node]
                if node == u_in:
                    break
                c = next_sib[node]
            node = c
            pi[node] += sigma
            depth[node] = depth[parent[node]] + 1
