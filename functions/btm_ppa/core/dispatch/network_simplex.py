"""Primal network simplex for a minimum-cost circulation, its loop compiled from Cython.

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

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

try:  # built by `pip install` from _network_simplex.pyx (needs a C compiler)
    from btm_ppa.core.dispatch._network_simplex import simplex as _simplex
except ImportError:  # pragma: no cover - a source tree that was never built
    _simplex = None

#: Whether the compiled solver is present; without it dispatch uses HiGHS alone.
AVAILABLE = _simplex is not None

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
    if _simplex is None:
        raise RuntimeError("btm_ppa.core.dispatch._network_simplex is not built: pip install the package")
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
    flow, pi, pivots, status = _simplex(
        *(np.ascontiguousarray(a, dtype=np.int64) for a in (tail, head, capacity, cost)),
        np.array(parent, dtype=np.int64), np.array(parent_arc, dtype=np.int64),
        int(block), int(max_pivots))
    return Circulation(int(status), flow, pi, int(pivots))
