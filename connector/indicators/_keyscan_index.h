/* The search index's helpers: CRC-32, fingerprints, newline count.
 * Part of _keyscan.c (one translation unit: every function stays static). */
#ifndef KEYSCAN_INDEX_H
#define KEYSCAN_INDEX_H

/* ---- CRC-32 ------------------------------------------------------------------------ */

static uint32_t CRC[8][256];

/* zlib's table, and seven more for eight bytes a step ("slicing-by-8", Intel's; the byte
 * at a time was two thirds of the fingerprints' CPU). */
static void
init_crc(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        CRC[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            CRC[t][i] = CRC[0][CRC[t - 1][i] & 0xFF] ^ (CRC[t - 1][i] >> 8);
}

static uint32_t
crc32_of(const uint8_t *p, int64_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (; n >= 8; p += 8, n -= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24);
        c = CRC[7][lo & 0xFF] ^ CRC[6][(lo >> 8) & 0xFF] ^ CRC[5][(lo >> 16) & 0xFF] ^
            CRC[4][lo >> 24] ^ CRC[3][p[4]] ^ CRC[2][p[5]] ^ CRC[1][p[6]] ^ CRC[0][p[7]];
    }
    for (int64_t j = 0; j < n; j++)
        c = CRC[0][(c ^ p[j]) & 0xFF] ^ (c >> 8);
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
        PyErr_SetString(PyExc_TypeError,
                        "fingerprints(data, starts, sizes, ip4, ip6, hashed, bits)");
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

#endif
