/*
 * The primal network simplex for a minimum-cost circulation, part of btm_ppa_dp. With each
 * period's mode fixed, btm-ppa's dispatch LP is such a circulation (flow is stored energy;
 * see btm_ppa.core.dispatch.network for the network), and a pivot only walks one cycle of
 * a spanning tree, so it solves many times faster than a general LP simplex.
 *
 * Arithmetic is in int64 throughout, so every comparison is exact, and the tree is kept
 * strongly feasible (Cunningham's rule: every tree arc at zero flow points towards the
 * root, every full one away from it, so each node can push flow to the root), which rules
 * out cycling through degenerate pivots: the method terminates.
 *
 * The tree is kept as parent links plus doubly linked child lists. A pivot finds the
 * cycle's apex by depth, picks the last blocking arc met when walking the cycle from the
 * apex in the flow's direction, re-hangs the cut-off subtree on the entering arc and
 * shifts the potentials of that subtree by one constant. The entering arc is the most
 * violating one within the first block of ``block`` arcs (scanned round-robin) holding any.
 *
 * One function, circulation(tail, head, capacity, cost, parent, parent_arc, block,
 *                           max_pivots, flow_out, potential_out):
 *   tail, head, capacity, cost  int64 buffers of m arcs (capacity >= 0, lower bounds 0);
 *   parent, parent_arc          writable int64 buffers of nn nodes: the starting spanning
 *                               tree (parent -1 for the one root); every tree arc must run
 *                               from the node to its parent with positive capacity (so the
 *                               zero-flow tree is strongly feasible). Overwritten with the
 *                               final tree;
 *   block, max_pivots           pricing block size (>= 1) and pivot budget;
 *   flow_out, potential_out     writable int64 buffers of m and nn: the circulation, and
 *                               potentials with reduced cost cost[e] + pi[tail] - pi[head]
 *                               >= 0 at zero flow, <= 0 at capacity, 0 on tree arcs.
 * Returns (status, pivots): status 0 optimal, 1 the pivot budget ran out. Ctrl-C raises
 * KeyboardInterrupt within a few thousand pivots. Costs must keep nn x max |cost| below
 * 2^61 (potentials are sums of costs along tree paths); larger ones are refused.
 */
#define Py_LIMITED_API 0x030B0000
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>

#define SIGNAL_EVERY 4096          /* pivots between Ctrl-C checks */
#define POTENTIAL_BUDGET (INT64_C(1) << 61)

typedef Py_ssize_t idx;
typedef int64_t i64;

enum { NS_OPTIMAL = 0, NS_PIVOT_LIMIT = 1, NS_NOMEM = -1, NS_SIGNAL = -2 };

typedef struct {
    int8_t *state;     /* per arc: 1 at zero flow, -1 full, 0 in the tree */
    uint8_t *up;       /* per node: its tree arc runs node -> parent */
    i64 *depth, *first_child, *next_sib, *prev_sib;
} Tree;

static void tree_free(Tree *t) {
    free(t->state);
    free(t->up);
    free(t->depth);
    free(t->first_child);
    free(t->next_sib);
    free(t->prev_sib);
}

static int tree_alloc(Tree *t, idx m, idx nn) {
    size_t sm = (size_t)(m > 0 ? m : 1), sn = (size_t)(nn > 0 ? nn : 1);
    t->state = malloc(sm);
    t->up = calloc(sn, 1);
    t->depth = calloc(sn, sizeof(i64));
    t->first_child = malloc(sn * sizeof(i64));
    t->next_sib = malloc(sn * sizeof(i64));
    t->prev_sib = malloc(sn * sizeof(i64));
    if (!t->state || !t->up || !t->depth || !t->first_child || !t->next_sib || !t->prev_sib)
        return -1;
    for (idx e = 0; e < m; e++) t->state[e] = 1;
    for (idx x = 0; x < nn; x++) t->first_child[x] = t->next_sib[x] = t->prev_sib[x] = -1;
    return 0;
}

/* Link the starting tree, then potentials and depths in pre-order from the root. Returns
 * the number of nodes reached (nn when parent links form one tree). */
static idx tree_init(Tree *t, idx m, idx nn, const i64 *tail, const i64 *cost,
                     const i64 *parent, const i64 *pred, i64 root, i64 *flow, i64 *pi) {
    for (idx e = 0; e < m; e++) flow[e] = 0;
    for (idx x = 0; x < nn; x++) {
        pi[x] = 0;
        i64 p = parent[x];
        if (p < 0) continue;
        i64 e = pred[x];
        t->state[e] = 0;
        t->up[x] = tail[e] == x;
        i64 f = t->first_child[p];
        t->next_sib[x] = f;
        if (f >= 0) t->prev_sib[f] = x;
        t->first_child[p] = x;
    }
    idx reached = 1;
    i64 node = root;
    for (;;) {
        i64 c = t->first_child[node];
        if (c < 0) {
            while (node != root && t->next_sib[node] < 0) node = parent[node];
            if (node == root) break;
            c = t->next_sib[node];
        }
        node = c;
        if (++reached > nn) return reached; /* a loop in the child lists */
        i64 e = pred[node], p = parent[node];
        pi[node] = t->up[node] ? pi[p] - cost[e] : pi[p] + cost[e];
        t->depth[node] = t->depth[p] + 1;
    }
    return reached;
}

static int simplex(idx m, const i64 *tail, const i64 *head, const i64 *cap,
                   const i64 *cost, i64 *parent, i64 *pred, i64 block, i64 max_pivots, i64 *flow, i64 *pi, i64 *pivots_out, Tree *t) {
    int8_t *state = t->state;
    uint8_t *up = t->up;
    i64 *depth = t->depth, *first_child = t->first_child, *next_sib = t->next_sib,
        *prev_sib = t->prev_sib;
    i64 pivots = 0;
    idx next_arc = 0;
    for (;;) {
        /* Entering arc: the most violating one within the first block that has any. */
        i64 best = 0, enter = -1;
        idx scanned = 0, e = next_arc;
        while (scanned < m) {
            int8_t s = state[e];
            if (s != 0 && cap[e] > 0) {
                i64 v = s * (cost[e] + pi[tail[e]] - pi[head[e]]);
                if (v < best) {
                    best = v;
                    enter = e;
                }
            }
            scanned++;
            if (++e == m) e = 0;
            if (enter >= 0 && scanned % block == 0) break;
        }
        if (enter < 0) break;
        if (pivots >= max_pivots) {
            *pivots_out = pivots;
            return NS_PIVOT_LIMIT;
        }
        if (pivots % SIGNAL_EVERY == 0 && PyErr_CheckSignals()) return NS_SIGNAL;
        next_arc = e;
        pivots++;
        /* Flow goes round the cycle through the entering arc from ua to ub. */
        i64 ua, ub;
        if (state[enter] == 1) {
            ua = tail[enter];
            ub = head[enter];
        } else {
            ua = head[enter];
            ub = tail[enter];
        }
        i64 a = ua, b = ub;
        while (depth[a] > depth[b]) a = parent[a];
        while (depth[b] > depth[a]) b = parent[b];
        while (a != b) {
            a = parent[a];
            b = parent[b];
        }
        i64 apex = a;
        /* Leaving arc: the last blocking arc from the apex in the flow's direction: apex ->
         * ua (scanned upwards from ua, so ties keep the first found), then the entering
         * arc, then ub -> apex (ties keep the last found). */
        i64 delta = cap[enter], out = -1;
        int out_on_a = 0;
        for (i64 x = ua; x != apex; x = parent[x]) {
            i64 ex = pred[x];
            i64 r = up[x] ? flow[ex] : cap[ex] - flow[ex];
            if (r < delta) {
                delta = r;
                out = x;
                out_on_a = 1;
            }
        }
        for (i64 x = ub; x != apex; x = parent[x]) {
            i64 ex = pred[x];
            i64 r = up[x] ? cap[ex] - flow[ex] : flow[ex];
            if (r <= delta) {
                delta = r;
                out = x;
                out_on_a = 0;
            }
        }
        if (delta > 0) {
            for (i64 x = ua; x != apex; x = parent[x]) flow[pred[x]] += up[x] ? -delta : delta;
            for (i64 x = ub; x != apex; x = parent[x]) flow[pred[x]] += up[x] ? delta : -delta;
            flow[enter] += state[enter] == 1 ? delta : -delta;
        }
        if (out < 0) { /* the entering arc went from one bound to the other */
            state[enter] = (int8_t)-state[enter];
            continue;
        }
        i64 rc = cost[enter] + pi[tail[enter]] - pi[head[enter]];
        i64 u_in = out_on_a ? ua : ub, v_in = out_on_a ? ub : ua;
        i64 leave = pred[out];
        state[leave] = flow[leave] == 0 ? 1 : -1;
        state[enter] = 0;
        /* Re-hang the subtree cut off below `out` from u_in, reversing the path. */
        i64 x = u_in, new_p = v_in, new_e = enter;
        uint8_t new_up = tail[enter] == u_in;
        for (;;) {
            i64 old_p = parent[x], old_e = pred[x];
            uint8_t old_up = up[x];
            i64 ps = prev_sib[x], ns = next_sib[x];
            if (ps >= 0) next_sib[ps] = ns;
            else first_child[old_p] = ns;
            if (ns >= 0) prev_sib[ns] = ps;
            parent[x] = new_p;
            pred[x] = new_e;
            up[x] = new_up;
            i64 f = first_child[new_p];
            next_sib[x] = f;
            prev_sib[x] = -1;
            if (f >= 0) prev_sib[f] = x;
            first_child[new_p] = x;
            if (x == out) break;
            new_p = x;
            new_e = old_e;
            new_up = !old_up;
            x = old_p;
        }
        /* Make the entering arc's reduced cost zero: shift the moved subtree. */
        i64 sigma = head[enter] == u_in ? rc : -rc;
        i64 node = u_in;
        pi[node] += sigma;
        depth[node] = depth[v_in] + 1;
        for (;;) {
            i64 c = first_child[node];
            if (c < 0) {
                while (node != u_in && next_sib[node] < 0) node = parent[node];
                if (node == u_in) break;
                c = next_sib[node];
            }
            node = c;
            pi[node] += sigma;
            depth[node] = depth[parent[node]] + 1;
        }
    }
    *pivots_out = pivots;
    return NS_OPTIMAL;
}

/* ------------------------------------------------------------------ Python binding */

static int int64_buffer(PyObject *obj, Py_buffer *view, int writable, const char *name) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    const char *f = view->format ? view->format : "";
    if (*f == '@' || *f == '=' || *f == '<') f++; /* native order, little-endian machines */
    if (view->itemsize != 8 || view->ndim != 1 || (*f != 'q' && *f != 'l') || f[1] != '\0') {
        PyErr_Format(PyExc_ValueError, "%s: expected a one-dimensional int64 buffer", name);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* Everything circulation() checks before pivoting; 0 when the data are sound. */
static int check_network(idx m, idx nn, const i64 *tail, const i64 *head, const i64 *cap,
                         const i64 *cost, const i64 *parent, const i64 *pred, i64 *root) {
    i64 most = 0;
    for (idx e = 0; e < m; e++) {
        if (tail[e] < 0 || tail[e] >= nn || head[e] < 0 || head[e] >= nn) {
            PyErr_Format(PyExc_ValueError, "arc %zd: tail %lld, head %lld; expected nodes in "
                         "[0, %zd)", e, (long long)tail[e], (long long)head[e], nn);
            return -1;
        }
        if (cap[e] < 0) {
            PyErr_Format(PyExc_ValueError, "arc %zd: capacity %lld; expected >= 0", e,
                         (long long)cap[e]);
            return -1;
        }
        i64 c = cost[e] < 0 ? -cost[e] : cost[e];
        if (cost[e] == INT64_MIN || c > most) most = cost[e] == INT64_MIN ? INT64_MAX : c;
    }
    if (nn > 0 && most > POTENTIAL_BUDGET / nn) {
        PyErr_Format(PyExc_ValueError, "cost: largest |cost| %lld times %zd nodes overflows "
                     "the potentials; expected below 2^61", (long long)most, nn);
        return -1;
    }
    *root = -1;
    for (idx x = 0; x < nn; x++) {
        i64 p = parent[x];
        if (p < 0) {
            if (*root >= 0) {
                PyErr_Format(PyExc_ValueError, "parent: nodes %lld and %zd are both roots; "
                             "expected one", (long long)*root, x);
                return -1;
            }
            *root = x;
            continue;
        }
        i64 e = pred[x];
        if (p >= nn || e < 0 || e >= m || tail[e] != x || head[e] != p || cap[e] <= 0) {
            PyErr_Format(PyExc_ValueError, "node %zd: parent %lld by arc %lld; every starting "
                         "tree arc must run from a node to its parent with positive capacity",
                         x, (long long)p, (long long)e);
            return -1;
        }
    }
    if (nn > 0 && *root < 0) {
        PyErr_SetString(PyExc_ValueError, "parent: no root (a node with parent -1)");
        return -1;
    }
    return 0;
}

PyObject *ns_circulation(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *obj[8];
    long long block, max_pivots;
    if (!PyArg_ParseTuple(args, "OOOOOOLLOO", &obj[0], &obj[1], &obj[2], &obj[3], &obj[4],
                          &obj[5], &block, &max_pivots, &obj[6], &obj[7]))
        return NULL;
    static const char *names[8] = {"tail", "head", "capacity", "cost", "parent", "parent_arc",
                                   "flow_out", "potential_out"};
    static const int writable[8] = {0, 0, 0, 0, 1, 1, 1, 1};
    Py_buffer v[8];
    int got = 0;
    PyObject *result = NULL;
    Tree tree = {0};
    for (; got < 8; got++)
        if (int64_buffer(obj[got], &v[got], writable[got], names[got])) goto out;
    idx m = v[0].shape[0], nn = v[4].shape[0];
    if (v[1].shape[0] != m || v[2].shape[0] != m || v[3].shape[0] != m || v[6].shape[0] != m) {
        PyErr_SetString(PyExc_ValueError, "tail, head, capacity, cost and flow_out must have "
                        "one entry per arc");
        goto out;
    }
    if (v[5].shape[0] != nn || v[7].shape[0] != nn) {
        PyErr_SetString(PyExc_ValueError, "parent, parent_arc and potential_out must have one "
                        "entry per node");
        goto out;
    }
    if (block < 1 || max_pivots < 0) {
        PyErr_Format(PyExc_ValueError, "block %lld, max_pivots %lld; expected block >= 1 and "
                     "max_pivots >= 0", block, max_pivots);
        goto out;
    }
    const i64 *tail = v[0].buf, *head = v[1].buf, *cap = v[2].buf, *cost = v[3].buf;
    i64 *parent = v[4].buf, *pred = v[5].buf, *flow = v[6].buf, *pi = v[7].buf;
    i64 root = -1;
    if (check_network(m, nn, tail, head, cap, cost, parent, pred, &root)) goto out;
    if (nn == 0) {
        result = Py_BuildValue("(iL)", NS_OPTIMAL, 0LL);
        goto out;
    }
    if (tree_alloc(&tree, m, nn)) {
        PyErr_NoMemory();
        goto out;
    }
    if (tree_init(&tree, m, nn, tail, cost, parent, pred, root, flow, pi) != nn) {
        PyErr_SetString(PyExc_ValueError, "parent: the links do not form one spanning tree "
                        "(a loop, or nodes cut off from the root)");
        goto out;
    }
    i64 pivots = 0;
    int status = simplex(m, tail, head, cap, cost, parent, pred, block, max_pivots, flow,
                         pi, &pivots, &tree);
    if (status >= 0) result = Py_BuildValue("(iL)", status, (long long)pivots);
    /* NS_SIGNAL: the exception PyErr_CheckSignals set propagates */
out:
    tree_free(&tree);
    while (got-- > 0) PyBuffer_Release(&v[got]);
    return result;
}
