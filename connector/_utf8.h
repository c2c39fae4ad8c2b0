/* Past one UTF-8 sequence starting at a byte >= 0x80, as Python's strict decoder reads
 * it (no overlong forms, no surrogates, at most U+10FFFF); NULL when invalid. Shared by
 * the native key scan (connector/indicators/_keyscan_json.h) and the OCSF mapper
 * (connector/ocsf/_ocsfmap_flat.h), which accept only text Python would decode. */
#ifndef CONNECTOR_UTF8_H
#define CONNECTOR_UTF8_H

#include <stdint.h>

static const uint8_t *
utf8_next(const uint8_t *p, const uint8_t *e)
{
    uint8_t c = p[0];
    if (c >= 0xC2 && c <= 0xDF)
        return e - p >= 2 && (p[1] & 0xC0) == 0x80 ? p + 2 : NULL;
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

#endif
