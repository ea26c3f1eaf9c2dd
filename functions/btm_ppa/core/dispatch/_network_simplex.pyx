# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The pivoting loop of ``network_simplex`` in C (see that module for the method)."""

import numpy as np


def simplex(const long long[::1] tail, const long long[::1] head, const long long[::1] cap,
            const long long[::1] cost, long long[::1] parent, long long[::1] pred,
            long long block, long long max_pivots):
    """Returns (flow, potential, pivots, status); status 0 optimal, 1 out of pivots.
    ``parent`` and ``pred`` (the starting tree) are overwritten with the final tree."""
    cdef Py_ssize_t m = tail.shape[0]
    cdef Py_ssize_t nn = parent.shape[0]
    flow_a = np.zeros(m, dtype=np.int64)
    pi_a = np.zeros(nn, dtype=np.int64)
    cdef long long[::1] flow = flow_a
    cdef long long[::1] pi = pi_a
    cdef signed char[::1] state = np.ones(m, dtype=np.int8)  # 1 zero flow, -1 full, 0 tree
    cdef unsigned char[::1] up = np.zeros(nn, dtype=np.uint8)  # tree arc runs node -> parent
    cdef long long[::1] depth = np.zeros(nn, dtype=np.int64)
    cdef long long[::1] first_child = np.full(nn, -1, dtype=np.int64)
    cdef long long[::1] next_sib = np.full(nn, -1, dtype=np.int64)
    cdef long long[::1] prev_sib = np.full(nn, -1, dtype=np.int64)
    cdef long long root = -1, x, p, e, f, c, node, pivots = 0, next_arc = 0, scanned
    cdef long long best, enter, v, ua, ub, a, b, apex, delta, r, out, rc, sigma
    cdef long long u_in, v_in, leave, new_p, new_e, old_p, old_e, ps, ns
    cdef signed char s
    cdef bint out_on_a, new_up, old_up
    with nogil:
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
            if up[node]:
                pi[node] = pi[p] - cost[e]
            else:
                pi[node] = pi[p] + cost[e]
            depth[node] = depth[p] + 1

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
                break
            if pivots >= max_pivots:
                with gil:
                    return flow_a, pi_a, pivots, 1
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
            # Leaving arc: the last blocking arc from the apex in the flow's direction:
            # apex -> ua (scanned upwards from ua, so ties keep the first found), then the
            # entering arc, then ub -> apex (ties keep the last found).
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
    return flow_a, pi_a, pivots, 0
