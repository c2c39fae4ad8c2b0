/* The builders per class (`audit.BUILDERS`) and the access and integration mappers
 * (`logs.py`), over the steps in _ocsfmap_rows.h. Part of _ocsfmap.c. */
#ifndef OCSFMAP_BUILD_H
#define OCSFMAP_BUILD_H

enum { B_BASE, B_AUTH, B_ACCOUNT, B_USER_ACCESS, B_GROUP, B_FILE, B_ENTITY, B_DETECTION };

static int
authentication(Mx *x)
{
    Actor a;
    actor_of(x->F, &a);
    if (a.has_who)
        put_actor(x->ev, &a, 0);
    subject(x->F, x->ev, &a);
    if (a.has_session)
        put(x->ev, L_SESSION, a.session);
    if (source(x) < 0)
        return -1;
    put_c(x->ev, L_SERVICE, "Slack");
    x->ev->host = a.has_who;
    return x->ev->set[L_U_UID] || x->ev->set[L_U_NAME] ? M_MADE : M_BASE;
}

static int
account_change(Mx *x)
{
    Actor a;
    x->ev->host = actor_of(x->F, &a);
    put_actor(x->ev, &a, 1);
    subject(x->F, x->ev, &a);
    if (source(x) < 0)
        return M_ERR;
    return x->ev->set[L_U_UID] || x->ev->set[L_U_NAME] ? M_MADE : M_BASE;
}

static int
user_access(Mx *x, Span action)
{
    static const char prefix[] = "role_change_to_";
    const size_t np = sizeof prefix - 1;
    Actor a;
    Ev *ev = x->ev;
    Span role;
    ev->host = actor_of(x->F, &a);
    put_actor(ev, &a, 1);
    static const int as_user[3] = {L_U_UID, L_U_NAME, -1};
    int app = inner(x, word("app"), as_user);
    if (app) {
        put_i(ev, L_U_TYPE_ID, 99);
        put_c(ev, L_U_TYPE, "App");
    } else
        subject(x->F, ev, &a);
    const char *lists[] = {"details.new_scopes", "entity.app.scopes", "details.scopes"};
    for (int k = 0; k < 3 && !ev->nlist; k++)
        if (strings(x, lists[k]) < 0)
            return M_PY;
    if (!ev->nlist) {
        Span one = action;
        if (action.n >= np && memcmp(action.p, prefix, np) == 0) {
            one.p += np;
            one.n -= (uint32_t)np;
        } else if (!text(x->F, "entity.role.name", &role) && !text(x->F, "details.role", &role))
            one = action;
        else
            one = role;
        ev->list[0] = one;
        ev->nlist = 1;
    }
    return ev->set[L_U_UID] || ev->set[L_U_NAME] ? M_MADE : M_BASE;
}

static int
group_management(Mx *x)
{
    Actor a;
    x->ev->host = actor_of(x->F, &a);
    put_actor(x->ev, &a, 1);
    static const int leaf[3] = {L_G_UID, L_G_NAME, L_G_TYPE};
    int group = inner(x, word("usergroup"), leaf) || inner(x, word("channel"), leaf);
    subject(x->F, x->ev, &a);
    return group && (x->ev->set[L_U_UID] || x->ev->set[L_U_NAME]) ? M_MADE : M_BASE;
}

static int
file_hosting(Mx *x)
{
    Actor a;
    Span uid, name, label = NONE, ip;
    int has_actor = actor_of(x->F, &a);
    int has_uid = text(x->F, "entity.file.id", &uid);
    int has_label = text(x->F, "entity.file.name", &name);
    if (has_label)
        label = name;
    else if ((has_label = text(x->F, "entity.file.title", &label)) == 0 && has_uid)
        has_label = 1, label = uid;
    int has_ip = ip_at(x, "context.ip_address", &ip);
    if (has_ip < 0)
        return M_ERR;
    if (!has_actor || !has_label || !has_ip)
        return M_BASE;
    Field *t = live(x->F, "entity.type");
    if (is_str(t, "file"))
        t->taken = 1;
    put_actor(x->ev, &a, 1);
    put(x->ev, L_F_NAME, label);
    put_i(x->ev, L_F_TYPE_ID, 1);
    put_c(x->ev, L_F_TYPE, "Regular File");
    if (has_uid)
        put(x->ev, L_F_UID, uid);
    put(x->ev, L_SRC_IP, ip);
    return M_MADE;
}

static const char *KINDS[] = {"workspace", "enterprise", "channel", "app",
                              "user",      "usergroup",  "file",    "workflow"};

static int
entity_management(Mx *x)
{
    Actor a;
    x->ev->host = actor_of(x->F, &a);
    put_actor(x->ev, &a, 1);
    static const int leaf[3] = {L_E_UID, L_E_NAME, L_E_TYPE};
    Field *kind = live(x->F, "entity.type");
    int found = kind && kind->kind == J_STR && inner(x, kind->val, leaf);
    for (int k = 0; k < 8 && !found; k++)
        found = inner(x, word(KINDS[k]), leaf);
    return found ? M_MADE : M_BASE;
}

/* OCSF's time of a field Slack gives in seconds, an integer or its digits in a string
 * (team.integrationLogs' `date`), as `event.seconds_ms` computes it (through a double);
 * 0 for any other value, which only Python reads the same way. */
static int
ms_at(Flat *F, const char *path, int64_t *out)
{
    Field *f = live(F, path);
    int64_t v = 0;
    if (f && f->kind == J_STR && f->val.n && f->val.n <= 15) {
        for (uint32_t k = 0; k < f->val.n; k++) {
            if (f->val.p[k] < '0' || f->val.p[k] > '9')
                return 0;
            v = v * 10 + (f->val.p[k] - '0');
        }
    } else if (f && f->kind == J_INT && f->i <= 9000000000000000LL && f->i >= -9000000000000000LL)
        v = f->i;
    else
        return 0;
    f->taken = 1;
    *out = (int64_t)((double)v * 1000.0);
    return 1;
}

static void
put_shared(Mx *x, int64_t time, const char *feature, const char *log_name, Span uid)
{
    static const int leaves[6][2] = {
        {L_ACTIVITY_ID, L_ACTIVITY_NAME}, {L_CATEGORY_UID, L_CATEGORY_NAME},
        {L_CLASS_UID, L_CLASS_NAME},      {L_TYPE_UID, L_TYPE_NAME},
        {L_SEVERITY_ID, L_SEVERITY},      {L_STATUS_ID, L_STATUS},
    };
    Ev *ev = x->ev;
    for (int k = 0; k < 5 + x->sh->has_status; k++) {
        put_i(ev, leaves[k][0], x->sh->ints[k]);
        put(ev, leaves[k][1], x->sh->texts[k]);
    }
    put_i(ev, L_TIME, time);
    put(ev, L_MD_UID, uid);
    put(ev, L_MD_VERSION, x->version);
    put_c(ev, L_MD_PRODUCT, "Slack");
    put_c(ev, L_MD_VENDOR, "Slack");
    put_c(ev, L_MD_FEATURE, feature);
    put_c(ev, L_MD_LOG_NAME, log_name);
}

/* An audit entry; with `base`, as the Base Event its class's builder gave up for. */
static int
audit_row(Mx *x, int base)
{
    Flat *F = x->F;
    Field *action = live(F, "action");
    Span uid, tenant;
    int64_t time;
    if (!action || action->kind != J_STR || !action->val.n)
        return 0;
    if (!(x->sh = shared_of(x->m, base ? 'b' : 'a', action->val)))
        return -1;
    if (x->sh->cls < 0)
        return 0;
    action->taken = 1;
    if (!text(F, "id", &uid))
        uid = word("None");
    int has_tenant = text(F, "context.location.id", &tenant);
    if (!ms_at(F, "date_create", &time))
        return 0;
    put_shared(x, time, "Audit Logs", "Slack.AuditLogs", uid);
    put(x->ev, L_MD_EVENT_CODE, action->val);
    if (has_tenant)
        put(x->ev, L_MD_TENANT, tenant);
    switch (x->builder[x->sh->cls]) {
    case B_AUTH:
        return authentication(x);
    case B_ACCOUNT:
        return account_change(x);
    case B_USER_ACCESS:
        return user_access(x, action->val);
    case B_GROUP:
        return group_management(x);
    case B_FILE:
        return file_hosting(x);
    case B_ENTITY:
        return entity_management(x);
    case B_DETECTION:
        return detection_finding(x);
    default:
        put(x->ev, L_MESSAGE, action->val);
        return M_MADE;
    }
}

static int
access_row(Mx *x)
{
    Flat *F = x->F;
    Ev *ev = x->ev;
    Span v, ip;
    int64_t first, last;
    if (!x->F->has_row_id || !ms_at(F, "date_first", &first) || !ms_at(F, "date_last", &last))
        return 0;
    if (!(x->sh = shared_of(x->m, 'l', word("access"))))
        return -1;
    put_shared(x, last, "Access Logs", "Slack.AccessLogs", F->row_id);
    int named = text(F, "user_id", &v);
    if (named)
        put(ev, L_U_UID, v);
    if (text(F, "username", &v))
        put(ev, L_U_NAME, v), named = 1;
    if (!named)
        put_c(ev, L_U_NAME, "unknown");
    int ok = ip_at(x, "ip", &ip);
    if (ok < 0)
        return -1;
    if (ok) {
        static const char *places[] = {"country", "region", "isp"};
        Field *found[3];
        put(ev, L_SRC_IP, ip);
        for (int k = 0; k < 3; k++) {
            found[k] = live(F, places[k]);
            if (found[k] && !(found[k]->kind == J_STR && found[k]->val.n))
                found[k] = NULL;
        }
        if (found[0] || found[1])
            for (int k = 0; k < 3; k++)
                if (found[k]) {
                    found[k]->taken = 1;
                    put(ev, L_LOC_COUNTRY + k, found[k]->val);
                }
    }
    Field *count = live(F, "count");
    if (count && count->kind == J_INT && count->i >= 0 && count->i < 2147483648LL) {
        count->taken = 1;
        put_i(ev, L_COUNT, count->i);
    }
    if (text(F, "user_agent", &v))
        put(ev, L_UA, v);
    put_i(ev, L_START, first);
    put_i(ev, L_END, last);
    put_c(ev, L_SERVICE, "Slack");
    return 1;
}

static int
truthy(const Field *f)
{
    if (!f)
        return 0;
    switch (f->kind) {
    case J_STR:
        return f->val.n > 0;
    case J_INT:
        return f->i != 0;
    case J_TRUE:
        return 1;
    case J_ARR:
        return f->val.n > 2;
    default:
        return 0;
    }
}

static int
integration_row(Mx *x)
{
    Flat *F = x->F;
    Ev *ev = x->ev;
    Span change, uid, name, v;
    int64_t time;
    if (!F->has_row_id)
        return 0;
    if (!text(F, "change_type", &change))
        change = word("unknown");
    if (!ms_at(F, "date", &time))
        return 0;
    if (!(x->sh = shared_of(x->m, 'c', change)))
        return -1;
    put_shared(x, time, "Integration Logs", "Slack.IntegrationLogs", F->row_id);
    put(ev, L_MD_EVENT_CODE, change);
    Field *app_id = live(F, "app_id");
    int app = (app_id && app_id->kind != J_NULL) || truthy(live(F, "app_type"));
    Span kind = word(app ? "app" : "service");
    int has_uid = text(F, app ? "app_id" : "service_id", &uid);
    int has_name = text(F, app ? "app_type" : "service_type", &name);
    if (has_uid)
        put(ev, L_E_UID, uid);
    put(ev, L_E_NAME, has_name ? name : has_uid ? uid : kind);
    put(ev, L_E_TYPE, kind);
    int who = text(F, "user_id", &v);
    if (who)
        put(ev, L_AU_UID, v);
    if (text(F, "user_name", &v))
        put(ev, L_AU_NAME, v), who = 1;
    ev->host = who;
    return 1;
}

#endif
