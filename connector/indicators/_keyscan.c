/*
 * The keys of a landed object in one native pass (object_keys.py is the Python side;
 * _keyscan_json.h reads JSON, _keyscan_shapes.h keys the common shapes, _keyscan_tables.h
 * holds the buffers and hash tables, _keyscan_index.h the search index helpers).
 *
 * A Scanner reads NDJSON as orjson writes it: one compact JSON object a line, strings
 * without escapes. Each line is read exactly (the JSON grammar, strict UTF-8, no white
 * space, no member name given twice in one object); any line it cannot read so is handed
 * whole to the Python walk (`walk`), which parses it and applies `keys.row_keys`.
 *
 * The key rule itself stays in Python (`keys.value_keys`): a string value is skipped
 * only when it provably has no key (the `keys._plain` rule and the "no key" shapes of
 * shapes.py), the commonest shapes whose keys follow from the rule with no case left
 * open are keyed here (`shaped_keys`: Slack ids, IPv4, dotted names, plain emails, as
 * shapes.py decides them with Arrow), and any other value is given to `value_keys`. Either
 * way a value's key ids are remembered in a cache, so a value costs one lookup after its
 * first sighting; a line's lookups are issued together (their slots prefetched), since
 * the cache is larger than the CPU's. Each line's top-level `p_event_time` (whole-second
 * RFC 3339 read here, anything else by `micros`) and the string elements of its top-level
 * `p_any_usernames` (`username` gives the key) are read too. The result is the distinct
 * (key, line) pairs of the lines with an event time, grouped by key, as buffers for Arrow.
 *
 * Memory: the cache holds at most `limit` values and CACHE_BYTES of their text and keys
 * past one object; it is emptied before an object when full. The GIL is held throughout;
 * a Scanner refuses to be entered twice (a callback could let another thread in).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "_keyscan_json.h"
#include "_keyscan_tables.h"
#include "_keyscan_shapes.h"

/* ---- the scanner ------------------------------------------------------------------- */

#define CACHE_BYTES ((size_t)64 << 20) /* of cached values and their keys, past one object */

typedef struct {
    PyObject_HEAD
    PyObject *value_keys, *username, *micros, *walk;
    Py_ssize_t limit;
    int busy;
    Table values; /* value (kind 0) or user name (kind 1) -> its keys: ktext[a:a+b], c of them */
    Buf ktext;    /* the cached values' keys: (uint32 length, text) each */
    Py_ssize_t hits, misses;
    size_t keys_hint; /* distinct keys of the previous object: the next key table's size */
} Scanner;

/* A value to look up, its slot prefetched: a line's lookups wait for memory together. */
typedef struct {
    Str v;
    uint64_t hash;
    uint32_t kind;
} Lookup;

/* A member name: only its bytes (a whole Str copied was a store-forwarding stall). */
typedef struct {
    const uint8_t *s;
    size_t n;
} Name;

/* One object's scan: its keys (local ids in order of appearance), the keys of the line
 * being read, then the (key, line) pairs. */
typedef struct {
    KeyTable keys; /* key text -> its local id */
    Buf key_at;    /* uint32 offset and length of each local id's text in keys.text */
    Buf counts;    /* uint32 lines holding each local id */
    Buf seen;      /* uint32 per local id: the stamp of the line it was last added on */
    uint32_t stamp;
    Buf line_keys; /* uint32 local ids of the line being read */
    Buf pending;   /* Lookup: the line's cached values, looked up once it is read */
    Buf pairs;     /* (uint32 local id, int32 line) */
    int64_t *times;
    Name *names;   /* member names of the objects open on the line being read */
} Scan;

static void
scan_free(Scan *s)
{
    free(s->keys.slots);
    buf_free(&s->keys.text);
    buf_free(&s->key_at);
    buf_free(&s->counts);
    buf_free(&s->seen);
    buf_free(&s->line_keys);
    buf_free(&s->pending);
    buf_free(&s->pairs);
    PyMem_Free(s->times);
    PyMem_Free(s->names);
    s->times = NULL;
    s->names = NULL;
}

/* Whether local id `id` is the key (text, n). */
static int
is_key(const Scan *scan, uint32_t id, const char *text, size_t n)
{
    const uint32_t *at = &BUF_AT(scan->key_at, uint32_t, 2 * (size_t)id);
    return at[1] == n && memcmp(scan->keys.text.data + at[0], text, n) == 0;
}

/* Adds a key (UTF-8 text) to the line being read, once a line. */
static int
line_add(Scan *scan, const char *text, size_t n)
{
    uint32_t tag = (uint32_t)hash_bytes(2, (const uint8_t *)text, n);
    KeyTable *t = &scan->keys;
    size_t j = tag & (t->cap - 1);
    uint32_t id;
    for (;; j = (j + 1) & (t->cap - 1)) {
        KeySlot *slot = &t->slots[j];
        if (!slot->id1)
            break;
        if (slot->tag == tag && is_key(scan, slot->id1 - 1, text, n)) {
            id = slot->id1 - 1;
            goto found;
        }
    }
    size_t count = BUF_COUNT(scan->counts, uint32_t);
    if (count >= INT32_MAX - 1 || t->text.len + n > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "keyscan: too many keys in one object");
        return -1;
    }
    id = (uint32_t)count;
    uint32_t at[2] = {(uint32_t)t->text.len, (uint32_t)n}, zero = 0;
    if (buf_add(&t->text, text, n) < 0 || buf_add(&scan->key_at, at, sizeof at) < 0 ||
        buf_add(&scan->counts, &zero, sizeof zero) < 0 ||
        buf_add(&scan->seen, &zero, sizeof zero) < 0)
        return -1;
    t->slots[j] = (KeySlot){tag, id + 1};
    if (++t->used * 2 > t->cap && keys_resize(t, t->cap * 2) < 0)
        return -1;
found:;
    uint32_t *seen = &BUF_AT(scan->seen, uint32_t, id);
    if (*seen == scan->stamp)
        return 0;
    *seen = scan->stamp;
    return buf_add(&scan->line_keys, &id, sizeof id);
}

/* A key's UTF-8 text (a key the Python rules gave must be a str), or NULL. */
static const char *
key_text(PyObject *key, Py_ssize_t *n)
{
    if (!PyUnicode_Check(key)) {
        PyErr_SetString(PyExc_TypeError, "keyscan: a key must be a str");
        return NULL;
    }
    return PyUnicode_AsUTF8AndSize(key, n);
}

/* Adds a key given as a str. */
static int
line_add_str(Scan *scan, PyObject *key)
{
    Py_ssize_t n;
    const char *text = key_text(key, &n);
    return text ? line_add(scan, text, (size_t)n) : -1;
}

/* Appends a key to the cache's key records. */
static int
record(Scanner *self, PyObject *key)
{
    Py_ssize_t n;
    const char *text = key_text(key, &n);
    if (!text)
        return -1;
    if (self->ktext.len > UINT32_MAX - 4 || (size_t)n > UINT32_MAX - 4 - self->ktext.len) {
        PyErr_SetString(PyExc_OverflowError, "keyscan: too much key text in the cache");
        return -1;
    }
    uint32_t len = (uint32_t)n;
    if (buf_add(&self->ktext, &len, sizeof len) < 0 || buf_add(&self->ktext, text, len) < 0)
        return -1;
    return 0;
}

/* The keys of a value (kind 0) or user name (kind 1) from the cache, asking Python on a
 * miss (`value_keys` or `username`), added to the line. */
static int
cached(Scanner *self, Scan *scan, const Lookup *one)
{
    const uint8_t *s = one->v.s;
    size_t n = one->v.n;
    Slot *slot = table_find(&self->values, one->hash, s, n);
    if (!slot->hash) {
        self->misses++;
        PyObject *text = PyUnicode_DecodeUTF8((const char *)s, (Py_ssize_t)n, "strict");
        if (!text)
            return -1;
        PyObject *got = PyObject_CallOneArg(one->kind ? self->username : self->value_keys, text);
        Py_DECREF(text);
        if (!got)
            return -1;
        size_t start = self->ktext.len;
        Py_ssize_t count = 1;
        int bad = 0;
        if (one->kind)
            bad = record(self, got) < 0;
        else if (!PyTuple_Check(got)) {
            PyErr_SetString(PyExc_TypeError, "keyscan: value_keys must give a tuple");
            bad = 1;
        }
        else {
            count = PyTuple_GET_SIZE(got);
            for (Py_ssize_t i = 0; i < count && !bad; i++)
                bad = record(self, PyTuple_GET_ITEM(got, i)) < 0;
        }
        Py_DECREF(got);
        if (bad || count > UINT32_MAX) {
            if (!bad)
                PyErr_SetString(PyExc_OverflowError, "keyscan: too many keys of one value");
            return -1;
        }
        slot = table_put(&self->values, slot, one->hash, s, n, (uint32_t)start,
                         (uint32_t)(self->ktext.len - start), (uint32_t)count);
        if (!slot)
            return -1;
    }
    else
        self->hits++;
    size_t at = slot->a;
    for (uint32_t i = 0; i < slot->c; i++) {
        uint32_t len;
        memcpy(&len, self->ktext.data + at, sizeof len);
        if (line_add(scan, self->ktext.data + at + sizeof len, len) < 0)
            return -1;
        at += sizeof len + len;
    }
    return 0;
}

/* An event time (text of a string) as µs: read here, or by `micros`. */
static int
event_time(Scanner *self, const Str *v, int64_t *out)
{
    int64_t us = whole_second(v->s, v->n);
    if (us != NO_TIME) {
        *out = us;
        return 0;
    }
    PyObject *text = PyUnicode_DecodeUTF8((const char *)v->s, (Py_ssize_t)v->n, "strict");
    if (!text)
        return -1;
    PyObject *got = PyObject_CallOneArg(self->micros, text);
    Py_DECREF(text);
    if (!got)
        return -1;
    if (got == Py_None)
        us = NO_TIME;
    else {
        us = PyLong_AsLongLong(got);
        if (us == -1 && PyErr_Occurred()) {
            Py_DECREF(got);
            return -1;
        }
        if (us == NO_TIME) {
            Py_DECREF(got);
            PyErr_SetString(PyExc_OverflowError, "keyscan: event time out of range");
            return -1;
        }
    }
    Py_DECREF(got);
    *out = us;
    return 0;
}

enum { PLAIN = 0, TIME = 1, USERNAMES = 2, USERNAME = 3 };

/* A string value (kind 0) or user name (kind 1) of the line being read: keyed now when
 * its shape decides it, else looked up in the cache once the line is read. */
static int
look_up(Scanner *self, Scan *scan, uint32_t kind, const Str *v)
{
    if (kind && v->n <= SHAPED && (v->all & K_ASCII)) {
        /* `keys.username_key` of an ASCII name: str.lower folds only A-Z there */
        char out[SHAPED + 8];
        memcpy(out, "uname:", 6);
        for (size_t i = 0; i < v->n; i++)
            out[6 + i] = (char)fold(v->s[i]);
        return line_add(scan, out, v->n + 6);
    }
    if (!kind) {
        char out[2][SHAPED + 8];
        size_t size[2];
        int keys = shaped_keys(v, out, size);
        for (int i = 0; i < keys; i++)
            if (line_add(scan, out[i], size[i]) < 0)
                return -1;
        if (keys >= 0)
            return 0;
    }
    Lookup one = {*v, hash_bytes(kind, v->s, v->n), kind};
    __builtin_prefetch(&self->values.slots[one.hash & (self->values.cap - 1)]);
    return buf_add(&scan->pending, &one, sizeof one);
}

/* The keys of the line's cached values. */
static int
looked_up(Scanner *self, Scan *scan)
{
    size_t count = BUF_COUNT(scan->pending, Lookup);
    for (size_t i = 0; i < count; i++)
        if (cached(self, scan, &BUF_AT(scan->pending, Lookup, i)) < 0)
            return -1;
    return 0;
}

typedef struct {
    uint8_t closer;
    uint8_t usernames; /* the top-level p_any_usernames array */
    int names;         /* where this object's member names start in `names` */
    uint64_t held;     /* a bit per (length, last byte) class of its names so far */
} Frame;

/* A name's bit in `Frame.held`: two equal names have the same, so a name whose bit is
 * clear is new without comparing it with the others (that loop was 2 % of the scan). */
static uint64_t
name_bit(const Str *name)
{
    return (uint64_t)1 << ((name->n * 7 + (name->n ? name->s[name->n - 1] : 0)) & 63);
}

/* Reads one line: 1 read (its time in *when, NO_TIME when it has none), 0 when it is
 * for the Python walk, -1 with an exception. */
static int
read_line(Scanner *self, Scan *scan, const uint8_t *p, const uint8_t *e, int64_t *when)
{
    Name *names = scan->names;
    Frame stack[MAX_DEPTH];
    int depth = 0, count = 0, first;
    Str time_text = {NULL, 0, 0, 0};
    int has_time = 0;

    if (p >= e || *p != '{')
        return 0;
    stack[depth++] = (Frame){'}', 0, 0};
    p++;
    first = 1;
    for (;;) {
        Frame *f = &stack[depth - 1];
        int role = PLAIN;
        if (first && p < e && *p == f->closer)
            goto close;
        if (f->closer == '}') {
            Str name;
            if (p >= e || *p != '"')
                return 0;
            p = read_name(p + 1, e, &name);
            if (!p || p >= e || *p != ':' || count >= MAX_NAMES)
                return 0;
            uint64_t bit = name_bit(&name);
            if (f->held & bit)
                for (int i = f->names; i < count; i++)
                    if (names[i].n == name.n && memcmp(names[i].s, name.s, name.n) == 0)
                        return 0;
            f->held |= bit;
            names[count++] = (Name){name.s, name.n};
            p++;
            if (depth == 1) {
                if (name.n == 12 && memcmp(name.s, "p_event_time", 12) == 0)
                    role = TIME;
                else if (name.n == 15 && memcmp(name.s, "p_any_usernames", 15) == 0)
                    role = USERNAMES;
            }
        }
        else if (f->usernames)
            role = USERNAME;
        if (p >= e)
            return 0;
        if (*p == '"') {
            Str v;
            p = read_string(p + 1, e, &v);
            if (!p)
                return 0;
            if (!keyless(&v) && look_up(self, scan, 0, &v) < 0)
                return -1;
            if (role == USERNAME && look_up(self, scan, 1, &v) < 0)
                return -1;
            if (role == TIME) {
                time_text = v;
                has_time = 1;
            }
        }
        else if (role == TIME)
            return 0;
        else if (*p == '{' || *p == '[') {
            if (depth >= MAX_DEPTH)
                return 0;
            int object = *p == '{';
            stack[depth++] = (Frame){object ? '}' : ']', role == USERNAMES && !object, count};
            p++;
            first = 1;
            continue;
        }
        else {
            p = (*p == '-' || is_digit(*p)) ? read_number(p, e) : read_literal(p, e);
            if (!p)
                return 0;
        }
        for (;;) {
            /* after a value in the container on top of the stack */
            f = &stack[depth - 1];
            if (p < e && *p == ',') {
                p++;
                first = 0;
                break;
            }
            if (p >= e || *p != f->closer)
                return 0;
        close:
            f = &stack[depth - 1];
            p++;
            count = f->names;
            depth--;
            if (depth == 0) {
                if (p != e)
                    return 0;
                *when = NO_TIME;
                if (has_time && event_time(self, &time_text, when) < 0)
                    return -1;
                if (*when != NO_TIME && looked_up(self, scan) < 0)
                    return -1;
                return 1;
            }
        }
    }
}

/* The keys of the current line go to the object when it has an event time. */

/* The keys of the line read go to the object when it has an event time. */
static int
commit_line(Scan *scan, int32_t line, int64_t when)
{
    size_t n = BUF_COUNT(scan->line_keys, uint32_t);
    scan->times[line] = when;
    if (when == NO_TIME)
        return 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = BUF_AT(scan->line_keys, uint32_t, i);
        BUF_AT(scan->counts, uint32_t, id)++;
        uint32_t pair[2] = {id, (uint32_t)line};
        if (buf_add(&scan->pairs, pair, sizeof pair) < 0)
            return -1;
    }
    return 0;
}

/* A line the reader left: `walk(line)` gives None or (event time µs, keys). */
static int
walk_line(Scanner *self, Scan *scan, const uint8_t *p, const uint8_t *e, int64_t *when)
{
    PyObject *line = PyBytes_FromStringAndSize((const char *)p, e - p);
    if (!line)
        return -1;
    PyObject *got = PyObject_CallOneArg(self->walk, line);
    Py_DECREF(line);
    if (!got)
        return -1;
    *when = NO_TIME;
    if (got == Py_None) {
        Py_DECREF(got);
        return 0;
    }
    if (!PyTuple_Check(got) || PyTuple_GET_SIZE(got) != 2) {
        Py_DECREF(got);
        PyErr_SetString(PyExc_TypeError, "keyscan: walk must give None or (time, keys)");
        return -1;
    }
    int64_t us = PyLong_AsLongLong(PyTuple_GET_ITEM(got, 0));
    if ((us == -1 && PyErr_Occurred()) || us == NO_TIME) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_OverflowError, "keyscan: event time out of range");
        Py_DECREF(got);
        return -1;
    }
    PyObject *iter = PyObject_GetIter(PyTuple_GET_ITEM(got, 1));
    Py_DECREF(got);
    if (!iter)
        return -1;
    PyObject *key;
    while ((key = PyIter_Next(iter))) {
        int bad = line_add_str(scan, key) < 0;
        Py_DECREF(key);
        if (bad) {
            Py_DECREF(iter);
            return -1;
        }
    }
    Py_DECREF(iter);
    if (PyErr_Occurred())
        return -1;
    *when = us;
    return 0;
}

static PyObject *
new_bytes(const void *src, size_t n)
{
    return PyBytes_FromStringAndSize((const char *)src, (Py_ssize_t)n);
}

/* The result: (times, key offsets, key text, list offsets, lines, first, last), of the
 * keys some line with an event time holds. */
static PyObject *
grouped(Scan *scan, Py_ssize_t lines)
{
    size_t all = BUF_COUNT(scan->counts, uint32_t), pairs = BUF_COUNT(scan->pairs, uint32_t) / 2;
    size_t keys = 0, text = 0;
    for (size_t k = 0; k < all; k++) {
        if (BUF_AT(scan->counts, uint32_t, k)) {
            keys++;
            text += BUF_AT(scan->key_at, uint32_t, 2 * k + 1);
        }
    }
    if (text > INT32_MAX || pairs > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "keyscan: object too large");
        return NULL;
    }
    PyObject *out[7] = {NULL};
    out[0] = new_bytes(scan->times, (size_t)lines * sizeof(int64_t));
    out[1] = new_bytes(NULL, (keys + 1) * sizeof(int32_t));
    out[2] = new_bytes(NULL, text);
    out[3] = new_bytes(NULL, (keys + 1) * sizeof(int32_t));
    out[4] = new_bytes(NULL, pairs * sizeof(int32_t));
    out[5] = new_bytes(NULL, keys * sizeof(int64_t));
    out[6] = new_bytes(NULL, keys * sizeof(int64_t));
    for (int i = 0; i < 7; i++) {
        if (!out[i]) {
            for (int j = 0; j < 7; j++)
                Py_XDECREF(out[j]);
            return NULL;
        }
    }
    int32_t *key_offsets = (int32_t *)PyBytes_AS_STRING(out[1]);
    char *key_text = PyBytes_AS_STRING(out[2]);
    int32_t *offsets = (int32_t *)PyBytes_AS_STRING(out[3]);
    int32_t *line_of = (int32_t *)PyBytes_AS_STRING(out[4]);
    int64_t *first = (int64_t *)PyBytes_AS_STRING(out[5]);
    int64_t *last = (int64_t *)PyBytes_AS_STRING(out[6]);
    /* each local id's place among the keys given (the seen stamps are done with) */
    uint32_t *place = (uint32_t *)scan->seen.data, *fill = (uint32_t *)scan->counts.data;
    size_t at = 0, k = 0;
    key_offsets[0] = 0;
    offsets[0] = 0;
    for (size_t id = 0; id < all; id++) {
        uint32_t count = fill[id];
        if (!count)
            continue;
        uint32_t off = BUF_AT(scan->key_at, uint32_t, 2 * id);
        uint32_t len = BUF_AT(scan->key_at, uint32_t, 2 * id + 1);
        memcpy(key_text + at, scan->keys.text.data + off, len);
        at += len;
        key_offsets[k + 1] = (int32_t)at;
        offsets[k + 1] = offsets[k] + (int32_t)count;
        first[k] = INT64_MAX;
        last[k] = INT64_MIN;
        place[id] = (uint32_t)k;
        fill[id] = (uint32_t)offsets[k];
        k++;
    }
    /* a stable counting sort by key: lines stay ascending within a key */
    for (size_t i = 0; i < pairs; i++) {
        uint32_t id = BUF_AT(scan->pairs, uint32_t, 2 * i);
        int32_t line = (int32_t)BUF_AT(scan->pairs, uint32_t, 2 * i + 1);
        int64_t when = scan->times[line];
        uint32_t to = place[id];
        line_of[fill[id]++] = line;
        if (when < first[to])
            first[to] = when;
        if (when > last[to])
            last[to] = when;
    }
    PyObject *tuple = PyTuple_New(7);
    if (!tuple) {
        for (int j = 0; j < 7; j++)
            Py_DECREF(out[j]);
        return NULL;
    }
    for (int i = 0; i < 7; i++)
        PyTuple_SET_ITEM(tuple, i, out[i]);
    return tuple;
}

static void
clear_caches(Scanner *self)
{
    table_clear(&self->values);
    self->ktext.len = 0;
}

static PyObject *
scan_object(Scanner *self, const uint8_t *data, size_t size)
{
    Py_ssize_t lines = 0;
    const uint8_t *end = data + size;
    Buf ends = {NULL, 0, 0}; /* each line's end (const uint8_t *): one memchr a line */
    if (memchr(data, '\r', size))
        Py_RETURN_NONE;
    for (const uint8_t *p = data; p < end;) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == p) {
            buf_free(&ends);
            Py_RETURN_NONE; /* an empty line: for the parser, which refuses it */
        }
        const uint8_t *e = nl ? nl : end;
        if (buf_add(&ends, &e, sizeof e) < 0) {
            buf_free(&ends);
            return NULL;
        }
        lines++;
        p = nl ? nl + 1 : end;
    }
    if (lines > INT32_MAX) {
        buf_free(&ends);
        PyErr_SetString(PyExc_OverflowError, "keyscan: too many lines");
        return NULL;
    }
    if ((Py_ssize_t)self->values.used >= self->limit ||
        self->values.text.len + self->ktext.len > CACHE_BYTES)
        clear_caches(self);
    Scan scan;
    memset(&scan, 0, sizeof scan);
    scan.times = PyMem_Malloc(((size_t)lines + 1) * sizeof(int64_t));
    scan.names = PyMem_Malloc(MAX_NAMES * sizeof(Name));
    if (!scan.times || !scan.names || keys_sized(&scan.keys, self->keys_hint) < 0) {
        scan_free(&scan);
        buf_free(&ends);
        return PyErr_NoMemory();
    }
    PyObject *result = NULL;
    int32_t line = 0;
    for (const uint8_t *p = data; line < lines; line++) {
        const uint8_t *e = BUF_AT(ends, const uint8_t *, line);
        int64_t when;
        scan.line_keys.len = 0;
        scan.pending.len = 0;
        scan.stamp++;
        int read = read_line(self, &scan, p, e, &when);
        if (read < 0)
            goto done;
        if (read == 0) {
            scan.line_keys.len = 0;
            scan.stamp++;
            if (walk_line(self, &scan, p, e, &when) < 0)
                goto done;
        }
        if (commit_line(&scan, line, when) < 0)
            goto done;
        p = e < end ? e + 1 : end;
    }
    result = grouped(&scan, lines);
    self->keys_hint = BUF_COUNT(scan.counts, uint32_t);
done:
    scan_free(&scan);
    buf_free(&ends);
    return result;
}

static PyObject *
Scanner_scan(Scanner *self, PyObject *arg)
{
    Py_buffer view;
    if (!self->value_keys || !self->values.slots) {
        PyErr_SetString(PyExc_RuntimeError, "keyscan: Scanner.__init__ was not called");
        return NULL;
    }
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (self->busy) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_RuntimeError, "keyscan: a Scanner is not reentrant");
        return NULL;
    }
    self->busy = 1;
    PyObject *result = scan_object(self, (const uint8_t *)view.buf, (size_t)view.len);
    self->busy = 0;
    PyBuffer_Release(&view);
    return result;
}

static PyObject *
Scanner_stats(Scanner *self, PyObject *Py_UNUSED(ignored))
{
    return Py_BuildValue("{s:n,s:n,s:n,s:n}", "values", (Py_ssize_t)self->values.used,
                         "key_bytes", (Py_ssize_t)self->ktext.len, "hits", self->hits,
                         "misses", self->misses);
}

static int
Scanner_init(Scanner *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"value_keys", "username", "micros", "walk", "limit", NULL};
    PyObject *value_keys, *username, *micros, *walk;
    Py_ssize_t limit;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOn", kwlist, &value_keys, &username,
                                     &micros, &walk, &limit))
        return -1;
    if (!PyCallable_Check(value_keys) || !PyCallable_Check(username) ||
        !PyCallable_Check(micros) || !PyCallable_Check(walk)) {
        PyErr_SetString(PyExc_TypeError, "keyscan: the rules must be callable");
        return -1;
    }
    if (limit < 1) {
        PyErr_SetString(PyExc_ValueError, "keyscan: limit must be positive");
        return -1;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "keyscan: a Scanner is not reentrant");
        return -1;
    }
    Py_INCREF(value_keys);
    Py_INCREF(username);
    Py_INCREF(micros);
    Py_INCREF(walk);
    Py_XSETREF(self->value_keys, value_keys);
    Py_XSETREF(self->username, username);
    Py_XSETREF(self->micros, micros);
    Py_XSETREF(self->walk, walk);
    self->limit = limit;
    clear_caches(self);
    if (!self->values.slots && table_grow(&self->values) < 0)
        return -1;
    return 0;
}

static int
Scanner_traverse(Scanner *self, visitproc visit, void *arg)
{
    Py_VISIT(self->value_keys);
    Py_VISIT(self->username);
    Py_VISIT(self->micros);
    Py_VISIT(self->walk);
    return 0;
}

static int
Scanner_clear(Scanner *self)
{
    Py_CLEAR(self->value_keys);
    Py_CLEAR(self->username);
    Py_CLEAR(self->micros);
    Py_CLEAR(self->walk);
    return 0;
}

static void
Scanner_dealloc(Scanner *self)
{
    PyObject_GC_UnTrack(self);
    Scanner_clear(self);
    table_free(&self->values);
    buf_free(&self->ktext);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

#include "_keyscan_index.h"

/* vectors(on) -> bool: whether SSE2 was used before; for the tests (a process-wide switch,
 * the result is the same either way). */
static PyObject *
vectors(PyObject *Py_UNUSED(module), PyObject *arg)
{
    int on = PyObject_IsTrue(arg);
    if (on < 0)
        return NULL;
    int was = VECTORS;
    VECTORS = on;
    return PyBool_FromLong(was);
}

static PyMethodDef module_methods[] = {
    {"vectors", (PyCFunction)vectors, METH_O,
     "vectors(on) -> bool: read strings with SSE2 where built with it (the previous setting)"},
    {"crc32_many", (PyCFunction)(void (*)(void))crc32_many, METH_FASTCALL,
     "crc32_many(data, starts, sizes) -> bytes: zlib.crc32 of each span, as uint32"},
    {"fingerprints", (PyCFunction)(void (*)(void))fingerprints, METH_FASTCALL,
     "fingerprints(data, starts, sizes, ip4, ip6, hashed, bits) -> bytes: the index's "
     "fingerprints of the keys, int64, sorted and distinct"},
    {"count_lines", (PyCFunction)count_lines, METH_O, "count_lines(data) -> int: its newlines"},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef Scanner_methods[] = {
    {"scan", (PyCFunction)Scanner_scan, METH_O,
     "scan(ndjson) -> None (every line for the parser) or (times, key offsets, key text, "
     "list offsets, lines, first, last) as bytes"},
    {"stats", (PyCFunction)Scanner_stats, METH_NOARGS, "cache sizes, hits and misses"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "connector.indicators._keyscan.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Scanner(value_keys, username, micros, walk, limit): the keys of NDJSON objects",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scanner_init,
    .tp_dealloc = (destructor)Scanner_dealloc,
    .tp_traverse = (traverseproc)Scanner_traverse,
    .tp_clear = (inquiry)Scanner_clear,
    .tp_methods = Scanner_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_keyscan", "The keys of landed NDJSON objects in one native pass.",
    -1, module_methods,
};

PyMODINIT_FUNC
PyInit__keyscan(void)
{
    init_classes();
    init_crc();
    SEED = (uint64_t)(uintptr_t)&module ^ 0x2545F4914F6CDD1DULL;
    if (PyType_Ready(&ScannerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    Py_INCREF(&ScannerType);
    if (PyModule_AddObject(m, "Scanner", (PyObject *)&ScannerType) < 0) {
        Py_DECREF(&ScannerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
