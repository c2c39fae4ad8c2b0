/* The pass's columns handed to Python: each buffer as it is (no copy), validity packed
 * into bits, one tuple of buffers per column in the schema's depth-first order. Part of
 * _ocsfmap.c. */
#ifndef OCSFMAP_OUT_H
#define OCSFMAP_OUT_H


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
    case C_ITEMS:
        return Py_BuildValue("(NLN)", valid, (long long)c->nulls, BYTES(c->off));
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
            PyObject *col = col_out(&p->cols[j], (int)p->cols[j].valid.n); /* rows or items */
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

#endif
