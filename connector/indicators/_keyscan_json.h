/* Reading JSON as orjson writes it: byte classes, strings, numbers, whole-second times.
 * Part of _keyscan.c (one translation unit: every function stays static). */
#ifndef KEYSCAN_JSON_H
#define KEYSCAN_JSON_H

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

/* Whether strings are read sixteen bytes at a time where SSE2 is (x86-64's baseline);
 * `_keyscan.vectors(False)` makes the tests check the byte-at-a-time path other machines
 * take on this one too. */
static int VECTORS = 1;

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

/* ---- reading JSON ------------------------------------------------------------------ */

#include "../_utf8.h"

/* A string without escapes whose opening quote is before `p`; past its closing quote,
 * or NULL (an escape, a control character, invalid UTF-8, no closing quote). Sixteen
 * bytes at a time with SSE2 while the line has them (never past the line's end). */
static inline __attribute__((always_inline)) const uint8_t *
read_string_of(const uint8_t *p, const uint8_t *e, Str *out, int classes)
{
    const uint8_t *s = p;
    unsigned any = 0, ascii = K_ASCII;
    for (;;) {
#ifdef __SSE2__
        while (VECTORS && e - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            /* signed: < 0x20 is a control character or a byte >= 0x80 */
            __m128i stop = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
            unsigned stops = (unsigned)_mm_movemask_epi8(stop);
            if (classes) {
                unsigned before = stops ? (1u << __builtin_ctz(stops)) - 1 : 0xFFFFu;
                if ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('.'))) & before)
                    any |= K_DOT;
                if ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(':'))) & before)
                    any |= K_COLON;
                if ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('@'))) & before)
                    any |= K_AT;
            }
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

/* A string value: which of `.`, `:` and `@` it holds too (`Str.any`). */
static const uint8_t *
read_string(const uint8_t *p, const uint8_t *e, Str *out)
{
    return read_string_of(p, e, out, 1);
}

/* A member name: its bytes only (`Str.any` is not set; half the strings of a line are
 * names, and the three classes cost a third of reading one). */
static const uint8_t *
read_name(const uint8_t *p, const uint8_t *e, Str *out)
{
    return read_string_of(p, e, out, 0);
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

#endif
