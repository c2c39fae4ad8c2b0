/* What the mapper asks Python once and remembers: an action's or change's shared
 * fields (`native._shared`) and whether a text is an IP address OCSF takes (`native._ip`),
 * in one bounded table. Part of _ocsfmap.c. */
#ifndef OCSFMAP_CACHE_H
#define OCSFMAP_CACHE_H


/* The entry for (kind, name), made empty when new and there is room; NULL when not. */
static Entry *
remembered(Mapper *m, char kind, Span name, int *fresh)
{
    uint8_t head = (uint8_t)kind;
    uint32_t h = fnv(fnv(FNV0, &head, 1), name.p, name.n), n = name.n + 1;
    Entry *e = NULL;
    *fresh = 0;
    for (uint32_t k = h & (CACHE_SLOTS - 1);; k = (k + 1) & (CACHE_SLOTS - 1)) {
        e = &m->cache[k];
        if (!e->key)
            break;
        if (e->h == h && e->n == n && e->key[0] == head && memcmp(e->key + 1, name.p, name.n) == 0)
            return e;
    }
    if (m->entries >= CACHE_ENTRIES || m->bytes + n > CACHE_BYTES)
        return NULL;
    if (!(e->key = malloc(n)))
        return NULL;
    e->key[0] = head;
    memcpy(e->key + 1, name.p, name.n);
    e->n = n;
    e->h = h;
    e->shared = NULL;
    m->entries++;
    m->bytes += n;
    *fresh = 1;
    return e;
}

static void
shared_free(Shared *s)
{
    if (!s || s == &FULL)
        return;
    for (int k = 0; k < 6; k++)
        free((void *)s->texts[k].p);
    free(s);
}

static int
own_text(PyObject *o, Span *out)
{
    Py_ssize_t n;
    const char *t = PyUnicode_AsUTF8AndSize(o, &n);
    if (!t || !(out->p = malloc((size_t)n + 1)))
        return 0;
    memcpy((void *)out->p, t, (size_t)n);
    out->n = (uint32_t)n;
    return 1;
}

/* Python's `(class index, activity id, activity name, category uid, category name,
 * class uid, class name, type uid, type name, severity id, severity, status id or
 * None, status or None)`, index -1 when Python maps the row. */
static Shared *
shared_from(PyObject *t)
{
    static const int ints[] = {1, 3, 5, 7, 9, 11}, texts[] = {2, 4, 6, 8, 10, 12};
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 13) {
        PyErr_SetString(PyExc_TypeError, "shared: a 13-tuple");
        return NULL;
    }
    Shared *s = calloc(1, sizeof *s);
    if (!s)
        return (Shared *)PyErr_NoMemory();
    s->cls = (int)PyLong_AsLong(PyTuple_GET_ITEM(t, 0));
    s->has_status = PyTuple_GET_ITEM(t, 11) != Py_None;
    for (int k = 0; k < 6; k++) {
        if (k == 5 && !s->has_status)
            break;
        s->ints[k] = PyLong_AsLongLong(PyTuple_GET_ITEM(t, ints[k]));
        if (!own_text(PyTuple_GET_ITEM(t, texts[k]), &s->texts[k])) {
            shared_free(s);
            return NULL;
        }
    }
    if (PyErr_Occurred()) {
        shared_free(s);
        return NULL;
    }
    return s;
}

/* Python's answer for (kind, name), remembered. While Python answers (another thread
 * may map meanwhile: the callback can release the GIL) and when it failed, the entry is
 * `IN_FLIGHT` and its rows go to Python; when the cache is full, too. */
static Shared *
shared_of(Mapper *m, char kind, Span name)
{
    int fresh;
    Entry *e = remembered(m, kind, name, &fresh);
    if (!fresh)
        return e && e->ok != IN_FLIGHT ? e->shared : &FULL;
    e->ok = IN_FLIGHT;
    PyObject *r = PyObject_CallFunction(m->shared_cb, "Cs#", kind, name.p, (Py_ssize_t)name.n);
    Shared *got = r == Py_None ? &FULL : r ? shared_from(r) : NULL;
    Py_XDECREF(r);
    if (got) {
        e->shared = got;
        e->ok = 1;
    }
    return got;
}

static int
dotted_quad(Span v)
{
    const uint8_t *p = v.p, *e = p + v.n;
    for (int part = 0; part < 4; part++) {
        const uint8_t *d = p;
        int value = 0;
        while (p < e && *p >= '0' && *p <= '9' && p - d < 4)
            value = value * 10 + (*p++ - '0');
        if (p == d || p - d > 3 || (p - d > 1 && *d == '0') || value > 255)
            return 0;
        if (part < 3 && (p >= e || *p++ != '.'))
            return 0;
    }
    return p == e;
}

static int
ip_ok(Mapper *m, Span text)
{
    int fresh;
    if (dotted_quad(text))
        return 1;
    Entry *e = remembered(m, 'i', text, &fresh);
    if (e && !fresh && e->ok != IN_FLIGHT)
        return e->ok;
    if (fresh)
        e->ok = IN_FLIGHT;
    PyObject *r = PyObject_CallFunction(m->ip_cb, "s#", text.p, (Py_ssize_t)text.n);
    int ok = r ? PyObject_IsTrue(r) : -1;
    Py_XDECREF(r);
    if (fresh && ok >= 0)
        e->ok = ok;
    return ok;
}

#endif
