/*
 * btm_ppa_dp: the exact dynamic programme over stored energy behind btm-ppa's optimal
 * dispatch, compiled. It is the same algorithm, step for step, as the numpy reference in
 * btm_ppa.core.dispatch.value_function and envelope (read those first: the maths is
 * explained there), written as loops over a few dozen breakpoints per period instead of a
 * dozen numpy calls, so a site-year takes milliseconds instead of seconds.
 *
 * One function, solve(a, b, hc, hx, capacity, deadline, change_out, mode_out):
 *   a, b, hc, hx  float64 buffers of n periods: cost per MWh stored (GBP/MWh), value per MWh
 *                 discharged (GBP/MWh), most energy stored (MWh, after losses) and most
 *                 discharged (MWh) per period;
 *   capacity      MWh;
 *   deadline      a time.monotonic() value (CLOCK_MONOTONIC), or a negative number for none;
 *   change_out    writable float64 buffer of n: the stored-energy change per period;
 *   mode_out      writable int8 buffer of n: 1 charge only, -1 discharge only, 0 both open.
 *   max_points    optional: the most breakpoints the value functions kept for the forward
 *                 pass may hold in all (16 bytes each); MemoryError beyond.
 *   max_breakpoints  optional (0: exact): the most breakpoints one value function keeps;
 *                 past it the shallowest dips are raised to their chords (cap_points), so
 *                 the value returned is an upper bound and the schedule stays feasible.
 * Returns (value, pieces_max), or None when the deadline passed. Ctrl-C raises
 * KeyboardInterrupt within a few hundred periods.
 *
 * Built against the stable ABI (Py_LIMITED_API 3.11): one wheel serves every CPython from
 * 3.11 on. It uses nothing from libc beyond malloc, memmove and clock_gettime.
 */
#define Py_LIMITED_API 0x030B0000
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EPS_MWH 1e-12      /* shorter segments are dropped / breakpoints merged */
#define STRAIGHT_GBP 1e-10 /* a breakpoint this close to its neighbours' chord goes */
#define CHECK_EVERY 256    /* periods between deadline and signal checks */

enum { CHARGE_MODE = 1, DISCHARGE_MODE = -1, BOTH_MODES = 0 };

typedef Py_ssize_t idx;

/* min and max of numbers that are never NaN here (fmin and fmax are library calls). */
static inline double dmin(double a, double b) { return a < b ? a : b; }
static inline double dmax(double a, double b) { return a > b ? a : b; }

/* ---------------------------------------------------------------- growable arrays */

typedef struct {
    double *x, *v; /* breakpoints ascending from 0 to capacity, and values there */
    idx n, cap;
} Fn;

/* Grow two parallel arrays of *cap doubles to hold at least n (contents kept). */
static int grow_pair(double **p, double **q, idx *cap, idx n) {
    if (n <= *cap) return 0;
    idx c = *cap ? *cap : 64;
    while (c < n) c *= 2;
    double *a = realloc(*p, (size_t)c * sizeof(double));
    if (!a) return -1;
    *p = a;
    double *b = realloc(*q, (size_t)c * sizeof(double));
    if (!b) return -1;
    *q = b;
    *cap = c;
    return 0;
}

static int fn_reserve(Fn *f, idx n) { return grow_pair(&f->x, &f->v, &f->cap, n); }

static void fn_free(Fn *f) {
    free(f->x);
    free(f->v);
    f->x = f->v = NULL;
    f->n = f->cap = 0;
}

static inline int fn_push(Fn *f, double x, double v) {
    if (f->n == f->cap && fn_reserve(f, f->n + 1)) return -1;
    f->x[f->n] = x;
    f->v[f->n] = v;
    f->n++;
    return 0;
}

/* F(x) for x queried in non-decreasing order; *j is the caller's cursor (start at 0). */
static inline double interp_at(const double *xs, const double *fs, idx m, double x, idx *j) {
    if (x <= xs[0]) return fs[0];
    if (x >= xs[m - 1]) return fs[m - 1];
    while (*j < m - 2 && xs[*j + 1] <= x) (*j)++;
    double x0 = xs[*j], x1 = xs[*j + 1];
    if (x1 <= x0) return fs[*j + 1];
    return fs[*j] + (fs[*j + 1] - fs[*j]) * ((x - x0) / (x1 - x0));
}

/* ------------------------------------------------ the concave piece (one-piece form) */

/* A concave function of stored energy: its value at 0 and its segments, each a length and
 * a negated slope, negated slopes ascending. Segments live in [head, head + n). */
typedef struct {
    double v0;
    double *len, *neg;
    idx head, n, cap;
} Piece;

static int piece_insert(Piece *p, idx at, double len, double neg) {
    if (p->head + p->n + 1 > p->cap) {
        if (p->head > 0) { /* slide back to the start first */
            memmove(p->len, p->len + p->head, (size_t)p->n * sizeof(double));
            memmove(p->neg, p->neg + p->head, (size_t)p->n * sizeof(double));
            p->head = 0;
        }
        if (grow_pair(&p->len, &p->neg, &p->cap, p->n + 1)) return -1;
    }
    double *l = p->len + p->head, *g = p->neg + p->head;
    memmove(l + at + 1, l + at, (size_t)(p->n - at) * sizeof(double));
    memmove(g + at + 1, g + at, (size_t)(p->n - at) * sizeof(double));
    l[at] = len;
    g[at] = neg;
    p->n++;
    return 0;
}

/* Cut a shifted piece back to [0, capacity]: the first hc MWh fell below 0 (their value
 * leaves v0) and the last hx MWh rose above capacity. */
static void piece_cut_back(Piece *p, double hc, double hx) {
    double *l = p->len + p->head, *g = p->neg + p->head;
    double cut = hc;
    idx k = 0;
    while (cut > EPS_MWH && k < p->n) {
        double ln = l[k];
        if (ln <= cut + EPS_MWH) {
            p->v0 -= ln * g[k];
            cut -= ln;
            k++;
        } else {
            p->v0 -= cut * g[k];
            l[k] = ln - cut;
            cut = 0.0;
        }
    }
    p->head += k;
    p->n -= k;
    l = p->len + p->head;
    cut = hx;
    while (cut > EPS_MWH && p->n > 0) {
        double ln = l[p->n - 1];
        if (ln <= cut + EPS_MWH) {
            cut -= ln;
            p->n--;
        } else {
            l[p->n - 1] = ln - cut;
            cut = 0.0;
        }
    }
}

/* Sup-convolution with the kernel (slope a over hc charging, slope b over hx discharging;
 * either length may be 0; a >= b when both are open), in place. The thresholds the
 * decision reads, in the old piece's coordinates: charge up to *ya, discharge down to *yb. */
static int piece_transform(Piece *p, double a, double b, double hc, double hx,
                           double *ya, double *yb) {
    const double *l = p->len + p->head, *g = p->neg + p->head;
    idx i = 0, j;
    double sa = 0.0, sb;
    while (i < p->n && g[i] < -a) sa += l[i++]; /* bisect_left(neg, -a) */
    if (hc > 0.0 && hx > 0.0) {
        j = i;
        sb = sa;
    } else {
        j = 0;
        sb = 0.0;
    }
    while (j < p->n && g[j] <= -b) sb += l[j++]; /* bisect_right(neg, -b) */
    *ya = sa;
    *yb = sb;
    if (hc > 0.0 && hx > 0.0) {
        if (piece_insert(p, j, hx, -b) || piece_insert(p, i, hc, -a)) return -1;
    } else if (hc > 0.0) {
        if (piece_insert(p, i, hc, -a)) return -1;
    } else if (hx > 0.0) {
        if (piece_insert(p, j, hx, -b)) return -1;
    } else {
        return 0;
    }
    p->v0 -= a * hc;
    piece_cut_back(p, hc, hx);
    return 0;
}

static int piece_to_fn(const Piece *p, Fn *f) {
    if (fn_reserve(f, p->n + 1)) return -1;
    const double *l = p->len + p->head, *g = p->neg + p->head;
    f->x[0] = 0.0;
    f->v[0] = p->v0;
    double xs = 0.0, dv = 0.0;
    for (idx k = 0; k < p->n; k++) {
        xs += l[k];
        dv += l[k] * g[k];
        f->x[k + 1] = xs;
        f->v[k + 1] = p->v0 - dv;
    }
    f->n = p->n + 1;
    return 0;
}

/* The function as a concave piece; 0 when it is not concave (p untouched), -1 on no memory. */
static int fn_to_piece(const Fn *f, Piece *p) {
    idx m = f->n - 1;
    double last = -INFINITY;
    for (idx k = 0; k < m; k++) {
        double neg = -(f->v[k + 1] - f->v[k]) / (f->x[k + 1] - f->x[k]);
        if (k > 0 && neg - last < 0.0) return 0;
        last = neg;
    }
    p->head = 0; /* the old contents are not needed: grow from the start */
    if (grow_pair(&p->len, &p->neg, &p->cap, m)) return -1;
    p->n = m;
    p->v0 = f->v[0];
    for (idx k = 0; k < m; k++) {
        p->len[k] = f->x[k + 1] - f->x[k];
        p->neg[k] = -(f->v[k + 1] - f->v[k]) / p->len[k];
    }
    return 1;
}

/* ------------------------------------- the general piecewise-linear form (envelope) */

typedef struct {
    Fn tmp, charge, rev, revmax, discharge, both;
    idx *peaks, *dq, peaks_cap;
    double *grid, *at_s, *at_end; /* window_max's grid, F at it and at the window's end */
    idx grid_cap;
} Work;

static void work_free(Work *w) {
    fn_free(&w->tmp);
    fn_free(&w->charge);
    fn_free(&w->rev);
    fn_free(&w->revmax);
    fn_free(&w->discharge);
    fn_free(&w->both);
    free(w->peaks);
    free(w->dq);
    free(w->grid);
    free(w->at_s);
    free(w->at_end);
}

/* M(s) = max of F(y) over y in [s, min(s + h, cap)], s in [0, cap] (cap = xs[m-1]): on
 * each interval between consecutive points of {xs} and {xs - h}, the larger of three lines
 * (F at s, F at the window's end, the largest local maximum of F strictly inside). */
static int window_max(const double *xs, const double *fs, idx m, double h, Fn *out, Work *w) {
    out->n = 0;
    if (h <= 0.0 || m < 2) {
        if (fn_reserve(out, m)) return -1;
        memcpy(out->x, xs, (size_t)m * sizeof(double));
        memcpy(out->v, fs, (size_t)m * sizeof(double));
        out->n = m;
        return 0;
    }
    double cap = xs[m - 1];
    if (w->grid_cap < 2 * m) {
        free(w->grid);
        free(w->at_s);
        free(w->at_end);
        w->grid = malloc((size_t)(2 * m) * sizeof(double));
        w->at_s = malloc((size_t)(2 * m) * sizeof(double));
        w->at_end = malloc((size_t)(2 * m) * sizeof(double));
        if (!w->grid || !w->at_s || !w->at_end) return -1;
        w->grid_cap = 2 * m;
    }
    if (w->peaks_cap < m) {
        free(w->peaks);
        free(w->dq);
        w->peaks = malloc((size_t)m * sizeof(idx));
        w->dq = malloc((size_t)m * sizeof(idx));
        if (!w->peaks || !w->dq) return -1;
        w->peaks_cap = m;
    }
    /* The grid: xs merged with the shifted breakpoints xs - h that are > 0, with F at each
     * grid point s and at the window's end min(s + h, cap): one of the two is a value of
     * F at its own breakpoint, the other is interpolated (s and s + h both ascend). */
    idx gn = 0, p = 0, q = 0, js = 0, je = 0;
    while (q < m && xs[q] - h <= 0.0) q++;
    while (p < m || q < m) {
        if (q >= m || (p < m && xs[p] <= xs[q] - h)) {
            w->grid[gn] = xs[p];
            w->at_s[gn] = fs[p];
            w->at_end[gn] = interp_at(xs, fs, m, dmin(xs[p] + h, cap), &je);
            p++;
        } else {
            w->grid[gn] = xs[q] - h;
            w->at_s[gn] = interp_at(xs, fs, m, xs[q] - h, &js);
            w->at_end[gn] = fs[q];
            q++;
        }
        gn++;
    }
    idx np_ = 0;
    for (idx i = 1; i + 1 < m; i++)
        if (fs[i] >= fs[i - 1] && fs[i] >= fs[i + 1]) w->peaks[np_++] = i;
    idx dq_head = 0, dq_tail = 0, next_peak = 0;
    double *grid = w->grid;
    double a0 = w->at_s[0], b0 = w->at_end[0];
    double a1 = a0, b1 = b0, c = 0.0;
    for (idx k = 0; k + 1 < gn; k++) {
        double g0 = grid[k], g1 = grid[k + 1];
        double mid = 0.5 * (g0 + g1), end = mid + h;
        while (next_peak < np_ && xs[w->peaks[next_peak]] < end) {
            idx pk = w->peaks[next_peak++];
            while (dq_tail > dq_head && fs[w->dq[dq_tail - 1]] <= fs[pk]) dq_tail--;
            w->dq[dq_tail++] = pk;
        }
        while (dq_tail > dq_head && xs[w->dq[dq_head]] <= mid) dq_head++;
        a1 = w->at_s[k + 1];
        b1 = w->at_end[k + 1];
        /* Without a breakpoint inside, only F(s) and F(s + h) compete (the third line is
         * put under both, where it never wins or crosses them). */
        int lines = dq_tail > dq_head ? 3 : 2;
        c = lines == 3 ? fs[w->dq[dq_head]] : dmin(dmin(a0, b0), dmin(a1, b1)) - 1.0;
        double st[3] = {a0, b0, c}, en[3] = {a1, b1, c};
        double f[4] = {0.0, 0.0, 0.0, 0.0};
        int nf = 1;
        static const int pa[3] = {0, 0, 1}, pb[3] = {1, 2, 2};
        for (int r = 0; r < (lines == 3 ? 3 : 1); r++) {
            double d0 = st[pa[r]] - st[pb[r]], d1 = en[pa[r]] - en[pb[r]];
            if (d0 * d1 < 0.0) f[nf++] = d0 / (d0 - d1);
        }
        for (int r = 1; r < nf; r++) /* insertion sort of at most 3 */
            for (int u = r; u > 1 && f[u] < f[u - 1]; u--) {
                double t = f[u];
                f[u] = f[u - 1];
                f[u - 1] = t;
            }
        for (int r = 0; r < nf; r++) {
            double best = -INFINITY;
            for (int u = 0; u < lines; u++) {
                double val = st[u] + f[r] * (en[u] - st[u]);
                if (val > best) best = val;
            }
            if (fn_push(out, g0 + f[r] * (g1 - g0), best)) return -1;
        }
        a0 = a1;
        b0 = b1;
    }
    return fn_push(out, cap, dmax(dmax(a1, b1), c)); /* gn >= m >= 2: the loop ran */
}

/* max of two functions on the same [0, cap], with the points where they cross. */
static int upper(const Fn *f1, const Fn *f2, Fn *out) {
    out->n = 0;
    idx i1 = 0, i2 = 0, j1 = 0, j2 = 0;
    double gx_prev = 0.0, d_prev = 0.0, p_prev = 0.0;
    int first = 1;
    while (i1 < f1->n || i2 < f2->n) {
        double g, p, q; /* each function's own breakpoints need no interpolation */
        if (i2 >= f2->n || (i1 < f1->n && f1->x[i1] <= f2->x[i2])) {
            g = f1->x[i1];
            p = f1->v[i1++];
            q = interp_at(f2->x, f2->v, f2->n, g, &j2);
        } else {
            g = f2->x[i2];
            q = f2->v[i2++];
            p = interp_at(f1->x, f1->v, f1->n, g, &j1);
        }
        double d = p - q;
        if (!first && d_prev * d < 0.0) {
            double t = d_prev / (d_prev - d);
            if (fn_push(out, gx_prev + (g - gx_prev) * t, p_prev + (p - p_prev) * t)) return -1;
        }
        if (fn_push(out, g, p > q ? p : q)) return -1;
        first = 0;
        gx_prev = g;
        d_prev = d;
        p_prev = p;
    }
    return 0;
}

/* Merge breakpoints closer than EPS_MWH and drop those the function is straight through
 * (each within STRAIGHT_GBP, plus 1e-14 of the value, of its kept neighbours' chord). */
static int simplify(const Fn *in, Fn *out) {
    idx m = in->n;
    out->n = 0;
    if (fn_reserve(out, m)) return -1;
    /* Keep the first point and each point more than EPS past its predecessor; the last
     * point (the capacity) always, dropping the kept point just before it instead. */
    idx last_kept = 0;
    for (idx i = 1; i < m; i++)
        if (in->x[i] - in->x[i - 1] > EPS_MWH) last_kept = i;
    int drop_before_last = last_kept != m - 1;
    idx k = 0;
    for (idx i = 0; i < m; i++) {
        int keep = i == 0 || in->x[i] - in->x[i - 1] > EPS_MWH;
        if (i == m - 1) keep = 1;
        else if (drop_before_last && i == last_kept && i != 0) keep = 0;
        if (!keep) continue;
        double x = in->x[i], v = in->v[i];
        while (k >= 2) {
            double x0 = out->x[k - 2], v0 = out->v[k - 2];
            double x1 = out->x[k - 1], v1 = out->v[k - 1];
            double tol = STRAIGHT_GBP + 1e-14 * fabs(v1);
            if (fabs(v1 - v0 - (v - v0) * ((x1 - x0) / (x - x0))) <= tol) k--;
            else break;
        }
        out->x[k] = x;
        out->v[k] = v;
        k++;
    }
    out->n = k;
    return 0;
}

static int cmp_double(const void *p, const void *q) {
    double a = *(const double *)p, b = *(const double *)q;
    return (a > b) - (a < b);
}

/* How far F at x1 lies below the chord from (x0, v0) to (x2, v2) (> 0: a dip). */
static inline double dip(double x0, double v0, double x1, double v1, double x2, double v2) {
    return v0 + (v2 - v0) * ((x1 - x0) / (x2 - x0)) - v1;
}

/* Where the lines through (x0, v0)-(x1, v1) and (x2, v2)-(x3, v3) meet, if strictly between
 * x1 and x2 and above the segment (x1, v1)-(x2, v2) (both kinks concave): how far above
 * (the most the function is raised when the two breakpoints are replaced by the meeting
 * point), with the point; -1 otherwise. */
static double corner(double x0, double v0, double x1, double v1, double x2, double v2, double x3,
                     double v3, double *qx, double *qv) {
    double s0 = (v1 - v0) / (x1 - x0), s1 = (v2 - v1) / (x2 - x1), s2 = (v3 - v2) / (x3 - x2);
    if (!(s0 > s1 && s1 > s2)) return -1.0;
    double x = (v2 - s2 * x2 - v1 + s0 * x1) / (s0 - s2);
    if (!(x > x1 && x < x2)) return -1.0;
    *qx = x;
    *qv = v1 + s0 * (x - x1);
    return *qv - (v1 + s1 * (x - x1));
}

/* At most k breakpoints (k >= 4), as nearly as a few passes allow, never below the
 * function: an upper approximation. Each pass takes the cheapest of two moves, each raising
 * the function by at most its cost: a dip (a breakpoint below the chord of its neighbours)
 * raised to that chord; or two neighbouring concave breakpoints replaced by the point where
 * the segments either side of them meet. No two moves in one pass touch each other. */
static int cap_points(Fn *f, idx k, Fn *scratch) {
    for (int pass = 0; pass < 16 && f->n > k; pass++) {
        idx m = f->n, nc = 0;
        double qx, qv;
        if (fn_reserve(scratch, 2 * m)) return -1;
        double *cost = scratch->x;
        for (idx i = 1; i + 1 < m; i++) {
            double d = dip(f->x[i - 1], f->v[i - 1], f->x[i], f->v[i], f->x[i + 1], f->v[i + 1]);
            if (d > 0.0) cost[nc++] = d;
            if (i + 2 < m) {
                double c = corner(f->x[i - 1], f->v[i - 1], f->x[i], f->v[i], f->x[i + 1],
                                  f->v[i + 1], f->x[i + 2], f->v[i + 2], &qx, &qv);
                if (c >= 0.0) cost[nc++] = c;
            }
        }
        if (nc == 0) break;
        idx need = m - k < nc ? m - k : nc;
        qsort(cost, (size_t)nc, sizeof(double), cmp_double);
        double thr = cost[need - 1];
        double *ox = scratch->v; /* the output, built beside f: x then v in one buffer */
        double *ov = scratch->v + m;
        idx out = 1, i = 1;
        ox[0] = f->x[0];
        ov[0] = f->v[0];
        int touched = 0; /* the last output came from a move: no move next */
        while (i + 1 < m) {
            if (!touched) {
                double d = dip(ox[out - 1], ov[out - 1], f->x[i], f->v[i], f->x[i + 1], f->v[i + 1]);
                if (d > 0.0 && d <= thr) {
                    i++;
                    touched = 1;
                    continue;
                }
                if (i + 2 < m) {
                    double c = corner(ox[out - 1], ov[out - 1], f->x[i], f->v[i], f->x[i + 1],
                                      f->v[i + 1], f->x[i + 2], f->v[i + 2], &qx, &qv);
                    if (c >= 0.0 && c <= thr) {
                        ox[out] = qx;
                        ov[out] = qv;
                        out++;
                        i += 2;
                        touched = 1;
                        continue;
                    }
                }
            }
            touched = 0;
            ox[out] = f->x[i];
            ov[out] = f->v[i];
            out++;
            i++;
        }
        ox[out] = f->x[m - 1];
        ov[out] = f->v[m - 1];
        out++;
        memcpy(f->x, ox, (size_t)out * sizeof(double));
        memcpy(f->v, ov, (size_t)out * sizeof(double));
        f->n = out;
    }
    return 0;
}

/* One period backwards: W_{t-1}(s) = max over u of g(u) + W_t(s + u), g(u) = -a u charging
 * (u in [0, hc]) and -b u discharging (u in [-hx, 0]), one mode at a time. */
static int fn_step(const Fn *wt, double a, double b, double hc, double hx, Fn *out, Work *w,
                   idx max_breakpoints) {
    idx m = wt->n;
    double cap = wt->x[m - 1];
    if (fn_reserve(&w->tmp, m) || fn_reserve(&w->rev, m)) return -1;
    for (idx i = 0; i < m; i++) w->tmp.v[i] = wt->v[i] - a * wt->x[i];
    if (window_max(wt->x, w->tmp.v, m, hc, &w->charge, w)) return -1;
    Fn *c = &w->charge;
    for (idx i = 0; i < c->n; i++) c->v[i] += a * c->x[i];
    for (idx i = 0; i < m; i++) {
        w->rev.x[i] = cap - wt->x[m - 1 - i];
        w->rev.v[i] = wt->v[m - 1 - i] - b * wt->x[m - 1 - i];
    }
    if (window_max(w->rev.x, w->rev.v, m, hx, &w->revmax, w)) return -1;
    Fn *r = &w->revmax, *d = &w->discharge;
    if (fn_reserve(d, r->n)) return -1;
    d->n = r->n;
    for (idx i = 0; i < r->n; i++) {
        d->x[i] = cap - r->x[r->n - 1 - i];
        d->v[i] = r->v[r->n - 1 - i] + b * d->x[i];
    }
    d->x[0] = 0.0;
    d->x[d->n - 1] = cap;
    c->x[0] = 0.0;
    c->x[c->n - 1] = cap;
    if (upper(c, d, &w->both)) return -1;
    if (simplify(&w->both, out)) return -1;
    return max_breakpoints > 0 && out->n > max_breakpoints
               ? cap_points(out, max_breakpoints, &w->tmp) : 0;
}

/* The stored energy after the period that maximises g(y - s) + W(y), from s. */
static double best_move(const double *xs, const double *vs, idx m, double s, double a, double b,
                        double hc, double hx) {
    double cap = xs[m - 1];
    double lo = s - hx > 0.0 ? s - hx : 0.0;
    double hi = s + hc < cap ? s + hc : cap;
    double best_y = s, best = -INFINITY;
    idx j = 0;
    double cand[3] = {s, lo, hi};
    for (int r = 0; r < 3; r++) {
        double y = cand[r];
        idx jj = 0;
        double gain = y >= s ? -a * (y - s) : b * (s - y);
        double total = interp_at(xs, vs, m, y, &jj) + gain;
        if (total > best) {
            best = total;
            best_y = y;
        }
    }
    while (j < m && xs[j] <= lo) j++;
    for (; j < m && xs[j] < hi; j++) {
        double y = xs[j];
        double gain = y >= s ? -a * (y - s) : b * (s - y);
        double total = vs[j] + gain;
        if (total > best) {
            best = total;
            best_y = y;
        }
    }
    return best_y;
}

/* ------------------------------------------------------------------- the programme */

typedef struct {
    double ya, yb;   /* thresholds, for a concave period */
    int8_t kind;     /* BOTH/CHARGE/DISCHARGE, for a concave period */
    int8_t general;  /* 1: W_t kept in the arena at [off, off + cnt) */
    idx off, cnt;
} Stored;

static double monotonic_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

enum { RUN_OK = 0, RUN_NOMEM = -1, RUN_DEADLINE = -2, RUN_SIGNAL = -3, RUN_TOO_LARGE = -4 };

static int check(double deadline) {
    if (deadline >= 0.0 && monotonic_now() > deadline) return RUN_DEADLINE;
    if (PyErr_CheckSignals()) return RUN_SIGNAL;
    return RUN_OK;
}

static int run(idx n, const double *a, const double *b, const double *hc, const double *hx,
               double cap, double deadline, idx max_points, idx max_breakpoints, double *change,
               int8_t *mode, double *value, int *most) {
    int status = RUN_NOMEM;
    Stored *stored = calloc((size_t)(n > 0 ? n : 1), sizeof(Stored));
    Piece own = {0};
    Fn func = {0}, next = {0}, arena = {0};
    Work w = {0};
    int concave = 1;
    if (!stored) goto done;
    *most = 1;
    own.cap = 64;
    own.len = malloc(64 * sizeof(double));
    own.neg = malloc(64 * sizeof(double));
    if (!own.len || !own.neg) goto done;
    own.v0 = 0.0;
    own.len[0] = cap;
    own.neg[0] = 0.0;
    own.n = 1;
    for (idx t = n - 1; t >= 0; t--) {
        if (t % CHECK_EVERY == 0 && (status = check(deadline)) != RUN_OK) goto done;
        status = RUN_NOMEM;
        double at = a[t], bt = b[t], hct = hc[t], hxt = hx[t];
        int good = bt <= at || hct <= 0.0 || hxt <= 0.0;
        if (concave && good) {
            Stored *st = &stored[t];
            st->kind = bt <= at ? BOTH_MODES : hxt <= 0.0 ? CHARGE_MODE : DISCHARGE_MODE;
            if (piece_transform(&own, at, bt, hct, hxt, &st->ya, &st->yb)) goto done;
            continue;
        }
        if (concave) {
            if (piece_to_fn(&own, &func)) goto done;
            concave = 0;
        }
        /* W_t, kept for the forward pass: at most max_points breakpoints in all */
        if (arena.n + func.n > max_points) {
            status = RUN_TOO_LARGE;
            goto done;
        }
        if (fn_reserve(&arena, arena.n + func.n)) goto done;
        memcpy(arena.x + arena.n, func.x, (size_t)func.n * sizeof(double));
        memcpy(arena.v + arena.n, func.v, (size_t)func.n * sizeof(double));
        stored[t].general = 1;
        stored[t].off = arena.n;
        stored[t].cnt = func.n;
        arena.n += func.n;
        if (fn_step(&func, at, bt, hct, hxt, &next, &w, max_breakpoints)) goto done;
        Fn swap = func;
        func = next;
        next = swap;
        *most = 2;
        int r = fn_to_piece(&func, &own);
        if (r < 0) goto done;
        if (r == 1) concave = 1;
    }
    *value = concave ? own.v0 : func.v[0];
    /* Forward: from an empty battery, follow the thresholds or maximise over W_t. */
    double s = 0.0;
    for (idx t = 0; t < n; t++) {
        if (t % CHECK_EVERY == 0 && (status = check(deadline)) != RUN_OK) goto done;
        const Stored *st = &stored[t];
        double y;
        int8_t kind;
        if (!st->general) {
            kind = st->kind;
            if (kind == BOTH_MODES) {
                if (s < st->ya) y = dmin(st->ya, s + hc[t]);
                else if (s > st->yb) y = dmax(st->yb, s - hx[t]);
                else y = s;
            } else if (kind == CHARGE_MODE) {
                y = dmin(dmax(s, st->ya), s + hc[t]);
            } else {
                y = dmax(dmin(s, st->yb), s - hx[t]);
            }
        } else {
            y = best_move(arena.x + st->off, arena.v + st->off, st->cnt, s, a[t], b[t], hc[t],
                          hx[t]);
            kind = (b[t] <= a[t] || y == s) ? BOTH_MODES : y > s ? CHARGE_MODE : DISCHARGE_MODE;
        }
        y = y < 0.0 ? 0.0 : y > cap ? cap : y;
        change[t] = y - s;
        mode[t] = kind;
        s = y;
    }
    status = RUN_OK;
done:
    free(stored);
    free(own.len);
    free(own.neg);
    fn_free(&func);
    fn_free(&next);
    fn_free(&arena);
    work_free(&w);
    return status;
}

/* ------------------------------------------------------------------ Python binding */

static int get_buffer(PyObject *obj, Py_buffer *view, idx itemsize, int writable,
                      const char *name) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    if (view->itemsize != itemsize || view->ndim != 1) {
        PyErr_Format(PyExc_ValueError, "%s: expected a one-dimensional buffer of %zd-byte items",
                     name, itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *dp_solve(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *oa, *ob, *ohc, *ohx, *och, *omo;
    double cap, deadline;
    idx max_points = PY_SSIZE_T_MAX, max_breakpoints = 0;
    if (!PyArg_ParseTuple(args, "OOOOddOO|nn", &oa, &ob, &ohc, &ohx, &cap, &deadline, &och, &omo,
                          &max_points, &max_breakpoints))
        return NULL;
    /* a, b, hc, hx (read), change_out, mode_out (written) */
    PyObject *objs[6] = {oa, ob, ohc, ohx, och, omo};
    static const char *names[6] = {"a", "b", "hc", "hx", "change_out", "mode_out"};
    static const idx itemsize[6] = {8, 8, 8, 8, 8, 1};
    Py_buffer v[6];
    int got = 0;
    PyObject *result = NULL;
    for (; got < 6; got++)
        if (get_buffer(objs[got], &v[got], itemsize[got], got >= 4, names[got])) goto out;
    idx n = v[0].shape[0];
    for (int k = 1; k < 6; k++)
        if (v[k].shape[0] != n) {
            PyErr_SetString(PyExc_ValueError, "every buffer must have one entry per period");
            goto out;
        }
    if (!(cap > 0.0) || !isfinite(cap)) {
        PyErr_SetString(PyExc_ValueError, "capacity must be a positive finite number of MWh");
        goto out;
    }
    double value = 0.0;
    int most = 1;
    int status = run(n, v[0].buf, v[1].buf, v[2].buf, v[3].buf, cap, deadline, max_points,
                     max_breakpoints > 3 ? max_breakpoints : 0, v[4].buf, v[5].buf, &value,
                     &most);
    if (status == RUN_OK) result = Py_BuildValue("(di)", value, most);
    else if (status == RUN_DEADLINE) result = Py_BuildValue("");
    else if (status == RUN_NOMEM) PyErr_NoMemory();
    else if (status == RUN_TOO_LARGE)
        PyErr_Format(PyExc_MemoryError,
                     "the value functions need more than %zd breakpoints in all", max_points);
    /* RUN_SIGNAL: the exception PyErr_CheckSignals set propagates */
out:
    while (got > 0) PyBuffer_Release(&v[--got]);
    return result;
}

PyObject *ns_circulation(PyObject *self, PyObject *args); /* network_simplex.c */

static PyMethodDef methods[] = {
    {"solve", dp_solve, METH_VARARGS,
     "solve(a, b, hc, hx, capacity, deadline, change_out, mode_out[, max_points[, "
     "max_breakpoints]]) -> "
     "(value, pieces_max), or None past the deadline; MemoryError past max_points"},
    {"circulation", ns_circulation, METH_VARARGS,
     "circulation(tail, head, capacity, cost, parent, parent_arc, block, max_pivots, flow_out, "
     "potential_out) -> (status, pivots): the network simplex (see network_simplex.c)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "btm_ppa_dp",
    "The exact dynamic programme over stored energy behind btm-ppa's optimal dispatch.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_btm_ppa_dp(void) { return PyModule_Create(&module); }
