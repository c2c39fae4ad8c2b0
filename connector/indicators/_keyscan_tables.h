/* Growable buffers and hash tables over byte strings.
 * Part of _keyscan.c (one translation unit: every function stays static). */
#ifndef KEYSCAN_TABLES_H
#define KEYSCAN_TABLES_H

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
    for (size_t i = 0; i < n; i++) /* not memcpy: a call for a variable length */
        w |= (uint64_t)s[i] << (8 * i);
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

/* An object's keys: the low 32 bits of each key's hash and its local id + 1 (0: empty),
 * eight bytes a slot, so ~7,000 keys' table stays in the L2 cache (with 32-byte `Slot`s a
 * third of adding a key was waiting for its slot); the text and where each key's is are
 * the scan's. */
typedef struct {
    uint32_t tag, id1;
} KeySlot;

typedef struct {
    KeySlot *slots;
    size_t cap, used;
    Buf text;
} KeyTable;

static int
keys_resize(KeyTable *t, size_t cap)
{
    KeySlot *slots = calloc(cap, sizeof(KeySlot));
    if (!slots) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        KeySlot s = t->slots[i];
        if (!s.id1)
            continue;
        size_t j = s.tag & (cap - 1);
        while (slots[j].id1)
            j = (j + 1) & (cap - 1);
        slots[j] = s;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

/* An empty key table that holds `entries` without growing (regrowing it four times an
 * object was 2 % of the scan); at most 2^20 slots reserved ahead. */
static int
keys_sized(KeyTable *t, size_t entries)
{
    size_t cap = 1024;
    while (cap < 2 * (entries + 1) && cap < ((size_t)1 << 20))
        cap *= 2;
    return keys_resize(t, cap);
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

#endif
