/*
 * Optional C accelerator for WebSocket masking (RFC 6455 section 5.3) and
 * for building a server's unmasked frame in one allocation.
 *
 * Masking XORs payload byte i with key byte i % 4. Python has no vectorised
 * XOR for bytes, so the pure-Python path (rawpush/proto/ws/mask.py) costs
 * about a nanosecond a byte; here it is a word-at-a-time loop the compiler
 * vectorises. server_frame exists because a profile at 64 KiB showed the
 * send path's two payload-sized copies (str.encode, then joining header
 * and payload) costing more than the masking: it makes one. Every
 * function returns a new bytes object and never keeps a
 * reference to the buffers they read, so the caller may resize a bytearray
 * right after.
 *
 * Built at install time by hatch_build.py when a C compiler is present;
 * mask.py falls back to pure Python when it is missing or when
 * RAWPUSH_NO_SPEEDUPS is set. The two must agree byte for byte
 * (tests/proto/ws/test_speedups_5_3.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* out[i] = in[i] ^ key[i % 4] for i < n. memcpy keeps every load and store
 * legal at any alignment; the 8-byte pattern holds the key twice in memory
 * order, so the result does not depend on the machine's byte order. */
static void
xor_mask(unsigned char *out, const unsigned char *in, Py_ssize_t n,
         const unsigned char *key)
{
    unsigned char pattern[8];
    uint64_t k64, a, b, c, d;
    Py_ssize_t i = 0;

    memcpy(pattern, key, 4);
    memcpy(pattern + 4, key, 4);
    memcpy(&k64, pattern, 8);
    for (; i + 32 <= n; i += 32) {
        memcpy(&a, in + i, 8);
        memcpy(&b, in + i + 8, 8);
        memcpy(&c, in + i + 16, 8);
        memcpy(&d, in + i + 24, 8);
        a ^= k64;
        b ^= k64;
        c ^= k64;
        d ^= k64;
        memcpy(out + i, &a, 8);
        memcpy(out + i + 8, &b, 8);
        memcpy(out + i + 16, &c, 8);
        memcpy(out + i + 24, &d, 8);
    }
    for (; i + 8 <= n; i += 8) {
        memcpy(&a, in + i, 8);
        a ^= k64;
        memcpy(out + i, &a, 8);
    }
    /* i is a multiple of 8 here, so key[i % 4] restarts at key[0]. */
    for (; i < n; i++) {
        out[i] = in[i] ^ key[i & 3];
    }
}

static PyObject *
masked_copy(const unsigned char *data, Py_ssize_t n, const unsigned char *key)
{
    PyObject *result = PyBytes_FromStringAndSize(NULL, n);
    if (result != NULL) {
        xor_mask((unsigned char *)PyBytes_AS_STRING(result), data, n, key);
    }
    return result;
}

PyDoc_STRVAR(apply_mask_doc,
"apply_mask(data, key, /) -> bytes\n"
"\n"
"data XORed with the 4-byte key repeated (RFC 6455 section 5.3).");

static PyObject *
apply_mask(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data, key;
    PyObject *result = NULL;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "apply_mask() takes exactly 2 arguments");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &key, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (key.len != 4) {
        PyErr_SetString(PyExc_ValueError, "mask key must be 4 bytes");
    }
    else {
        result = masked_copy(data.buf, data.len, key.buf);
    }
    PyBuffer_Release(&key);
    PyBuffer_Release(&data);
    return result;
}

PyDoc_STRVAR(unmask_doc,
"unmask(buffer, start, end, /) -> bytes\n"
"\n"
"The payload of a masked frame, unmasked: the key is buffer[start:start+4],\n"
"the payload buffer[start+4:end] (section 5.2 puts the key right before\n"
"the payload). Reads the receive buffer in place, with no slice objects.");

static PyObject *
unmask(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer buf;
    Py_ssize_t start, end;
    PyObject *result = NULL;

    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "unmask() takes exactly 3 arguments");
        return NULL;
    }
    start = PyLong_AsSsize_t(args[1]);
    if (start == -1 && PyErr_Occurred()) {
        return NULL;
    }
    end = PyLong_AsSsize_t(args[2]);
    if (end == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &buf, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (start < 0 || end > buf.len || end - start < 4) {
        PyErr_SetString(PyExc_ValueError, "frame bounds outside the buffer");
    }
    else {
        const unsigned char *base = (const unsigned char *)buf.buf + start;
        result = masked_copy(base + 4, end - start - 4, base);
    }
    PyBuffer_Release(&buf);
    return result;
}

PyDoc_STRVAR(server_frame_doc,
"server_frame(first, payload, /) -> bytes\n"
"\n"
"A whole unmasked frame: the first header byte, the payload length in its\n"
"shortest encoding (RFC 6455 section 5.2), then the payload; a str payload\n"
"is encoded as UTF-8 (UnicodeEncodeError for a lone surrogate). One\n"
"allocation: an ASCII str is copied straight out of the str object.");

static PyObject *
server_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *encoded = NULL, *result = NULL;
    Py_buffer view;
    const char *data;
    Py_ssize_t n, head;
    long first;
    int have_view = 0;
    unsigned char *out;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "server_frame() takes exactly 2 arguments");
        return NULL;
    }
    first = PyLong_AsLong(args[0]);
    if (first == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (first < 0 || first > 255) {
        PyErr_SetString(PyExc_ValueError, "first byte out of range");
        return NULL;
    }
    if (PyUnicode_Check(args[1])) {
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(args[1]) < 0) {
            return NULL;
        }
#endif
        if (PyUnicode_IS_ASCII(args[1])) {
            data = (const char *)PyUnicode_DATA(args[1]);
            n = PyUnicode_GET_LENGTH(args[1]);
        }
        else {
            encoded = PyUnicode_AsUTF8String(args[1]);
            if (encoded == NULL) {
                return NULL;
            }
            data = PyBytes_AS_STRING(encoded);
            n = PyBytes_GET_SIZE(encoded);
        }
    }
    else {
        if (PyObject_GetBuffer(args[1], &view, PyBUF_SIMPLE) < 0) {
            return NULL;
        }
        have_view = 1;
        data = view.buf;
        n = view.len;
    }
    head = n < 126 ? 2 : n < 65536 ? 4 : 10;
    result = PyBytes_FromStringAndSize(NULL, head + n);
    if (result != NULL) {
        out = (unsigned char *)PyBytes_AS_STRING(result);
        out[0] = (unsigned char)first;
        if (head == 2) {
            out[1] = (unsigned char)n;
        }
        else if (head == 4) {
            out[1] = 126;
            out[2] = (unsigned char)(n >> 8);
            out[3] = (unsigned char)n;
        }
        else {
            uint64_t len = (uint64_t)n;
            out[1] = 127;
            for (int i = 0; i < 8; i++) {
                out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
            }
        }
        memcpy(out + head, data, (size_t)n);
    }
    if (have_view) {
        PyBuffer_Release(&view);
    }
    Py_XDECREF(encoded);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"apply_mask", (PyCFunction)(void (*)(void))apply_mask, METH_FASTCALL, apply_mask_doc},
    {"unmask", (PyCFunction)(void (*)(void))unmask, METH_FASTCALL, unmask_doc},
    {"server_frame", (PyCFunction)(void (*)(void))server_frame, METH_FASTCALL,
     server_frame_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    "rawpush.proto.ws._speedups",
    "C masking for rawpush's WebSocket core (optional; see mask.py).",
    0,
    speedups_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
