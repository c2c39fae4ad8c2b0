/* One event's values (`Ev`, by leaf of the classes' Arrow schemas) and the columns of a
 * class they are appended to, in Arrow's layout, so Python makes the record batch from
 * the buffers without one Python object per value. Part of _ocsfmap.c. */
#ifndef OCSFMAP_COLS_H
#define OCSFMAP_COLS_H

#define LEAVES(X)                                                                          \
    X(ACTIVITY_ID, "activity_id") X(ACTIVITY_NAME, "activity_name")                        \
    X(CATEGORY_UID, "category_uid") X(CATEGORY_NAME, "category_name")                      \
    X(CLASS_UID, "class_uid") X(CLASS_NAME, "class_name") X(TYPE_UID, "type_uid")          \
    X(TYPE_NAME, "type_name") X(SEVERITY_ID, "severity_id") X(SEVERITY, "severity")        \
    X(STATUS_ID, "status_id") X(STATUS, "status") X(TIME, "time") X(MESSAGE, "message")    \
    X(MD_UID, "metadata.uid") X(MD_VERSION, "metadata.version")                            \
    X(MD_PRODUCT, "metadata.product.name") X(MD_VENDOR, "metadata.product.vendor_name")    \
    X(MD_FEATURE, "metadata.product.feature.name") X(MD_LOG_NAME, "metadata.log_name")     \
    X(MD_EVENT_CODE, "metadata.event_code") X(MD_TENANT, "metadata.tenant_uid")            \
    X(MD_PROFILES, "metadata.profiles") X(UNMAPPED, "unmapped")                            \
    X(AU_UID, "actor.user.uid") X(AU_NAME, "actor.user.name")                              \
    X(AU_EMAIL, "actor.user.email_addr") X(AU_TYPE_ID, "actor.user.type_id")               \
    X(AU_TYPE, "actor.user.type") X(AU_ORG, "actor.user.org.uid")                          \
    X(A_SESSION, "actor.session.uid") X(U_UID, "user.uid") X(U_NAME, "user.name")          \
    X(U_EMAIL, "user.email_addr") X(U_TYPE_ID, "user.type_id") X(U_TYPE, "user.type")      \
    X(U_ORG, "user.org.uid") X(SESSION, "session.uid") X(SRC_IP, "src_endpoint.ip")        \
    X(LOC_DESC, "src_endpoint.location.desc") X(LOC_COUNTRY, "src_endpoint.location.country") \
    X(LOC_REGION, "src_endpoint.location.region") X(LOC_ISP, "src_endpoint.location.isp")  \
    X(UA, "http_request.user_agent") X(SERVICE, "service.name") X(COUNT, "count")          \
    X(START, "start_time") X(END, "end_time") X(PRIVILEGES, "privileges")                  \
    X(G_UID, "group.uid") X(G_NAME, "group.name") X(G_TYPE, "group.type")                  \
    X(E_UID, "entity.uid") X(E_NAME, "entity.name") X(E_TYPE, "entity.type")              \
    X(F_UID, "file.uid") X(F_NAME, "file.name") X(F_TYPE_ID, "file.type_id")              \
    X(F_TYPE, "file.type") X(FI_UID, "finding_info.uid") X(FI_TITLE, "finding_info.title") \
    X(FI_TYPES, "finding_info.types") EVIDENCE(X, 0, "") EVIDENCE(X, 1, "#1.")

/* A Detection Finding's evidences, at most two: one block of leaves per item, the first
 * named by its column's path, the second (never a column of its own) right after it. */
#define EVIDENCE(X, k, tag)                                                                \
    X(EV##k##_UID, tag "evidences.actor.user.uid")                                         \
    X(EV##k##_NAME, tag "evidences.actor.user.name")                                       \
    X(EV##k##_EMAIL, tag "evidences.actor.user.email_addr")                                \
    X(EV##k##_TYPE_ID, tag "evidences.actor.user.type_id")                                 \
    X(EV##k##_TYPE, tag "evidences.actor.user.type")                                       \
    X(EV##k##_ORG, tag "evidences.actor.user.org.uid")                                     \
    X(EV##k##_SESSION, tag "evidences.actor.session.uid")                                  \
    X(EV##k##_IP, tag "evidences.src_endpoint.ip")                                         \
    X(EV##k##_DESC, tag "evidences.src_endpoint.location.desc")                            \
    X(EV##k##_COUNTRY, tag "evidences.src_endpoint.location.country")                      \
    X(EV##k##_REGION, tag "evidences.src_endpoint.location.region")                        \
    X(EV##k##_ISP, tag "evidences.src_endpoint.location.isp")                              \
    X(EV##k##_DATA, tag "evidences.data")

#define AS_ENUM(id, name) L_##id,
enum { LEAVES(AS_ENUM) NLEAF };
#define EV_LEAVES (L_EV1_UID - L_EV0_UID)
#undef AS_ENUM
#define AS_NAME(id, name) name,
static const char *LEAF_NAMES[] = {LEAVES(AS_NAME)};
#undef AS_NAME

#define MAX_LIST 64

#define SCRATCH 4096

typedef struct {
    Span s[NLEAF];
    int64_t i[NLEAF];
    uint8_t set[NLEAF];
    Span list[MAX_LIST]; /* privileges, or a finding's types */
    int nlist;
    int host;   /* metadata.profiles = ["host"] */
    int nitems; /* evidences */
    uint8_t scratch[SCRATCH]; /* text made for the event (a finding's title, data) */
    size_t used;
} Ev;

/* An event with nothing put yet (the values behind unset leaves are never read). */
static void
ev_reset(Ev *ev)
{
    memset(ev->set, 0, sizeof ev->set);
    ev->nlist = ev->host = ev->nitems = 0;
    ev->used = 0;
}

/* `text` made in the event's scratch space from up to four parts; 0 when it is full. */
static int
made(Ev *ev, Span *out, Span a, Span b, Span c, Span d)
{
    size_t n = (size_t)a.n + b.n + c.n + d.n;
    if (ev->used + n > SCRATCH)
        return 0;
    uint8_t *at = ev->scratch + ev->used;
    const Span parts[4] = {a, b, c, d};
    for (int k = 0, o = 0; k < 4; o += (int)parts[k].n, k++)
        if (parts[k].n)
            memcpy(at + o, parts[k].p, parts[k].n);
    ev->used += n;
    out->p = at;
    out->n = (uint32_t)n;
    return 1;
}

static void
put(Ev *ev, int leaf, Span v)
{
    ev->s[leaf] = v;
    ev->set[leaf] = 1;
}

static void
put_c(Ev *ev, int leaf, const char *text)
{
    Span v = {(const uint8_t *)text, (uint32_t)strlen(text)};
    put(ev, leaf, v);
}

static void
put_i(Ev *ev, int leaf, int64_t v)
{
    ev->i[leaf] = v;
    ev->set[leaf] = 1;
}

/* ---- growing buffers and Arrow columns --------------------------------------------- */

typedef struct {
    uint8_t *d;
    size_t n, cap;
} Buf;

static int
grow(Buf *b, size_t more)
{
    if (b->n + more <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->n + more)
        cap *= 2;
    uint8_t *d = realloc(b->d, cap);
    if (!d)
        return 0;
    b->d = d;
    b->cap = cap;
    return 1;
}

static int
append(Buf *b, const void *p, size_t n)
{
    if (!grow(b, n))
        return 0;
    if (n)
        memcpy(b->d + b->n, p, n);
    b->n += n;
    return 1;
}

static inline int
append_i32(Buf *b, int32_t v)
{
    if (b->n + 4 > b->cap && !grow(b, 4))
        return 0;
    memcpy(b->d + b->n, &v, 4);
    b->n += 4;
    return 1;
}

enum { C_STRUCT, C_STR, C_I32, C_I64, C_LIST, C_MAP, C_ITEMS };

/* One column, or one struct's validity: `valid` holds a byte per row (packed into bits
 * on the way out); strings are `off` (int32, n + 1) and `data`; a list<string> is `off`
 * and its strings in `off2`/`data2`; a map<string, string> its keys there and its
 * values in `off3`/`data3`. */
typedef struct {
    int kind, leaf;
    int item;           /* a column of a list's structs (C_ITEMS): a row per item */
    int nunder, *under; /* a struct's leaves: it is valid when any of them is set */
    Buf valid, off, data, off2, data2, off3, data3;
    int64_t nulls;
} Col;

static void
col_free(Col *c)
{
    free(c->valid.d), free(c->off.d), free(c->data.d), free(c->off2.d);
    free(c->data2.d), free(c->off3.d), free(c->data3.d);
    memset(&c->valid, 0, sizeof(Buf) * 7);
    c->nulls = 0;
}

static int
col_start(Col *c)
{
    if (c->kind == C_STR || c->kind == C_LIST || c->kind == C_MAP || c->kind == C_ITEMS)
        if (!append_i32(&c->off, 0))
            return 0;
    if (c->kind == C_LIST || c->kind == C_MAP)
        if (!append_i32(&c->off2, 0))
            return 0;
    if (c->kind == C_MAP)
        if (!append_i32(&c->off3, 0))
            return 0;
    return 1;
}

static inline int
col_valid(Col *c, int valid)
{
    Buf *b = &c->valid;
    if (b->n == b->cap && !grow(b, 1))
        return 0;
    b->d[b->n++] = (uint8_t)valid;
    c->nulls += !valid;
    return 1;
}

static inline int
str_to(Buf *off, Buf *data, Span v)
{
    if (data->n + v.n > data->cap && !grow(data, v.n))
        return 0;
    if (v.n)
        memcpy(data->d + data->n, v.p, v.n);
    data->n += v.n;
    return append_i32(off, (int32_t)data->n);
}

static int
str_put(Col *c, const Ev *ev, int leaf)
{
    int set = ev->set[leaf];
    Span none = {NULL, 0};
    return col_valid(c, set) && str_to(&c->off, &c->data, set ? ev->s[leaf] : none);
}

static int
int_put(Col *c, const Ev *ev, int leaf, int wide)
{
    int set = ev->set[leaf];
    int64_t v = set ? ev->i[leaf] : 0;
    if (!col_valid(c, set))
        return 0;
    if (!wide)
        return append_i32(&c->data, (int32_t)v);
    if (c->data.n + 8 > c->data.cap && !grow(&c->data, 8))
        return 0;
    memcpy(c->data.d + c->data.n, &v, 8);
    c->data.n += 8;
    return 1;
}

static int
list_put(Col *c, const Ev *ev)
{
    static const Span host = {(const uint8_t *)"host", 4};
    const Span *items = ev->list;
    int n = ev->nlist, valid = n > 0;
    if (c->leaf == L_MD_PROFILES)
        items = &host, n = valid = ev->host;
    else if (c->leaf != L_PRIVILEGES && c->leaf != L_FI_TYPES)
        n = valid = 0;
    for (int k = 0; k < n; k++)
        if (!str_to(&c->off2, &c->data2, items[k]))
            return 0;
    return col_valid(c, valid) && append_i32(&c->off, (int32_t)(c->off2.n / 4 - 1));
}

static int
by_path(const void *a, const void *b)
{
    const Field *x = *(Field *const *)a, *y = *(Field *const *)b;
    uint32_t n = x->path.n < y->path.n ? x->path.n : y->path.n;
    int d = memcmp(x->path.p, y->path.p, n);
    return d ? d : (x->path.n > y->path.n) - (x->path.n < y->path.n);
}

/* `unmapped`: every field no builder took and not null, by path, its text as a value
 * (`Record.unmapped`). */
static int
map_put(Col *c, Flat *F)
{
    Field *left[MAX_FIELDS];
    int n = 0;
    for (int k = 0; k < F->n; k++)
        if (!F->f[k].taken && F->f[k].kind != J_NULL)
            left[n++] = &F->f[k];
    qsort(left, (size_t)n, sizeof left[0], by_path);
    for (int k = 0; k < n; k++)
        if (!str_to(&c->off2, &c->data2, left[k]->path) ||
            !str_to(&c->off3, &c->data3, left[k]->val))
            return 0;
    return col_valid(c, 1) && append_i32(&c->off, (int32_t)(c->off2.n / 4 - 1));
}

/* One row of a column: an event's, or with `at` (k * EV_LEAVES) its k-th evidence's. */
static int
row_put(Col *c, const Ev *ev, Flat *F, int at)
{
    switch (c->kind) {
    case C_STRUCT:
        for (int k = 0; k < c->nunder; k++) {
            int leaf = c->under[k] + at;
            if (ev->set[leaf] || (leaf == L_MD_PROFILES && ev->host) ||
                ((leaf == L_PRIVILEGES || leaf == L_FI_TYPES) && ev->nlist))
                return col_valid(c, 1);
        }
        return col_valid(c, 0);
    case C_STR:
        return str_put(c, ev, c->leaf + at);
    case C_I32:
        return int_put(c, ev, c->leaf + at, 0);
    case C_I64:
        return int_put(c, ev, c->leaf + at, 1);
    case C_LIST:
        return list_put(c, ev);
    case C_ITEMS: {
        int32_t last;
        memcpy(&last, c->off.d + c->off.n - 4, 4);
        return col_valid(c, ev->nitems > 0) && append_i32(&c->off, last + ev->nitems);
    }
    default:
        return map_put(c, F);
    }
}

static int
col_put(Col *c, const Ev *ev, Flat *F)
{
    if (!c->item)
        return row_put(c, ev, F, 0);
    for (int k = 0; k < ev->nitems; k++)
        if (!row_put(c, ev, F, k * EV_LEAVES))
            return 0;
    return 1;
}

#endif
