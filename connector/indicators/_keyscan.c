/*
 * The keys of a landed object in one native pass (object_keys.py is the Python side).
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
 * Memory: the caches hold at most `limit` values; they are emptied (with the key table)
 * before an object when full. The GIL is held throughout; a Scanner refuses to be
 * entered twice (a callback could let another thread in).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define NO_TIME INT64_MIN
#define MAX_DEPTH 64
#define MAX_NAMES 4096
#define MAX_NUMBER 18

enum { K_DOT = 1, K_COLON = 2, K_AT = 4, K_IP = 8, K_ID = 16, K_STOP = 32, K_ASCII = 64 };
static uint8_t CLASS[256];

static void
init_classes(void)
{
    for (int c = 0; c < 256; c++) {
        uint8_t k = 0;
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
            k |= K_STOP;
        if (c == '.')
            k |= K_DOT;
        if (c == ':')
            k |= K_COLON;
        if (c == '@')
            k |= K_AT;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
            c == ':' || c == '.')
            k |= K_IP;
        if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))
            k |= K_ID;
        if (c < 0x80)
            k |= K_ASCII;
        CLASS[c] = k;
    }
}

/* ---- growable arrays ------------------------------------------------------------ */

typedef struct {
    char *data;
    size_t len, cap; /* in bytes */
} Buf;

static int
buf_reserve(Buf *b, size_t more)
{
    if (more > SIZE_MAX / 2 - b->len) {
        PyErr_NoMemory();
        return -1;
    }
    size_t need = b->len + more;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static int
buf_add(Buf *b, const void *src, size_t n)
{
    if (buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, src, n);
    b->len += n;
    return 0;
}

static void
buf_free(Buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

#define BUF_AT(b, type, i) (((type *)(b).data)[i])
#define BUF_COUNT(b, type) ((b).len / sizeof(type))

/* ---- hash tables over byte strings ----------------------------------------------- */

typedef struct {
    uint64_t hash; /* 0: empty */
    uint32_t off, len;
    uint32_t a, b, c, unused; /* payload */
} Slot;

typedef struct {
    Slot *slots;
    size_t cap, used;
    Buf text;
} Table;

static uint64_t SEED;

static uint64_t
hash_bytes(uint32_t kind, const uint8_t *s, size_t n)
{
    uint64_t h = SEED ^ ((uint64_t)kind << 56) ^ (n * 0x9E3779B97F4A7C15ULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 29;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 32;
    return h ? h : 1;
}

static int
table_grow(Table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    Slot *slots = calloc(cap, sizeof(Slot));
    if (!slots) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        Slot *s = &t->slots[i];
        if (!s->hash)
            continue;
        size_t j = s->hash & (cap - 1);
        while (slots[j].hash)
            j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

/* The slot of (hash, s, n): found (its hash set) or where it would go (hash 0). */
static Slot *
table_find(Table *t, uint64_t hash, const uint8_t *s, size_t n)
{
    size_t j = hash & (t->cap - 1);
    for (;;) {
        Slot *slot = &t->slots[j];
        if (!slot->hash)
            return slot;
        if (slot->hash == hash && slot->len == n && memcmp(t->text.data + slot->off, s, n) == 0)
            return slot;
        j = (j + 1) & (t->cap - 1);
    }
}

/* Adds (s, n) at the empty slot `slot` found by table_find; returns the slot (the table
 * may have grown) or NULL with an exception set. */
static Slot *
table_put(Table *t, Slot *slot, uint64_t hash, const uint8_t *s, size_t n, uint32_t a, uint32_t b,
          uint32_t c)
{
    if (t->text.len + n > UINT32_MAX || n > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "keyscan: too much text in one cache");
        return NULL;
    }
    uint32_t off = (uint32_t)t->text.len;
    if (buf_add(&t->text, s, n) < 0)
        return NULL;
    if ((t->used + 1) * 2 > t->cap) {
        if (table_grow(t) < 0)
            return NULL;
        slot = table_find(t, hash, s, n);
    }
    slot->hash = hash;
    slot->off = off;
    slot->len = (uint32_t)n;
    slot->a = a;
    slot->b = b;
    slot->c = c;
    t->used++;
    return slot;
}

static void
table_clear(Table *t)
{
    if (t->slots)
        memset(t->slots, 0, t->cap * sizeof(Slot));
    t->used = 0;
    t->text.len = 0;
}

static void
table_free(Table *t)
{
    free(t->slots);
    t->slots = NULL;
    t->cap = t->used = 0;
    buf_free(&t->text);
}

/* ---- the scanner ------------------------------------------------------------------- */


typedef struct {
    PyObject_HEAD
    PyObject *value_keys, *username, *micros, *walk;
    Py_ssize_t limit;
    int busy;
    Table values; /* value (kind 0) or user name (kind 1) -> its keys: ktext[a:a+b], c of them */
    Buf ktext;    /* the cached values' keys: (uint32 length, text) each */
    Py_ssize_t hits, misses;
} Scanner;

typedef struct {
    const uint8_t *s;
    size_t n;
    unsigned any; /* K_DOT, K_COLON, K_AT: which of them it holds */
    unsigned all; /* K_ASCII when every byte is ASCII */
} Str;

/* Whether every byte of a string is of class `k`. */
static int
all_are(const Str *v, uint8_t k)
{
    for (size_t i = 0; i < v->n; i++)
        if (!(CLASS[v->s[i]] & k))
            return 0;
    return 1;
}

/* A value to look up, its slot prefetched: a line's lookups wait for memory together. */
typedef struct {
    Str v;
    uint64_t hash;
    uint32_t kind;
} Lookup;

/* One object's scan: its keys (local ids in order of appearance), the keys of the line
 * being read, then the (key, line) pairs. */
typedef struct {
    Table keys;    /* key text -> its local id (a) */
    Buf key_at;    /* uint32 offset and length of each local id's text in keys.text */
    Buf counts;    /* uint32 lines holding each local id */
    Buf seen;      /* uint32 per local id: the stamp of the line it was last added on */
    uint32_t stamp;
    Buf line_keys; /* uint32 local ids of the line being read */
    Buf pending;   /* Lookup: the line's cached values, looked up once it is read */
    Buf pairs;     /* (uint32 local id, int32 line) */
    int64_t *times;
    Str *names;    /* member names of the objects open on the line being read */
} Scan;

static void
scan_free(Scan *s)
{
    table_free(&s->keys);
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

/* Adds a key (UTF-8 text) to the line being read, once a line. */
static int
line_add(Scan *scan, const char *text, size_t n)
{
    uint64_t hash = hash_bytes(2, (const uint8_t *)text, n);
    Slot *slot = table_find(&scan->keys, hash, (const uint8_t *)text, n);
    if (!slot->hash) {
        size_t id = BUF_COUNT(scan->counts, uint32_t);
        if (id >= INT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "keyscan: too many keys in one object");
            return -1;
        }
        slot = table_put(&scan->keys, slot, hash, (const uint8_t *)text, n, (uint32_t)id, 0, 0);
        if (!slot)
            return -1;
        uint32_t at[2] = {slot->off, slot->len}, zero = 0;
        if (buf_add(&scan->key_at, at, sizeof at) < 0 ||
            buf_add(&scan->counts, &zero, sizeof zero) < 0 ||
            buf_add(&scan->seen, &zero, sizeof zero) < 0)
            return -1;
    }
    uint32_t id = slot->a;
    uint32_t *seen = &BUF_AT(scan->seen, uint32_t, id);
    if (*seen == scan->stamp)
        return 0;
    *seen = scan->stamp;
    return buf_add(&scan->line_keys, &id, sizeof id);
}

/* Adds a key given as a str. */
static int
line_add_str(Scan *scan, PyObject *key)
{
    if (!PyUnicode_Check(key)) {
        PyErr_SetString(PyExc_TypeError, "keyscan: a key must be a str");
        return -1;
    }
    Py_ssize_t n;
    const char *text = PyUnicode_AsUTF8AndSize(key, &n);
    if (!text)
        return -1;
    return line_add(scan, text, (size_t)n);
}

#define SHAPED 256


/* Dotted decimal as `ipaddress` reads an IPv4 address: four octets of 1-3 ASCII digits,
 * no leading zero, at most 255. */
static int
ipv4(const uint8_t *s, size_t n, uint32_t *address)
{
    uint32_t a = 0;
    size_t i = 0;
    if (n < 7 || n > 15)
        return 0;
    for (int part = 0; part < 4; part++) {
        size_t start = i;
        uint32_t octet = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 3)
            octet = octet * 10 + (uint32_t)(s[i++] - '0');
        size_t len = i - start;
        if (len == 0 || (len > 1 && s[start] == '0') || octet > 255)
            return 0;
        a = a << 8 | octet;
        if (part < 3) {
            if (i >= n || s[i] != '.')
                return 0;
            i++;
        }
    }
    if (i != n)
        return 0;
    *address = a;
    return 1;
}

static uint8_t
fold(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static int
alnum(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Whether ASCII text, folded, is `match.DOMAIN_NAME` and at most 253 bytes (`match._DOMAIN`):
 * labels of 1-63 bytes joined by `.`, at least two; a label is [a-z0-9_] first, [a-z0-9]
 * last (when longer than one), [a-z0-9_-] between; the last label starts with [a-z] and
 * has no `_`. */
static int
domain_name(const uint8_t *s, size_t n)
{
    if (n < 1 || n > 253)
        return 0;
    size_t start = 0, labels = 0;
    for (;;) {
        size_t end = start;
        while (end < n && s[end] != '.')
            end++;
        size_t len = end - start;
        int last = end == n;
        if (len < 1 || len > 63)
            return 0;
        uint8_t first = fold(s[start]), final = fold(s[end - 1]);
        if (last ? !(first >= 'a' && first <= 'z') : !(alnum(first) || first == '_'))
            return 0;
        if (len > 1 && !alnum(final))
            return 0;
        for (size_t i = start + 1; i + 1 < end; i++) {
            uint8_t c = fold(s[i]);
            if (!(alnum(c) || c == '-' || (c == '_' && !last)))
                return 0;
        }
        labels++;
        if (last)
            return labels >= 2;
        start = end + 1;
    }
}

/* The keys of the commonest shapes, whose keys follow from `keys.value_keys` with no case
 * left open (shapes.py says why for each), written to `out` as `count` keys of `size`
 * bytes; -1 for any other value (then the Python rule decides). Only ASCII values of at
 * most SHAPED bytes:
 * - a Slack id: only `uid:` (it has no `.`, `:` or `@`);
 * - an IPv4 address in dotted decimal: only `ip4:` (no `@`, `:` or `://`, and
 *   `match.is_domain` refuses all-digit labels);
 * - dotted (a `.`, no `:` or `@`, not IPv4): only `dom:` of the folded value less one
 *   final `.`, when that is a domain name, else none;
 * - one `@`, no `:`, no space, a local part, and a domain name after the `@`: `email:`
 *   of the folded value and `dom:` of the folded domain (`match.is_email`, `domain_of`). */
static int
shaped_keys(const Str *v, char out[2][SHAPED + 8], size_t size[2])
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = v->s;
    size_t n = v->n;
    if (n > SHAPED || !(v->all & K_ASCII))
        return -1;
    if (n >= 7 && (s[0] == 'U' || s[0] == 'W' || s[0] == 'B') && all_are(v, K_ID)) {
        memcpy(out[0], "uid:", 4);
        memcpy(out[0] + 4, s, n);
        size[0] = n + 4;
        return 1;
    }
    if (v->any & K_COLON)
        return -1;
    uint32_t address;
    if (!(v->any & K_AT) && (v->any & K_DOT)) {
        if (ipv4(s, n, &address)) {
            memcpy(out[0], "ip4:", 4);
            for (int i = 0; i < 8; i++)
                out[0][4 + i] = hex[(address >> (28 - 4 * i)) & 0xF];
            size[0] = 12;
            return 1;
        }
        size_t len = n - (s[n - 1] == '.');
        if (!domain_name(s, len))
            return 0;
        memcpy(out[0], "dom:", 4);
        for (size_t i = 0; i < len; i++)
            out[0][4 + i] = (char)fold(s[i]);
        size[0] = len + 4;
        return 1;
    }
    if (!(v->any & K_AT))
        return -1;
    size_t at = n;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ')
            return -1;
        if (s[i] == '@') {
            if (at != n)
                return -1;
            at = i;
        }
    }
    if (at == 0 || !domain_name(s + at + 1, n - at - 1))
        return -1;
    memcpy(out[0], "email:", 6);
    for (size_t i = 0; i < n; i++)
        out[0][6 + i] = (char)fold(s[i]);
    size[0] = n + 6;
    memcpy(out[1], "dom:", 4);
    for (size_t i = at + 1; i < n; i++)
        out[1][4 + i - at - 1] = (char)fold(s[i]);
    size[1] = n - at - 1 + 4;
    return 2;
}

/* The cached key ids of a value (kind 0) or user name (kind 1), keyed on a miss by its shape or by Python. */

/* Appends a key to the cache's key records. */
static int
record(Scanner *self, PyObject *key)
{
    if (!PyUnicode_Check(key)) {
        PyErr_SetString(PyExc_TypeError, "keyscan: a key must be a str");
        return -1;
    }
    Py_ssize_t n;
    const char *text = PyUnicode_AsUTF8AndSize(key, &n);
    if (!text)
        return -1;
    if ((size_t)n > UINT32_MAX - 4 - self->ktext.len) {
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

static int
keyless(const Str *v)
{
    if (v->n == 0)
        return 1;
    if (!(v->any & (K_DOT | K_COLON | K_AT))) {
        uint8_t first = v->s[0];
        int id = (first == 'U' || first == 'W' || first == 'B') && v->n >= 7 && all_are(v, K_ID);
        return !id;
    }
    if ((v->any & K_COLON) && !(v->any & K_AT)) {
        if (v->n >= 2 && v->n <= 45 && all_are(v, K_IP))
            return 0;
        for (size_t i = 0; i + 3 <= v->n; i++)
            if (v->s[i] == ':' && v->s[i + 1] == '/' && v->s[i + 2] == '/')
                return 0;
        return 1;
    }
    return 0;
}

/* ---- reading JSON ------------------------------------------------------------------ */

/* Past one UTF-8 sequence starting at a byte >= 0x80, as Python's strict decoder reads
 * it (no overlong forms, no surrogates, at most U+10FFFF); NULL when invalid. */
static const uint8_t *
utf8_next(const uint8_t *p, const uint8_t *e)
{
    uint8_t c = p[0];
    if (c >= 0xC2 && c <= 0xDF) {
        if (e - p < 2 || (p[1] & 0xC0) != 0x80)
            return NULL;
        return p + 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        uint8_t lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        if (e - p < 3 || p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80)
            return NULL;
        return p + 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        uint8_t lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        if (e - p < 4 || p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 ||
            (p[3] & 0xC0) != 0x80)
            return NULL;
        return p + 4;
    }
    return NULL;
}

/* A string without escapes whose opening quote is before `p`; past its closing quote,
 * or NULL (an escape, a control character, invalid UTF-8, no closing quote). Sixteen
 * bytes at a time with SSE2 while the line has them (never past the line's end). */
static const uint8_t *
read_string(const uint8_t *p, const uint8_t *e, Str *out)
{
    const uint8_t *s = p;
    unsigned any = 0, ascii = K_ASCII;
    for (;;) {
#ifdef __SSE2__
        while (e - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            /* signed: < 0x20 is a control character or a byte >= 0x80 */
            __m128i stop = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
            unsigned stops = (unsigned)_mm_movemask_epi8(stop);
            unsigned before = stops ? (1u << __builtin_ctz(stops)) - 1 : 0xFFFFu;
            if ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('.'))) & before)
                any |= K_DOT;
            if ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(':'))) & before)
                any |= K_COLON;
            if ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('@'))) & before)
                any |= K_AT;
            if (!stops) {
                p += 16;
                continue;
            }
            p += __builtin_ctz(stops);
            break;
        }
#endif
        if (p >= e)
            return NULL;
        uint8_t c = *p, k = CLASS[c];
        if (!(k & K_STOP)) {
            any |= k;
            p++;
            continue;
        }
        if (c == '"') {
            out->s = s;
            out->n = (size_t)(p - s);
            out->any = any & (K_DOT | K_COLON | K_AT);
            out->all = ascii;
            return p + 1;
        }
        if (c < 0x80)
            return NULL;
        p = utf8_next(p, e);
        if (!p)
            return NULL;
        ascii = 0;
    }
}

static int
is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* A JSON number (at most MAX_NUMBER bytes, an exponent of at most two digits, so it
 * is finite as a double); past it, or NULL. */
static const uint8_t *
read_number(const uint8_t *p, const uint8_t *e)
{
    const uint8_t *s = p;
    if (p < e && *p == '-')
        p++;
    if (p >= e)
        return NULL;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (p < e && is_digit(*p))
            p++;
    else
        return NULL;
    if (p < e && *p == '.') {
        const uint8_t *d = ++p;
        while (p < e && is_digit(*p))
            p++;
        if (p == d)
            return NULL;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        const uint8_t *d = p;
        while (p < e && is_digit(*p))
            p++;
        if (p == d || p - d > 2)
            return NULL;
    }
    return p - s > MAX_NUMBER ? NULL : p;
}

static const uint8_t *
read_literal(const uint8_t *p, const uint8_t *e)
{
    static const char *words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(e - p) >= n && memcmp(p, words[i], n) == 0)
            return p + n;
    }
    return NULL;
}

static int
days_in_month(int64_t year, int64_t month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return days[month - 1] + (month == 2 && leap);
}

/* `YYYY-MM-DDTHH:MM:SSZ` on a day that exists, year 1-9999 (object_keys.WHOLE_SECOND),
 * as µs since the epoch (H. Hinnant's days_from_civil); NO_TIME for any other text. */
static int64_t
whole_second(const uint8_t *s, size_t n)
{
    static const int digit_at[] = {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18};
    if (n != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != 'Z')
        return NO_TIME;
    for (int i = 0; i < 14; i++)
        if (!is_digit(s[digit_at[i]]))
            return NO_TIME;
#define NUM2(i) ((int64_t)(s[i] - '0') * 10 + (s[(i) + 1] - '0'))
    int64_t year = NUM2(0) * 100 + NUM2(2), month = NUM2(5), day = NUM2(8);
    int64_t hour = NUM2(11), minute = NUM2(14), second = NUM2(17);
#undef NUM2
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
        hour > 23 || minute > 59 || second > 59)
        return NO_TIME;
    int64_t y = year - (month <= 2);
    int64_t era = y / 400, of_era = y % 400;
    int64_t of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    int64_t days = era * 146097 + of_era * 365 + of_era / 4 - of_era / 100 + of_year - 719468;
    return ((days * 86400) + hour * 3600 + minute * 60 + second) * 1000000;
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
} Frame;

/* Reads one line: 1 read (its time in *when, NO_TIME when it has none), 0 when it is
 * for the Python walk, -1 with an exception. */
static int
read_line(Scanner *self, Scan *scan, const uint8_t *p, const uint8_t *e, int64_t *when)
{
    Str *names = scan->names;
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
            p = read_string(p + 1, e, &name);
            if (!p || p >= e || *p != ':' || count >= MAX_NAMES)
                return 0;
            for (int i = f->names; i < count; i++)
                if (names[i].n == name.n && memcmp(names[i].s, name.s, name.n) == 0)
                    return 0;
            names[count++] = name;
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
    if (memchr(data, '\r', size))
        Py_RETURN_NONE;
    for (const uint8_t *p = data; p < end;) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == p)
            Py_RETURN_NONE; /* an empty line: for the parser, which refuses it */
        lines++;
        p = nl ? nl + 1 : end;
    }
    if (lines > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "keyscan: too many lines");
        return NULL;
    }
    if ((Py_ssize_t)self->values.used >= self->limit)
        clear_caches(self);
    Scan scan;
    memset(&scan, 0, sizeof scan);
    scan.times = PyMem_Malloc(((size_t)lines + 1) * sizeof(int64_t));
    scan.names = PyMem_Malloc(MAX_NAMES * sizeof(Str));
    if (!scan.times || !scan.names || table_grow(&scan.keys) < 0) {
        scan_free(&scan);
        return PyErr_NoMemory();
    }
    PyObject *result = NULL;
    int32_t line = 0;
    for (const uint8_t *p = data; p < end; line++) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *e = nl ? nl : end;
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
        p = nl ? nl + 1 : end;
    }
    result = grouped(&scan, lines);
done:
    scan_free(&scan);
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

/* ---- CRC-32 ------------------------------------------------------------------------ */

static uint32_t CRC[256];

static void
init_crc(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        CRC[i] = c;
    }
}

static uint32_t
crc32_of(const uint8_t *p, int64_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (int64_t j = 0; j < n; j++)
        c = CRC[(c ^ p[j]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* The buffers of (data, starts, sizes): spans of int64 starts and sizes, each inside
 * the data; 0, or -1 with an exception (and nothing held). */
typedef struct {
    Py_buffer data, starts, sizes;
    Py_ssize_t count;
} Spans;

static int
get_spans(PyObject *const *args, Spans *out)
{
    if (PyObject_GetBuffer(args[0], &out->data, PyBUF_SIMPLE) < 0)
        return -1;
    if (PyObject_GetBuffer(args[1], &out->starts, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&out->data);
        return -1;
    }
    if (PyObject_GetBuffer(args[2], &out->sizes, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&out->data);
        PyBuffer_Release(&out->starts);
        return -1;
    }
    out->count = out->starts.len / (Py_ssize_t)sizeof(int64_t);
    const int64_t *start = out->starts.buf, *size = out->sizes.buf;
    const char *error = NULL;
    if (out->starts.len % sizeof(int64_t) || out->sizes.len != out->starts.len)
        error = "keyscan: starts and sizes are int64, as many";
    for (Py_ssize_t i = 0; !error && i < out->count; i++)
        if (start[i] < 0 || size[i] < 0 || start[i] > out->data.len - size[i])
            error = "keyscan: a span outside the data";
    if (error) {
        PyErr_SetString(PyExc_ValueError, error);
        PyBuffer_Release(&out->data);
        PyBuffer_Release(&out->starts);
        PyBuffer_Release(&out->sizes);
        return -1;
    }
    return 0;
}

static void
release_spans(Spans *spans)
{
    PyBuffer_Release(&spans->data);
    PyBuffer_Release(&spans->starts);
    PyBuffer_Release(&spans->sizes);
}

/* crc32_many(data, starts, sizes) -> bytes: zlib's CRC-32 of each data[start:start+size]
 * (starts and sizes int64), as uint32. */
static PyObject *
crc32_many(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    Spans spans;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "crc32_many(data, starts, sizes)");
        return NULL;
    }
    if (get_spans(args, &spans) < 0)
        return NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, spans.count * (Py_ssize_t)sizeof(uint32_t));
    if (out) {
        uint32_t *crc = (uint32_t *)PyBytes_AS_STRING(out);
        const int64_t *start = spans.starts.buf, *size = spans.sizes.buf;
        for (Py_ssize_t i = 0; i < spans.count; i++)
            crc[i] = crc32_of((const uint8_t *)spans.data.buf + start[i], size[i]);
    }
    release_spans(&spans);
    return out;
}

/* Sorts n non-negative values (least significant 11 bits first; qsort's calls to a
 * comparison cost more than the CRCs); `tmp` holds n. */
static void
radix_sort(int64_t *values, int64_t *tmp, Py_ssize_t n)
{
    int64_t most = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        most |= values[i];
    for (int shift = 0; shift < 63 && (most >> shift); shift += 11) {
        Py_ssize_t count[2049] = {0};
        for (Py_ssize_t i = 0; i < n; i++)
            count[((values[i] >> shift) & 2047) + 1]++;
        for (int d = 0; d < 2048; d++)
            count[d + 1] += count[d];
        for (Py_ssize_t i = 0; i < n; i++)
            tmp[count[(values[i] >> shift) & 2047]++] = values[i];
        memcpy(values, tmp, (size_t)n * sizeof(int64_t));
    }
}

/* fingerprints(data, starts, sizes, ip4, ip6, hashed, bits) -> bytes: search/index.py's
 * `_fingerprints` of the keys data[start:start+size] (int64, sorted, distinct): an
 * `ip4:` key is ip4 | its 8 hex digits, any other key hashed | its CRC-32's top `bits`
 * bits, and an `ip6:` key also ip6 | its first 8 hex digits. */
static PyObject *
fingerprints(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    static int8_t hex[256];
    Spans spans;
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "fingerprints(data, starts, sizes, ip4, ip6, hashed, bits)");
        return NULL;
    }
    int64_t tag[3];
    for (int i = 0; i < 3; i++)
        if ((tag[i] = PyLong_AsLongLong(args[3 + i])) == -1 && PyErr_Occurred())
            return NULL;
    long bits = PyLong_AsLong(args[6]);
    if (bits == -1 && PyErr_Occurred())
        return NULL;
    if (bits < 1 || bits > 32) {
        PyErr_SetString(PyExc_ValueError, "fingerprints: bits is 1-32");
        return NULL;
    }
    if (!hex['1'])
        for (int c = 0; c < 16; c++)
            hex[(uint8_t)"0123456789abcdef"[c]] = (int8_t)c;
    if (get_spans(args, &spans) < 0)
        return NULL;
    PyObject *result = NULL;
    int64_t *out = PyMem_Malloc(((size_t)spans.count * 4 + 1) * sizeof(int64_t));
    if (!out) {
        PyErr_NoMemory();
        goto done;
    }
    const int64_t *start = spans.starts.buf, *size = spans.sizes.buf;
    const uint8_t *data = spans.data.buf;
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < spans.count; i++) {
        const uint8_t *p = data + start[i];
        int ip4 = size[i] >= 4 && memcmp(p, "ip4:", 4) == 0;
        int ip6 = size[i] >= 4 && memcmp(p, "ip6:", 4) == 0;
        if (!ip4)
            out[n++] = tag[2] | (int64_t)(crc32_of(p, size[i]) >> (32 - bits));
        if (ip4 || ip6) {
            if (size[i] < 12) {
                PyErr_SetString(PyExc_ValueError, "fingerprints: an address key without 8 digits");
                goto done;
            }
            int64_t value = 0;
            for (int j = 4; j < 12; j++)
                value = value << 4 | hex[p[j]];
            out[n++] = tag[ip4 ? 0 : 1] | value;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (out[i] < 0) {
            PyErr_SetString(PyExc_ValueError, "fingerprints: a negative tag");
            goto done;
        }
    }
    radix_sort(out, out + 2 * spans.count, n);
    Py_ssize_t kept = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (!kept || out[i] != out[kept - 1])
            out[kept++] = out[i];
    result = PyBytes_FromStringAndSize((const char *)out, kept * (Py_ssize_t)sizeof(int64_t));
done:
    PyMem_Free(out);
    release_spans(&spans);
    return result;
}

/* count_lines(data) -> int: how many b"\n" it holds (memchr, not a byte at a time). */
static PyObject *
count_lines(PyObject *Py_UNUSED(module), PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const char *p = view.buf, *end = p + view.len;
    Py_ssize_t count = 0;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
        count++;
        p++;
    }
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(count);
}

static PyMethodDef module_methods[] = {
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
