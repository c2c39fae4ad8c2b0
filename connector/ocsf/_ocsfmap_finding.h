/* A Detection Finding (`audit.detection_finding`): Slack's anomaly as the finding (its
 * reasons as types and title) and its sightings as evidences, a list of structs whose
 * columns have a row per item (`_ocsfmap_cols.h`). Part of _ocsfmap.c. */
#ifndef OCSFMAP_FINDING_H
#define OCSFMAP_FINDING_H

/* `audit._evidence`: one sighting as the `k`-th evidence (who, from where, with which
 * user agent as `data`); the place Slack named is its location when its last part is a
 * two-letter country. 0 when it has nothing, -1 for Python (a place not ASCII). */
static int
evidence(Mx *x, const Actor *a, Span *ip, Span *ua, int with_place)
{
    Ev *ev = x->ev;
    int at = ev->nitems * EV_LEAVES, any = 0;
    if (a && (a->has_who || a->has_session)) {
        if (a->has_who) {
            const User *u = &a->who;
            if (u->has_uid)
                put(ev, L_EV0_UID + at, u->uid);
            if (u->has_name)
                put(ev, L_EV0_NAME + at, u->name);
            if (u->has_email)
                put(ev, L_EV0_EMAIL + at, u->email);
            if (u->has_org)
                put(ev, L_EV0_ORG + at, u->org);
        }
        if (a->has_session)
            put(ev, L_EV0_SESSION + at, a->session);
        any = 1;
    }
    if (ip) {
        put(ev, L_EV0_IP + at, *ip);
        Field *place = with_place ? live(x->F, "details.location") : NULL;
        if (place && place->kind == J_STR) {
            const uint8_t *p = place->val.p, *e = p + place->val.n, *s = p;
            for (const uint8_t *q = p; q < e; q++) {
                if (*q >= 0x80)
                    return -1;
                if (*q == ',')
                    s = q + 1;
            }
            while (s < e && *s == ' ')
                s++;
            while (e > s && e[-1] == ' ')
                e--;
#define ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
            if (e - s == 2 && ALPHA(s[0]) && ALPHA(s[1])) {
                Span country = {s, 2};
                place->taken = 1;
                put(ev, L_EV0_DESC + at, place->val);
                put(ev, L_EV0_COUNTRY + at, country);
            }
#undef ALPHA
        }
        any = 1;
    }
    if (ua) {
        Span data;
        if (!made(ev, &data, word("{\"user_agent\":\""), *ua, word("\"}"), NONE))
            return -1;
        put(ev, L_EV0_DATA + at, data);
        any = 1;
    }
    ev->nitems += any;
    return any;
}

/* `audit.detection_finding`. */
static int
detection_finding(Mx *x)
{
    Actor a;
    Ev *ev = x->ev;
    Span ip, ua, title;
    int has_actor = actor_of(x->F, &a);
    int reasons = strings(x, "details.reason");
    if (reasons < 0)
        return M_PY;
    if (!reasons) {
        ev->list[0] = word("unspecified");
        ev->nlist = 1;
    }
    put_c(ev, L_STATUS, "New");
    put(ev, L_FI_UID, ev->s[L_MD_UID]);
    if (!made(ev, &title, word("Slack anomaly: "), ev->list[0], NONE, NONE))
        return M_PY;
    for (int k = 1; k < ev->nlist; k++) {
        Span more;
        if (!made(ev, &more, word(", "), ev->list[k], NONE, NONE))
            return M_PY;
        title.n += more.n; /* made right after it */
    }
    put(ev, L_FI_TITLE, title);
    int has_ip = ip_at(x, "context.ip_address", &ip);
    if (has_ip < 0)
        return M_ERR;
    int has_ua = text(x->F, "context.ua", &ua);
    if (evidence(x, has_actor ? &a : NULL, has_ip ? &ip : NULL, has_ua ? &ua : NULL, 1) < 0)
        return M_PY;
    has_ip = ip_at(x, "details.previous_ip_address", &ip);
    if (has_ip < 0)
        return M_ERR;
    has_ua = text(x->F, "details.previous_ua", &ua);
    if (evidence(x, NULL, has_ip ? &ip : NULL, has_ua ? &ua : NULL, 0) < 0)
        return M_PY;
    put_actor(ev, &a, 1);
    ev->host = has_actor;
    return M_MADE;
}

#endif
