/* A class's rows put in the order its Parquet objects keep (time, then the later line
 * first: `parquet._sort`), and cut by event day, here rather than by Arrow's sort and
 * take over nested columns (2.4 us an event there, a tenth of it here). The lines are
 * mapped last first (`Mapper_map`), so an object in Slack's order, newest first, comes
 * out in this order and is not moved at all. Part of _ocsfmap.c. */
#ifndef OCSFMAP_ORDER_H
#define OCSFMAP_ORDER_H

#define DAY_MS 86400000LL

typedef struct {
    const int64_t *time;
    const int32_t *line;
} Order;

static Order ORDER; /* qsort's context (the GIL is held throughout a pass) */

static int
by_order(const void *a, const void *b)
{
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    if (ORDER.time[i] != ORDER.time[j])
        return ORDER.time[i] < ORDER.time[j] ? -1 : 1;
    return ORDER.line[i] > ORDER.line[j] ? -1 : ORDER.line[i] < ORDER.line[j];
}

/* The strings [lo, hi) of `off`/`data` appended to `noff`/`ndata`. */
static int
take_strings(const Buf *off, const Buf *data, int32_t lo, int32_t hi, Buf *noff, Buf *ndata)
{
    const int32_t *o = (const int32_t *)off->d;
    if (!append(ndata, data->d + o[lo], (size_t)(o[hi] - o[lo])))
        return 0;
    if (!grow(noff, (size_t)(hi - lo) * 4))
        return 0;
    int32_t base = (int32_t)ndata->n - o[hi];
    for (int32_t k = lo + 1; k <= hi; k++) {
        int32_t v = o[k] + base;
        memcpy(noff->d + noff->n, &v, 4);
        noff->n += 4;
    }
    return 1;
}

static void
swap_buf(Buf *a, Buf *b)
{
    free(a->d);
    *a = *b;
    memset(b, 0, sizeof *b);
}

/* One column's rows in the order `perm`. */
static int
permute(Col *c, const int32_t *perm, int n)
{
    Buf valid = {0}, off = {0}, data = {0}, off2 = {0}, data2 = {0}, off3 = {0}, data3 = {0};
    int ok = grow(&valid, (size_t)n);
    for (int k = 0; ok && k < n; k++)
        valid.d[valid.n++] = c->valid.d[perm[k]];
    if (ok && (c->kind == C_I32 || c->kind == C_I64)) {
        size_t w = c->kind == C_I32 ? 4 : 8;
        ok = grow(&data, w * (size_t)n);
        for (int k = 0; ok && k < n; k++, data.n += w)
            memcpy(data.d + data.n, c->data.d + w * (size_t)perm[k], w);
    } else if (ok && c->kind == C_STR) {
        ok = append_i32(&off, 0);
        for (int k = 0; ok && k < n; k++)
            ok = take_strings(&c->off, &c->data, perm[k], perm[k] + 1, &off, &data);
    } else if (ok && c->kind == C_ITEMS) {
        const int32_t *rows = (const int32_t *)c->off.d;
        ok = append_i32(&off, 0);
        for (int k = 0, at = 0; ok && k < n; k++)
            ok = append_i32(&off, at += rows[perm[k] + 1] - rows[perm[k]]);
    } else if (ok && (c->kind == C_LIST || c->kind == C_MAP)) {
        const int32_t *rows = (const int32_t *)c->off.d;
        ok = append_i32(&off, 0) && append_i32(&off2, 0) && append_i32(&off3, 0);
        for (int k = 0; ok && k < n; k++) {
            int32_t lo = rows[perm[k]], hi = rows[perm[k] + 1];
            ok = take_strings(&c->off2, &c->data2, lo, hi, &off2, &data2) &&
                 (c->kind == C_LIST || take_strings(&c->off3, &c->data3, lo, hi, &off3, &data3)) &&
                 append_i32(&off, (int32_t)(off2.n / 4 - 1));
        }
    }
    swap_buf(&c->valid, &valid);
    if (c->kind != C_STRUCT) {
        swap_buf(&c->data, &data);
        if (c->kind != C_I32 && c->kind != C_I64)
            swap_buf(&c->off, &off); /* a C_ITEMS column has only these (and `valid`) */
        if (c->kind == C_LIST || c->kind == C_MAP)
            swap_buf(&c->off2, &off2), swap_buf(&c->data2, &data2);
        if (c->kind == C_MAP)
            swap_buf(&c->off3, &off3), swap_buf(&c->data3, &data3);
    }
    free(valid.d), free(off.d), free(data.d), free(off2.d), free(data2.d), free(off3.d);
    free(data3.d);
    return ok;
}

/* The columns of a list's structs (a Detection Finding's evidences) in the order `perm`
 * puts their rows in, by the list's offsets as they were. */
static int
permute_items(Part *p, int ncols, const int32_t *perm, int n)
{
    const Col *list = NULL;
    for (int c = 0; c < ncols; c++)
        if (p->cols[c].kind == C_ITEMS)
            list = &p->cols[c];
    if (!list)
        return 1;
    const int32_t *rows = (const int32_t *)list->off.d;
    int32_t *order = malloc(sizeof(int32_t) * ((size_t)rows[n] + 1));
    int m = 0, ok = order != NULL;
    for (int k = 0; ok && k < n; k++)
        for (int32_t j = rows[perm[k]]; j < rows[perm[k] + 1]; j++)
            order[m++] = j;
    for (int c = 0; ok && c < ncols; c++)
        if (p->cols[c].item)
            ok = permute(&p->cols[c], order, m);
    free(order);
    return ok;
}

/* The part's rows sorted (when they are not already), given the column of the time. */
static int
sort_part(Part *p, int ncols, const Col *time)
{
    int n = p->n, sorted = 1;
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)n);
    if (!perm)
        return 0;
    ORDER.time = (const int64_t *)time->data.d;
    ORDER.line = (const int32_t *)p->lines.d;
    for (int k = 0; k < n; k++) {
        perm[k] = k;
        if (k && by_order(&perm[k - 1], &perm[k]) > 0)
            sorted = 0;
    }
    int ok = 1;
    if (!sorted) {
        qsort(perm, (size_t)n, sizeof *perm, by_order);
        Buf lines = {0};
        ok = grow(&lines, sizeof(int32_t) * (size_t)n);
        for (int k = 0; ok && k < n; k++)
            ok = append_i32(&lines, ((const int32_t *)p->lines.d)[perm[k]]);
        if (ok)
            swap_buf(&p->lines, &lines);
        free(lines.d);
        ok = ok && permute_items(p, ncols, perm, n);
        for (int c = 0; ok && c < ncols; c++)
            if (!p->cols[c].item)
                ok = permute(&p->cols[c], perm, n);
    }
    free(perm);
    return ok;
}

/* The sorted part's event days as [(day, first row, rows), ...]. */
static PyObject *
days_of(const Part *p, const Col *time)
{
    const int64_t *t = (const int64_t *)time->data.d;
    PyObject *out = PyList_New(0);
    for (int k = 0, start = 0; out && k <= p->n; k++) {
        long long day = k < p->n ? (t[k] >= 0 ? t[k] / DAY_MS : -((-t[k] - 1) / DAY_MS) - 1) : 0;
        long long prev = k ? (t[k - 1] >= 0 ? t[k - 1] / DAY_MS : -((-t[k - 1] - 1) / DAY_MS) - 1) : 0;
        if (k && (k == p->n || day != prev)) {
            PyObject *span = Py_BuildValue("(Lii)", prev, start, k - start);
            if (!span || PyList_Append(out, span) < 0)
                Py_CLEAR(out);
            Py_XDECREF(span);
            start = k;
        }
    }
    return out;
}

#endif
