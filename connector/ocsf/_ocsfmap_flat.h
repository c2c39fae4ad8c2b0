/* One landed line read into the flat record `event.Record` makes of it: dotted paths
 * to values, the connector's `p_*` members left out. Only lines exactly as orjson
 * writes them are read (no white space, no escape, no fraction or exponent, no member
 * name with a dot or given twice in one object, no object inside an array): for them
 * the JSON text of a value is what `orjson.dumps` gives back, so `unmapped` can take
 * it as it stands. Any other line goes to the Python mapper. Part of _ocsfmap.c. */
#ifndef OCSFMAP_FLAT_H
#define OCSFMAP_FLAT_H

#define MAX_FIELDS 512
#define HSLOTS 1024
#define PATHBUF 32768
#define MAX_DEPTH 32
#define MAX_MEMBERS 64
#define MAX_DIGITS 18

typedef struct {
    const uint8_t *p;
    uint32_t n;
} Span;

enum { J_STR = 1, J_INT, J_TRUE, J_FALSE, J_NULL, J_OBJ0, J_ARR };

typedef struct {
    Span path;
    Span val; /* a string's text without its quotes, else the value's JSON text */
    int64_t i;
    uint32_t h;
    uint8_t kind;
    uint8_t taken;
} Field;

typedef struct {
    Field f[MAX_FIELDS];
    int n;
    int16_t slot[HSLOTS];
    uint8_t buf[PATHBUF];
    size_t used;
    uint8_t key[PATHBUF]; /* a path made to look one up */
    Span log_type, row_id; /* top-level p_log_type and p_row_id, when strings */
    int has_log_type, has_row_id;
} Flat;

typedef struct {
    const uint8_t *p, *e;
} Cur;

static uint32_t
fnv(uint32_t h, const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 16777619u;
    return h;
}
#define FNV0 2166136261u

#include "../_utf8.h"

/* A string at `c->p` (its opening quote): its text, without escapes or control bytes.
 * Sixteen bytes at a time with SSE2 (x86-64's baseline) up to the first byte that is a
 * quote, a backslash, a control byte or not ASCII; byte by byte from there. */
static int
read_str(Cur *c, Span *out)
{
    const uint8_t *p = c->p + 1, *e = c->e, *s = p;
#ifdef __SSE2__
    while (e - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                                 _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                                    _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
        unsigned stops = (unsigned)_mm_movemask_epi8(stop);
        if (stops) {
            p += __builtin_ctz(stops);
            break;
        }
        p += 16;
    }
#endif
    while (p < e) {
        uint8_t b = *p;
        if (b == '"') {
            out->p = s;
            out->n = (uint32_t)(p - s);
            c->p = p + 1;
            return 1;
        }
        if (b == '\\' || b < 0x20)
            return 0;
        if (b >= 0x80) {
            p = utf8_next(p, e);
            if (!p)
                return 0;
        } else
            p++;
    }
    return 0;
}

/* An integer as orjson writes one (no fraction, exponent or leading zero), at most
 * MAX_DIGITS digits. */
static int
read_int(Cur *c, int64_t *out)
{
    const uint8_t *p = c->p, *e = c->e;
    int neg = p < e && *p == '-';
    p += neg;
    const uint8_t *d = p;
    int64_t v = 0;
    while (p < e && *p >= '0' && *p <= '9') {
        if (p - d < MAX_DIGITS)
            v = v * 10 + (*p - '0');
        p++;
    }
    size_t n = (size_t)(p - d);
    if (n == 0 || n > MAX_DIGITS || (n > 1 && *d == '0') || (neg && n == 1 && *d == '0'))
        return 0;
    if (p < e && (*p == '.' || *p == 'e' || *p == 'E'))
        return 0;
    *out = neg ? -v : v;
    c->p = p;
    return 1;
}

static int
read_word(Cur *c, const char *w, size_t n)
{
    if ((size_t)(c->e - c->p) < n || memcmp(c->p, w, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

/* Any value but an object inside an array, only checked (an array's elements, or a
 * connector's `p_*` member when `objects`). */
static int
skip_value(Cur *c, int depth, int objects)
{
    Span s;
    int64_t i;
    if (depth > MAX_DEPTH || c->p >= c->e)
        return 0;
    switch (*c->p) {
    case '"':
        return read_str(c, &s);
    case 't':
        return read_word(c, "true", 4);
    case 'f':
        return read_word(c, "false", 5);
    case 'n':
        return read_word(c, "null", 4);
    case '[':
        c->p++;
        if (c->p < c->e && *c->p == ']') {
            c->p++;
            return 1;
        }
        for (;;) {
            if (!skip_value(c, depth + 1, 0) || c->p >= c->e)
                return 0;
            if (*c->p == ']') {
                c->p++;
                return 1;
            }
            if (*c->p++ != ',')
                return 0;
        }
    case '{':
        if (!objects)
            return 0;
        c->p++;
        if (c->p < c->e && *c->p == '}') {
            c->p++;
            return 1;
        }
        for (;;) {
            if (c->p >= c->e || *c->p != '"' || !read_str(c, &s) || c->p >= c->e ||
                *c->p++ != ':' || !skip_value(c, depth + 1, 1) || c->p >= c->e)
                return 0;
            if (*c->p == '}') {
                c->p++;
                return 1;
            }
            if (*c->p++ != ',')
                return 0;
        }
    default:
        return read_int(c, &i);
    }
}

static Field *
find(Flat *F, const char *path, size_t n, uint32_t h)
{
    for (uint32_t k = h & (HSLOTS - 1);; k = (k + 1) & (HSLOTS - 1)) {
        int16_t at = F->slot[k];
        if (at < 0)
            return NULL;
        Field *f = &F->f[at];
        if (f->h == h && f->path.n == n && memcmp(f->path.p, path, n) == 0)
            return f;
    }
}

/* The field at `path` (NULL when absent). The paths asked for are the mappers' string
 * constants, so each one's length and hash are remembered by its address. */
static Field *
get(Flat *F, const char *path)
{
    static struct {
        const char *path;
        size_t n;
        uint32_t h;
    } known[128];
    size_t k = ((uintptr_t)path >> 3) & 127;
    if (known[k].path != path) {
        known[k].n = strlen(path);
        known[k].h = fnv(FNV0, (const uint8_t *)path, known[k].n);
        known[k].path = path;
    }
    return find(F, path, known[k].n, known[k].h);
}

static Field *
add_field(Flat *F, const uint8_t *path, size_t n, uint32_t h, uint8_t kind)
{
    if (F->n >= MAX_FIELDS)
        return NULL;
    uint32_t k = h & (HSLOTS - 1);
    while (F->slot[k] >= 0)
        k = (k + 1) & (HSLOTS - 1);
    Field *f = &F->f[F->n];
    F->slot[k] = (int16_t)F->n++;
    f->path.p = path;
    f->path.n = (uint32_t)n;
    f->h = h;
    f->kind = kind;
    f->taken = 0;
    return f;
}

/* The members of the object at `c->p` (past its `{`, not empty), under `prefix` (NULL
 * for the row's own: an object under the empty name "" has paths that start with ".",
 * as `event._level` makes them). */
static int
read_members(Cur *c, Flat *F, const uint8_t *prefix, size_t plen, uint32_t ph, int depth)
{
    Span names[MAX_MEMBERS];
    int count = 0, top = prefix == NULL;
    if (depth > MAX_DEPTH)
        return 0;
    for (;;) {
        Span name;
        if (c->p >= c->e || *c->p != '"' || !read_str(c, &name) || c->p >= c->e ||
            *c->p++ != ':' || c->p >= c->e || count == MAX_MEMBERS ||
            memchr(name.p, '.', name.n))
            return 0;
        for (int k = 0; k < count; k++)
            if (names[k].n == name.n && memcmp(names[k].p, name.p, name.n) == 0)
                return 0;
        names[count++] = name;
        if (top && name.n >= 2 && name.p[0] == 'p' && name.p[1] == '_') {
            const uint8_t *at = c->p;
            if (!skip_value(c, depth + 1, 1))
                return 0;
            Span *keep = NULL;
            int *has = NULL;
            if (name.n == 10 && memcmp(name.p, "p_log_type", 10) == 0)
                keep = &F->log_type, has = &F->has_log_type;
            else if (name.n == 8 && memcmp(name.p, "p_row_id", 8) == 0)
                keep = &F->row_id, has = &F->has_row_id;
            if (keep && *at == '"') {
                keep->p = at + 1;
                keep->n = (uint32_t)(c->p - at - 2);
                *has = 1;
            }
        } else {
            size_t n = plen + !top + name.n;
            if (F->used + n > PATHBUF)
                return 0;
            uint8_t *path = F->buf + F->used;
            uint32_t h = ph;
            if (!top) {
                memcpy(path, prefix, plen);
                path[plen] = '.';
                h = fnv(h, (const uint8_t *)".", 1);
            }
            memcpy(path + n - name.n, name.p, name.n);
            h = fnv(h, name.p, name.n);
            F->used += n;
            const uint8_t *at = c->p;
            uint8_t kind;
            Field *f;
            switch (*at) {
            case '{':
                if (at + 1 < c->e && at[1] == '}') {
                    c->p += 2;
                    kind = J_OBJ0;
                    break;
                }
                c->p++;
                if (!read_members(c, F, path, n, h, depth + 1))
                    return 0;
                goto next;
            case '"':
                if (!(f = add_field(F, path, n, h, J_STR)) || !read_str(c, &f->val))
                    return 0;
                goto next;
            case '[':
                kind = J_ARR;
                if (!skip_value(c, depth + 1, 0))
                    return 0;
                break;
            case 't':
                kind = J_TRUE;
                if (!read_word(c, "true", 4))
                    return 0;
                break;
            case 'f':
                kind = J_FALSE;
                if (!read_word(c, "false", 5))
                    return 0;
                break;
            case 'n':
                kind = J_NULL;
                if (!read_word(c, "null", 4))
                    return 0;
                break;
            default:
                if (!(f = add_field(F, path, n, h, J_INT)) || !read_int(c, &f->i))
                    return 0;
                f->val.p = at;
                f->val.n = (uint32_t)(c->p - at);
                goto next;
            }
            if (!(f = add_field(F, path, n, h, kind)))
                return 0;
            f->val.p = at;
            f->val.n = (uint32_t)(c->p - at);
        }
    next:
        if (c->p >= c->e)
            return 0;
        if (*c->p == '}') {
            c->p++;
            return 1;
        }
        if (*c->p++ != ',')
            return 0;
    }
}

/* The line read into `F`; 0 when it is not exactly as orjson writes a row. */
static int
read_line(Flat *F, const uint8_t *p, const uint8_t *e)
{
    F->n = 0;
    F->used = 0;
    F->has_log_type = F->has_row_id = 0;
    memset(F->slot, 0xFF, sizeof F->slot);
    Cur c = {p, e};
    if (e - p < 3 || *p != '{' || p[1] == '}')
        return 0;
    c.p++;
    return read_members(&c, F, NULL, 0, FNV0, 0) && c.p == e;
}

#endif
