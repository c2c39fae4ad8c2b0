/* The mappers of `audit.py` and `logs.py` over a flat record, step for step in their
 * order (what one step takes, the next no longer sees). Each returns 1 when the event
 * is made, 0 when the Python mapper must make it (a Detection Finding, a builder that
 * gives up and falls back to a Base Event, a value only Python reads the same way:
 * string times, IP addresses the IPv4 test does not take, unknown log types), -1 on a
 * Python error. Part of _ocsfmap.c. */
#ifndef OCSFMAP_ROWS_H
#define OCSFMAP_ROWS_H

typedef struct {
    int cls; /* index into the mapper's classes; -1: the Python mapper makes it */
    int has_status;
    int64_t ints[6]; /* activity_id, category_uid, class_uid, type_uid, severity_id, status_id */
    Span texts[6];   /* activity_name, category_name, class_name, type_name, severity, status */
} Shared;

/* What mapping a line came to: made, left to Python, to be made again as a Base Event
 * (its class's builder gave up, as `audit._build` does), or a Python error. */
enum { M_ERR = -1, M_PY = 0, M_MADE = 1, M_BASE = 2 };

typedef struct Mapper Mapper;
static Shared *shared_of(Mapper *m, char kind, Span name);
static int ip_ok(Mapper *m, Span text);

typedef struct {
    Mapper *m;
    Flat *F;
    Ev *ev;
    Shared *sh;
    Span version;       /* metadata.version */
    const int *builder; /* each class's builder */
} Mx;

static const Span NONE = {NULL, 0};

/* A field not yet taken (a taken field is gone, as after `dict.pop`). */
static Field *
live(Flat *F, const char *path)
{
    Field *f = get(F, path);
    return f && !f->taken ? f : NULL;
}

static Field *
live_n(Flat *F, const uint8_t *path, size_t n)
{
    Field *f = find(F, (const char *)path, n, fnv(FNV0, path, n));
    return f && !f->taken ? f : NULL;
}

static int
is_str(const Field *f, const char *text)
{
    size_t n = strlen(text);
    return f && f->kind == J_STR && f->val.n == n && memcmp(f->val.p, text, n) == 0;
}

/* `Record.text`: a non-empty string, or an integer's digits, taken. */
static int
text_of(Field *f, Span *out)
{
    if (!f || !((f->kind == J_STR && f->val.n) || f->kind == J_INT))
        return 0;
    f->taken = 1;
    *out = f->val;
    return 1;
}

static int
text(Flat *F, const char *path, Span *out)
{
    return text_of(live(F, path), out);
}

/* `Record.strings`: a comma-separated string or a non-empty list of strings, taken;
 * -2 when it has more items than an event holds (the row goes to Python). */
static int
strings(Mx *x, const char *path)
{
    Field *f = live(x->F, path);
    Ev *ev = x->ev;
    int n = 0;
    if (!f)
        return 0;
    if (f->kind == J_STR) {
        const uint8_t *p = f->val.p, *e = p + f->val.n;
        while (p <= e) {
            const uint8_t *comma = memchr(p, ',', (size_t)(e - p));
            const uint8_t *end = comma ? comma : e;
            if (end > p) {
                if (n == MAX_LIST)
                    return -2;
                ev->list[n].p = p;
                ev->list[n++].n = (uint32_t)(end - p);
            }
            p = end + 1;
        }
    } else if (f->kind == J_ARR) {
        Cur c = {f->val.p + 1, f->val.p + f->val.n};
        while (*c.p == '"') {
            if (n == MAX_LIST)
                return -2;
            read_str(&c, &ev->list[n++]);
            if (*c.p++ == ']')
                break;
        }
        if (c.p != c.e)
            n = 0;
    }
    if (!n)
        return 0;
    ev->nlist = n;
    f->taken = 1;
    return 1;
}

/* OCSF's `email_t` as `event.EMAIL` reads it: [a-zA-Z0-9_.+-]+ @ [a-zA-Z0-9-]+ . [a-zA-Z0-9-.]+ */
static int
email_ok(Span v)
{
    static const char *local = "_.+-", *rest = "-.";
    size_t i = 0, n = v.n, at;
    const uint8_t *s = v.p;
#define ALNUM(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= '0' && (c) <= '9'))
    while (i < n && (ALNUM(s[i]) || (s[i] && strchr(local, s[i]))))
        i++;
    if (i == 0 || i == n || s[i] != '@')
        return 0;
    at = ++i;
    while (i < n && (ALNUM(s[i]) || s[i] == '-'))
        i++;
    if (i == at || i == n || s[i] != '.')
        return 0;
    at = ++i;
    while (i < n && (ALNUM(s[i]) || (s[i] && strchr(rest, s[i]))))
        i++;
#undef ALNUM
    return i > at && i == n;
}

/* `event.ip_of`: a string OCSF's `ip_t` takes, taken (a dotted quad here, any other
 * text asked of Python once and remembered). */
static int
ip_at(Mx *x, const char *path, Span *out)
{
    Field *f = live(x->F, path);
    if (!f || f->kind != J_STR)
        return 0;
    int ok = ip_ok(x->m, f->val);
    if (ok == 1) {
        f->taken = 1;
        *out = f->val;
    }
    return ok;
}

typedef struct {
    Span uid, name, email, org;
    int has_uid, has_name, has_email, has_org;
} User;

/* `event.slack_user` at `at` (its id, name, email and team paths). */
static int
slack_user(Flat *F, const char *const at[4], User *u)
{
    memset(u, 0, sizeof *u);
    u->has_uid = text(F, at[0], &u->uid);
    u->has_name = text(F, at[1], &u->name);
    if (!u->has_uid && !u->has_name)
        return 0;
    Field *e = live(F, at[2]);
    if (e && e->kind == J_STR && email_ok(e->val)) {
        e->taken = 1;
        u->email = e->val;
        u->has_email = 1;
    }
    u->has_org = text(F, at[3], &u->org);
    return 1;
}

static const char *const ACTOR_USER[4] = {"actor.user.id", "actor.user.name", "actor.user.email",
                                          "actor.user.team"};
static const char *const ENTITY_USER[4] = {"entity.user.id", "entity.user.name",
                                           "entity.user.email", "entity.user.team"};

/* A user into the leaves from `first` (L_AU_UID or L_U_UID: uid, name, email, type id,
 * type, org in that order). */
static void
put_user(Ev *ev, int first, const User *u)
{
    if (u->has_uid)
        put(ev, first, u->uid);
    if (u->has_name)
        put(ev, first + 1, u->name);
    if (u->has_email)
        put(ev, first + 2, u->email);
    if (u->has_org)
        put(ev, first + 5, u->org);
}

typedef struct {
    User who;
    Span session;
    int has_who, has_session;
} Actor;

static int
actor_of(Flat *F, Actor *a)
{
    a->has_who = slack_user(F, ACTOR_USER, &a->who);
    a->has_session = text(F, "context.session_id", &a->session);
    if (a->has_who) {
        Field *t = live(F, "actor.type");
        if (is_str(t, "user"))
            t->taken = 1;
    }
    return a->has_who || a->has_session;
}

static void
put_actor(Ev *ev, const Actor *a, int with_session)
{
    if (a->has_who)
        put_user(ev, L_AU_UID, &a->who);
    if (with_session && a->has_session)
        put(ev, L_A_SESSION, a->session);
}

/* `audit._subject`: the entity's user, else the actor's. */
static void
subject(Flat *F, Ev *ev, const Actor *a)
{
    User u;
    if (slack_user(F, ENTITY_USER, &u)) {
        Field *t = live(F, "entity.type");
        if (is_str(t, "user"))
            t->taken = 1;
        put_user(ev, L_U_UID, &u);
    } else if (a->has_who)
        put_user(ev, L_U_UID, &a->who);
}

static int
source(Mx *x)
{
    Span ip, ua;
    int ok = ip_at(x, "context.ip_address", &ip);
    if (ok < 0)
        return -1;
    if (ok)
        put(x->ev, L_SRC_IP, ip);
    if (text(x->F, "context.ua", &ua))
        put(x->ev, L_UA, ua);
    return 1;
}

/* `audit._inner`: the entity of one kind, its uid, name and kind into `leaf` (the
 * group's or the entity's uid, name and type; an app's type is not put, -1). */
static int
inner(Mx *x, Span kind, const int leaf[3])
{
    uint8_t *path = x->F->key;
    Span uid, name;
    if (kind.n + 12 > PATHBUF)
        return 0; /* no path of the record is that long */
    memcpy(path, "entity.", 7);
    memcpy(path + 7, kind.p, kind.n);
    memcpy(path + 7 + kind.n, ".id", 3);
    int has_uid = text_of(live_n(x->F, path, 10 + kind.n), &uid);
    memcpy(path + 7 + kind.n, ".name", 5);
    int has_name = text_of(live_n(x->F, path, 12 + kind.n), &name);
    if (!has_uid && !has_name)
        return 0;
    Field *t = live(x->F, "entity.type");
    if (t && t->kind == J_STR && t->val.n == kind.n && memcmp(t->val.p, kind.p, kind.n) == 0)
        t->taken = 1;
    if (has_uid)
        put(x->ev, leaf[0], uid);
    if (has_name)
        put(x->ev, leaf[1], name);
    if (leaf[2] >= 0)
        put(x->ev, leaf[2], kind);
    return 1;
}

static Span
word(const char *text)
{
    Span s = {(const uint8_t *)text, (uint32_t)strlen(text)};
    return s;
}

#endif
