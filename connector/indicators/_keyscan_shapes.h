/* The value shapes whose keys (or none) follow from keys.value_keys with no case left open.
 * Part of _keyscan.c (one translation unit: every function stays static). */
#ifndef KEYSCAN_SHAPES_H
#define KEYSCAN_SHAPES_H

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

/* Whether a value provably has no key: `keys._plain` widened to "not a Slack id", and a
 * `:` without `@` that is neither IP-like (`match.IP_LIKE`) nor has `://`. */
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

#endif
