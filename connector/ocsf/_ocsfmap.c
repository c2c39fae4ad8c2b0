/* The OCSF mapper's common case in one native pass (connector/ocsf/native.py says why):
 * each line of a landed object read into its flat record (_ocsfmap_flat.h), mapped as
 * `audit.py` and `logs.py` map it (_ocsfmap_rows.h, _ocsfmap_build.h, a Detection
 * Finding _ocsfmap_finding.h) and appended to
 * its class's Arrow columns (_ocsfmap_cols.h), which are sorted and cut by event day
 * (_ocsfmap_order.h) and handed to Python as they are (_ocsfmap_out.h). A line it cannot
 * map exactly is handed back, by number, to the Python mapper, which stays the
 * definition. What Python decides once per value (an action's family, an IP address
 * `ipaddress` reads) is asked of Python once and remembered (_ocsfmap_cache.h).
 * CPython's C API only; one translation unit, every function static. */
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
#include "_ocsfmap_finding.h"
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

#include "_ocsfmap_cache.h"

/* ---- the pass over one object ------------------------------------------------------ */

typedef struct {
    int n;
    Buf lines;
    Col cols[MAX_ITEMS];
} Part;

#include "_ocsfmap_order.h"
#include "_ocsfmap_out.h"

static int
commit(Mapper *m, Part *parts, int cls, Ev *ev, Flat *F, int32_t line)
{
    Part *p = &parts[cls];
    Class *c = &m->classes[cls];
    if (!p->n)
        for (int k = 0; k < c->nitems; k++) {
            p->cols[k].kind = c->items[k].kind;
            p->cols[k].leaf = c->items[k].leaf;
            p->cols[k].item = c->items[k].item;
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
    ev_reset(ev);
    if (!read_line(F, s, e) || !F->has_log_type)
        return 0;
    for (int k = 0; k < 3; k++)
        if (F->log_type.n == strlen(types[k]) && memcmp(F->log_type.p, types[k], F->log_type.n) == 0)
            which = k;
    if (which == 0 && (r = audit_row(&x, 0)) == M_BASE) {
        ev_reset(ev);
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
        if (k % 1024 == 0) {
            /* Let the daemon's other threads (probes, polls) run during a long object;
             * the shared state is only touched between these points, with the GIL. */
            Py_BEGIN_ALLOW_THREADS Py_END_ALLOW_THREADS
        }
        const uint8_t *s = start + at[k], *e = k + 1 < lines ? start + at[k + 1] - 1 : end;
        if (e > s && e[-1] == '\n' && k + 1 == lines)
            e--;
        int r = map_line(m, F, ev, parts, s, e, (int32_t)(k + 1));
        if (r < 0)
            goto done;
        if (r == 0) {
            PyObject *n = Py_BuildValue("(nnn)", (Py_ssize_t)(k + 1), (Py_ssize_t)(s - start),
                                        (Py_ssize_t)(e - start));
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
    static const char *names[] = {"struct", "string", "int32", "int64", "list", "map", "items"};
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
        for (int j = 0; j < 7; j++)
            if (strcmp(kind, names[j]) == 0)
                col->kind = j;
        int leafless = col->kind == C_STRUCT || col->kind == C_ITEMS;
        col->leaf = leafless ? -1 : leaf_id(path);
        for (Py_ssize_t j = 0; j < k; j++) {
            size_t plen = strlen(paths[j]);
            if (c->items[j].kind == C_ITEMS && strncmp(path, paths[j], plen) == 0 &&
                path[plen] == '.')
                col->item = 1; /* a column of the list's structs, a row per item */
        }
        if (col->kind < 0 || (!leafless && col->leaf < 0)) {
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

static const char *BUILDERS[] = {"base_event",        "authentication",   "account_change",
                                 "user_access",       "group_management", "file_hosting",
                                 "entity_management", "detection_finding"};

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
            for (int b = 0; b < 8; b++)
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
     "[(line number, start, end) for Python]); rows sorted by time, then the later line first"},
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
