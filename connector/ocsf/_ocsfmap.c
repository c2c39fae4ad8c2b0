/* The OCSF mapper's common case in one native pass (connector/ocsf/native.py says why):
 * each line of a landed object read into its flat record (_ocsfmap_flat.h), mapped as
 * `audit.py` and `logs.py` map it (_ocsfmap_rows.h, _ocsfmap_build.h) and appended to
 * its class's Arrow columns (_ocsfmap_cols.h). A line it cannot map exactly is handed
 * back, by number, to the Python mapper, which stays the definition. What Python
 * decides once per value (an action's family, an IP address `ipaddress` reads) is asked
 * of Python once and remembered. CPython's C API only. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "_ocsfmap_flat.h"
#include "_ocsfmap_cols.h"
#include "_ocsfmap_rows.h"
#include "_ocsfmap_build.h"

#define MAX_CLASSES 16
#define MAX_ITEMS 96
#define CACHE_SLOTS 8192
#define CACHE_ENTRIES 4096
#define CACHE_BYTES (1 << 20)

typedef struct {
    uint8_t *key; /* kind byte, then the name */
    uint32_t n, h;
    Shared *shared; /* NULL for an IP address */
    int ok;
} Entry;

typedef struct {
    char name[32];
    int nitems, time; /* the item of `time` */
    Col items[MAX_ITEMS]; /* the template: kind, leaf, the struct's leaves */
} Class;

struct Mapper {
    PyObject_HEAD PyObject *shared_cb, *ip_cb;
    Span version;
    int nclasses;
    Class classes[MAX_CLASSES];
    int builder[MAX_CLASSES];
    Entry *cache;
    size_t entries, bytes;
};

static Shared FULL = {.cls = -1};
#define IN_FLIGHT -2

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

/* ---- the pass over one object ------------------------------------------------------ */

typedef struct {
    int n;
    Buf lines;
    Col cols[MAX_ITEMS];
} Part;

#include "_ocsfmap_order.h"

static void
parts_free(Part *parts, int count)
{
    for (int k = 0; k < count; k++) {
        free(parts[k].lines.d);
        for (int c = 0; c < MAX_ITEMS; c++)
            col_free(&parts[k].cols[c]);
    }
    free(parts);
}

static PyObject *
bits(Col *c, int n)
{
    if (!c->nulls)
        Py_RETURN_NONE;
    PyObject *out = PyBytes_FromStringAndSize(NULL, (n + 7) / 8);
    if (!out)
        return NULL;
    uint8_t *b = (uint8_t *)PyBytes_AS_STRING(out);
    memset(b, 0, (size_t)(n + 7) / 8);
    for (int k = 0; k < n; k++)
        b[k >> 3] |= (uint8_t)(c->valid.d[k] << (k & 7));
    return out;
}

/* A column's buffer handed to Python as it is (Arrow takes it by the buffer protocol,
 * `pa.py_buffer`), not copied: a 10,000-row object's columns are ~8 MB. */
typedef struct {
    PyObject_HEAD uint8_t *d;
    Py_ssize_t n;
} Owned;

static int
Owned_getbuffer(Owned *o, Py_buffer *view, int flags)
{
    return PyBuffer_FillInfo(view, (PyObject *)o, o->d, o->n, 1, flags);
}

static void
Owned_dealloc(Owned *o)
{
    free(o->d);
    Py_TYPE(o)->tp_free((PyObject *)o);
}

static PyBufferProcs Owned_as_buffer = {(getbufferproc)Owned_getbuffer, NULL};

static PyTypeObject OwnedType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "connector.ocsf._ocsfmap.Owned",
    .tp_basicsize = sizeof(Owned),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A column buffer the mapper made, freed with its last reference.",
    .tp_dealloc = (destructor)Owned_dealloc,
    .tp_as_buffer = &Owned_as_buffer,
};

/* The buffer's memory, now Python's (`buf` is left empty). */
static PyObject *
owned(Buf *buf)
{
    Owned *o = PyObject_New(Owned, &OwnedType);
    if (!o)
        return NULL;
    o->d = NULL;
    uint8_t *d = realloc(buf->d, buf->n ? buf->n : 1); /* Arrow takes no NULL buffer */
    if (!d) {
        Py_DECREF(o);
        return PyErr_NoMemory();
    }
    o->d = d;
    o->n = (Py_ssize_t)buf->n;
    memset(buf, 0, sizeof *buf);
    return (PyObject *)o;
}
#define BYTES(buf) owned(&(buf))

static PyObject *
col_out(Col *c, int n)
{
    PyObject *valid = bits(c, n);
    if (!valid)
        return NULL;
    switch (c->kind) {
    case C_STRUCT:
        return Py_BuildValue("(NL)", valid, (long long)c->nulls);
    case C_STR:
        return Py_BuildValue("(NLNN)", valid, (long long)c->nulls, BYTES(c->off), BYTES(c->data));
    case C_I32:
    case C_I64:
        return Py_BuildValue("(NLN)", valid, (long long)c->nulls, BYTES(c->data));
    case C_LIST:
        return Py_BuildValue("(NLNNN)", valid, (long long)c->nulls, BYTES(c->off), BYTES(c->off2),
                             BYTES(c->data2));
    default:
        return Py_BuildValue("(NLNNNNN)", valid, (long long)c->nulls, BYTES(c->off),
                             BYTES(c->off2), BYTES(c->data2), BYTES(c->off3), BYTES(c->data3));
    }
}

static PyObject *
parts_out(Mapper *m, Part *parts)
{
    PyObject *out = PyDict_New();
    for (int k = 0; out && k < m->nclasses; k++) {
        Part *p = &parts[k];
        Class *c = &m->classes[k];
        if (!p->n)
            continue;
        if (!sort_part(p, c->nitems, &p->cols[c->time])) {
            Py_CLEAR(out);
            PyErr_NoMemory();
            break;
        }
        PyObject *days = days_of(p, &p->cols[c->time]);
        PyObject *cols = days ? PyList_New(c->nitems) : NULL;
        for (int j = 0; cols && j < c->nitems; j++) {
            PyObject *col = col_out(&p->cols[j], p->n);
            if (!col)
                Py_CLEAR(cols);
            else
                PyList_SET_ITEM(cols, j, col);
        }
        PyObject *part = cols ? Py_BuildValue("(iNNN)", p->n, BYTES(p->lines), cols, days) : NULL;
        if (!cols)
            Py_XDECREF(days);
        if (!part || PyDict_SetItemString(out, m->classes[k].name, part) < 0)
            Py_CLEAR(out);
        Py_XDECREF(part);
    }
    return out;
}

static int
commit(Mapper *m, Part *parts, int cls, Ev *ev, Flat *F, int32_t line)
{
    Part *p = &parts[cls];
    Class *c = &m->classes[cls];
    if (!p->n)
        for (int k = 0; k < c->nitems; k++) {
            p->cols[k].kind = c->items[k].kind;
            p->cols[k].leaf = c->items[k].leaf;
            p->cols[k].nunder = c->items[k].nunder;
            p->cols[k].under = c->items[k].under;
            if (!col_start(&p->cols[k]))
                return 0;
        }
    for (int k = 0; k < c->nitems; k++)
        if (!col_put(&p->cols[k], ev, F))
            return 0;
    p->n++;
    return append_i32(&p->lines, line);
}

/* One line: 1 mapped, 0 for Python, -1 on error. */
static int
map_line(Mapper *m, Flat *F, Ev *ev, Part *parts, const uint8_t *s, const uint8_t *e,
         int32_t line)
{
    static const char *types[] = {"Slack.AuditLogs", "Slack.AccessLogs", "Slack.IntegrationLogs"};
    Mx x = {m, F, ev, NULL, m->version, m->builder};
    int r = 0, which = -1;
    memset(ev->set, 0, sizeof ev->set);
    ev->nlist = ev->host = 0;
    if (!read_line(F, s, e) || !F->has_log_type)
        return 0;
    for (int k = 0; k < 3; k++)
        if (F->log_type.n == strlen(types[k]) && memcmp(F->log_type.p, types[k], F->log_type.n) == 0)
            which = k;
    if (which == 0 && (r = audit_row(&x, 0)) == M_BASE) {
        memset(ev->set, 0, sizeof ev->set);
        ev->nlist = ev->host = 0;
        read_line(F, s, e);
        r = audit_row(&x, 1);
    } else if (which == 1)
        r = access_row(&x);
    else if (which == 2)
        r = integration_row(&x);
    if (r != M_MADE || x.sh->cls < 0)
        return r == M_ERR ? -1 : 0;
    if (!commit(m, parts, x.sh->cls, ev, F, line)) {
        PyErr_NoMemory();
        return -1;
    }
    return 1;
}

static PyObject *
Mapper_map(Mapper *m, PyObject *arg)
{
    Py_buffer view;
    Buf starts = {0}; /* each line's offset */
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    Flat *F = malloc(sizeof *F);
    Ev *ev = malloc(sizeof *ev);
    Part *parts = calloc(MAX_CLASSES, sizeof *parts);
    PyObject *fallback = PyList_New(0), *out = NULL;
    if (!F || !ev || !parts || !fallback) {
        PyErr_NoMemory();
        goto done;
    }
    /* The lines are mapped last first: Slack gives its logs newest first and a landed
     * object keeps their order, so the columns come out in time order, as their objects
     * keep them, and mostly need no sorting (`sort_part`). */
    const uint8_t *start = view.buf, *end = start + view.len;
    for (const uint8_t *p = start; p < end;) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t at = (size_t)(p - start);
        if (!append(&starts, &at, sizeof at)) {
            PyErr_NoMemory();
            goto done;
        }
        p = nl ? nl + 1 : end;
    }
    size_t lines = starts.n / sizeof(size_t);
    const size_t *at = (const size_t *)starts.d;
    for (size_t k = lines; k-- > 0;) {
        const uint8_t *s = start + at[k], *e = k + 1 < lines ? start + at[k + 1] - 1 : end;
        if (e > s && e[-1] == '\n' && k + 1 == lines)
            e--;
        int r = map_line(m, F, ev, parts, s, e, (int32_t)(k + 1));
        if (r < 0)
            goto done;
        if (r == 0) {
            PyObject *n = PyLong_FromSsize_t((Py_ssize_t)(k + 1));
            if (!n || PyList_Append(fallback, n) < 0) {
                Py_XDECREF(n);
                goto done;
            }
            Py_DECREF(n);
        }
    }
    if (PyList_Reverse(fallback) < 0)
        goto done;
    PyObject *got = parts_out(m, parts);
    if (got)
        out = Py_BuildValue("(NO)", got, fallback);
done:
    free(starts.d);
    Py_XDECREF(fallback);
    if (parts)
        parts_free(parts, MAX_CLASSES);
    free(ev);
    free(F);
    PyBuffer_Release(&view);
    return out;
}

/* ---- the mapper ----------------------------------------------------------------------- */

static int
leaf_id(const char *path)
{
    for (int k = 0; k < NLEAF; k++)
        if (strcmp(LEAF_NAMES[k], path) == 0)
            return k;
    return -1;
}

/* One class's columns from `[(path, kind), ...]` in the schema's depth-first order. */
static int
class_init(Class *c, PyObject *items)
{
    static const char *names[] = {"struct", "string", "int32", "int64", "list", "map"};
    Py_ssize_t n = PySequence_Size(items);
    const char *paths[MAX_ITEMS];
    if (n < 0 || n > MAX_ITEMS) {
        PyErr_SetString(PyExc_ValueError, "too many columns");
        return 0;
    }
    c->nitems = (int)n;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *item = PySequence_GetItem(items, k);
        const char *path, *kind;
        if (!item || !PyArg_ParseTuple(item, "ss", &path, &kind)) {
            Py_XDECREF(item);
            return 0;
        }
        Py_DECREF(item); /* the tuple's strings live as long as `items` */
        Col *col = &c->items[k];
        paths[k] = path;
        col->kind = -1;
        for (int j = 0; j < 6; j++)
            if (strcmp(kind, names[j]) == 0)
                col->kind = j;
        col->leaf = col->kind == C_STRUCT ? -1 : leaf_id(path);
        if (col->kind < 0 || (col->kind != C_STRUCT && col->leaf < 0)) {
            PyErr_Format(PyExc_ValueError, "no native column for %s (%s)", path, kind);
            return 0;
        }
        if (col->leaf == L_TIME)
            c->time = (int)k;
    }
    if (c->items[c->time].leaf != L_TIME || c->items[c->time].kind != C_I64) {
        PyErr_SetString(PyExc_ValueError, "a class without time");
        return 0;
    }
    for (int k = 0; k < c->nitems; k++) {
        Col *col = &c->items[k];
        if (col->kind != C_STRUCT)
            continue;
        size_t plen = strlen(paths[k]);
        col->under = calloc(MAX_ITEMS, sizeof(int));
        if (!col->under) {
            PyErr_NoMemory();
            return 0;
        }
        for (int j = k + 1; j < c->nitems; j++)
            if (strncmp(paths[j], paths[k], plen) == 0 && paths[j][plen] == '.' &&
                c->items[j].kind != C_STRUCT)
                col->under[col->nunder++] = c->items[j].leaf;
    }
    return 1;
}

static void
Mapper_dealloc(Mapper *m)
{
    if (m->cache) {
        for (int k = 0; k < CACHE_SLOTS; k++) {
            free(m->cache[k].key);
            shared_free(m->cache[k].shared);
        }
        free(m->cache);
    }
    for (int k = 0; k < m->nclasses; k++)
        for (int j = 0; j < m->classes[k].nitems; j++)
            free(m->classes[k].items[j].under);
    free((void *)m->version.p);
    Py_XDECREF(m->shared_cb);
    Py_XDECREF(m->ip_cb);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

static const char *BUILDERS[] = {"base_event",       "authentication", "account_change",
                                 "user_access",      "group_management", "file_hosting",
                                 "entity_management"};

static int
Mapper_init(Mapper *m, PyObject *args, PyObject *kw)
{
    static char *names[] = {"classes", "shared", "ip", "version", NULL};
    PyObject *classes, *version;
    if (m->cache) {
        PyErr_SetString(PyExc_RuntimeError, "a Mapper is made once");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOU", names, &classes, &m->shared_cb, &m->ip_cb,
                                     &version))
        return -1;
    Py_INCREF(m->shared_cb);
    Py_INCREF(m->ip_cb);
    if (!own_text(version, &m->version) || !(m->cache = calloc(CACHE_SLOTS, sizeof(Entry))))
        return -1;
    Py_ssize_t n = PySequence_Size(classes);
    if (n < 0 || n > MAX_CLASSES) {
        PyErr_SetString(PyExc_ValueError, "classes: at most 16");
        return -1;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *item = PySequence_GetItem(classes, k);
        const char *name;
        PyObject *items;
        int ok = item && PyArg_ParseTuple(item, "sO", &name, &items) && strlen(name) < 32;
        Class *c = &m->classes[k];
        if (ok) {
            snprintf(c->name, sizeof c->name, "%s", name);
            m->builder[k] = -1;
            for (int b = 0; b < 7; b++)
                if (strcmp(name, BUILDERS[b]) == 0)
                    m->builder[k] = b;
            m->nclasses = (int)k + 1;
            ok = m->builder[k] >= 0 && class_init(c, items);
            if (!ok && !PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "no native builder for %s", name);
        }
        Py_XDECREF(item);
        if (!ok)
            return -1;
    }
    return 0;
}

static PyMethodDef Mapper_methods[] = {
    {"map", (PyCFunction)Mapper_map, METH_O,
     "map(ndjson) -> ({class: (rows, lines, [column buffers], [(day, first, rows)])}, "
     "[line numbers for Python]); rows sorted by time, then the later line first"},
    {NULL},
};

static PyTypeObject MapperType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "connector.ocsf._ocsfmap.Mapper",
    .tp_basicsize = sizeof(Mapper),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Landed NDJSON to OCSF columns, the lines it cannot map handed back.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Mapper_init,
    .tp_dealloc = (destructor)Mapper_dealloc,
    .tp_methods = Mapper_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_ocsfmap", "OCSF events of landed NDJSON in one native pass.", -1,
    NULL,
};

PyMODINIT_FUNC
PyInit__ocsfmap(void)
{
    if (PyType_Ready(&MapperType) < 0 || PyType_Ready(&OwnedType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    Py_INCREF(&MapperType);
    if (PyModule_AddObject(m, "Mapper", (PyObject *)&MapperType) < 0) {
        Py_DECREF(&MapperType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
