/* test_npy.c -- the .npy reader and writer (npy.c) and the file and
 * argument loading around them (io.c). */
#include "test.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

/* The .npy bytes of t (malloc'd by open_memstream: free with free). */
static char *to_npy(const tg_tensor *t, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    tg_status st = tg_npy_write(f, t);
    fclose(f);
    if (st != TG_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Random values of dt, a few of them special for floats. */
static tg_tensor *random_tensor(tg_dtype dt, int ndim, const int64_t *shape)
{
    tg_tensor *t = tg_empty(dt, ndim, shape);
    if (!t)
        return NULL;
    void *d = tg_data(t);
    static const double special[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 1e-310};
    for (int64_t i = 0; i < t->numel; i++) {
        double v = test_rand() % 8 == 0 ? special[test_rand() % 6] : test_uniform(-1e6, 1e6);
        switch (dt) {
        case TG_FLOAT32: ((float *)d)[i] = (float)v; break;
        case TG_FLOAT64: ((double *)d)[i] = v; break;
        case TG_INT64: ((int64_t *)d)[i] = (int64_t)test_rand(); break;
        default: ((bool *)d)[i] = test_rand() & 1; break;
        }
    }
    return t;
}

/* Address of element i (row-major over the view). */
static const char *elem_ptr(const tg_tensor *t, int64_t i)
{
    int64_t off = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
        off += (i % t->shape[d]) * t->stride[d];
        i /= t->shape[d];
    }
    return (const char *)tg_data(t) + off * (int64_t)tg_dtype_size(t->dtype);
}

/* Same dtype, shape and bits in every element. */
static bool same_tensor(const tg_tensor *a, const tg_tensor *b)
{
    if (!a || !b || a->dtype != b->dtype || a->ndim != b->ndim || a->numel != b->numel)
        return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return false;
    for (int64_t i = 0; i < a->numel; i++)
        if (memcmp(elem_ptr(a, i), elem_ptr(b, i), tg_dtype_size(a->dtype)))
            return false;
    return true;
}

static tg_tensor *roundtrip(const tg_tensor *t)
{
    size_t len;
    char *bytes = to_npy(t, &len);
    if (!bytes)
        return NULL;
    tg_tensor *r = tg_npy_read(bytes, len);
    free(bytes);
    return r;
}

/* A .npy file made by hand: magic, version major.0, header length (2 or 4
 * bytes), the dict as given, then the data.  Returns the length. */
static unsigned char npy_buf[1 << 16];
static size_t make_npy(int major, const char *dict, const void *data, size_t datalen)
{
    size_t hlen = strlen(dict), n = 0;
    memcpy(npy_buf, "\x93NUMPY", 6);
    npy_buf[6] = (unsigned char)major;
    npy_buf[7] = 0;
    n = 8;
    for (int i = 0; i < (major == 1 ? 2 : 4); i++)
        npy_buf[n++] = (unsigned char)(hlen >> (8 * i));
    memcpy(npy_buf + n, dict, hlen);
    n += hlen;
    if (datalen)
        memcpy(npy_buf + n, data, datalen);
    return n + datalen;
}

/* The reader must refuse these bytes with status 3 and a message holding
 * word. */
static void refused_at(int line, const void *bytes, size_t len, const char *word)
{
    tg_error_clear();
    tg_tensor *t = tg_npy_read(bytes, len);
    if (t || tg_errcode() != TG_EINPUT || !strstr(tg_errmsg(), word)) {
        test_failures++;
        fprintf(stderr, "  %s:%d: expected a refusal mentioning '%s', got %s (status %d: %s)\n",
                __FILE__, line, word, t ? "a tensor" : "NULL", tg_errcode(), tg_errmsg());
    }
    tg_release(t);
    tg_error_clear();
}
#define REFUSED(bytes, len, word) refused_at(__LINE__, bytes, len, word)
#define REFUSED_DICT(dict, data, datalen, word) REFUSED(npy_buf, make_npy(1, dict, data, datalen), word)

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (56 - 8 * i));
}

/* A fresh directory under /tmp for files; removed by rm_dir. */
static char tmp_dir[64];
static const char *make_dir(void)
{
    strcpy(tmp_dir, "/tmp/tg_npy_test_XXXXXX");
    return mkdtemp(tmp_dir);
}
static void rm_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "  could not remove %s\n", tmp_dir);
}

static bool write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(b, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* ---- round trips ---- */

TEST(npy_roundtrip_random)
{
    for (int dt = 0; dt < TG_NDTYPES; dt++)
        for (int ndim = 0; ndim <= 5; ndim++)
            for (int rep = 0; rep < 4; rep++) {
                int64_t shape[5];
                for (int d = 0; d < ndim; d++)
                    shape[d] = 1 + (int64_t)(test_rand() % 4);
                tg_tensor *t = random_tensor((tg_dtype)dt, ndim, shape);
                tg_tensor *r = roundtrip(t);
                CHECK(same_tensor(t, r));
                tg_release(t);
                tg_release(r);
            }
}

TEST(npy_roundtrip_empty)
{
    static const int64_t s1[] = {0}, s3[] = {2, 0, 3};
    for (int dt = 0; dt < TG_NDTYPES; dt++) {
        tg_tensor *a = tg_empty((tg_dtype)dt, 1, s1), *b = tg_empty((tg_dtype)dt, 3, s3);
        tg_tensor *ra = roundtrip(a), *rb = roundtrip(b);
        CHECK(same_tensor(a, ra) && ra->numel == 0);
        CHECK(same_tensor(b, rb) && rb->ndim == 3 && rb->shape[1] == 0);
        tg_release(a); tg_release(b); tg_release(ra); tg_release(rb);
    }
}

TEST(npy_roundtrip_views)
{
    for (int dt = 0; dt < TG_NDTYPES; dt++)
        for (int ndim = 2; ndim <= 5; ndim++) {
            int64_t shape[5];
            for (int d = 0; d < ndim; d++)
                shape[d] = 2 + (int64_t)(test_rand() % 3);
            tg_tensor *t = random_tensor((tg_dtype)dt, ndim, shape);
            tg_tensor *v = tg_transpose(tg_ref(t), 0, ndim - 1);
            tg_tensor *s = tg_slice(tg_ref(t), 1, 0, shape[1], 2); /* every other row */
            CHECK(v && !tg_is_contiguous(v));
            CHECK(s && !tg_is_contiguous(s));
            tg_tensor *rv = roundtrip(v), *rs = roundtrip(s);
            CHECK(same_tensor(v, rv) && tg_is_contiguous(rv));
            CHECK(same_tensor(s, rs));
            tg_release(t); tg_release(v); tg_release(s); tg_release(rv); tg_release(rs);
        }
}

/* A view larger than the writer's 64 KiB chunk. */
TEST(npy_roundtrip_large_view)
{
    static const int64_t shape[] = {300, 200};
    tg_tensor *t = random_tensor(TG_FLOAT64, 2, shape);
    tg_tensor *v = tg_transpose(tg_ref(t), 0, 1);
    tg_tensor *r = roundtrip(v);
    CHECK(same_tensor(v, r));
    tg_release(t); tg_release(v); tg_release(r);
}

/* ---- the header as NumPy writes it ---- */

static void check_header(const tg_tensor *t, const char *dict)
{
    size_t len;
    char *b = to_npy(t, &len);
    CHECK(b != NULL);
    if (!b)
        return;
    size_t hlen = (unsigned char)b[8] | (size_t)(unsigned char)b[9] << 8;
    CHECK(!memcmp(b, "\x93NUMPY\x01\x00", 8));
    CHECK((10 + hlen) % 64 == 0);
    CHECK(len == 10 + hlen + (size_t)t->numel * tg_dtype_size(t->dtype));
    CHECK(!strncmp(b + 10, dict, strlen(dict)));
    CHECK(b[10 + hlen - 1] == '\n');
    for (size_t i = 10 + strlen(dict); i < 10 + hlen - 1; i++)
        CHECK(b[i] == ' ');
    free(b);
}

TEST(npy_write_header)
{
    static const int64_t s23[] = {2, 3}, s5[] = {5}, s4d[] = {1, 2, 3, 4};
    tg_tensor *a = tg_zeros(TG_FLOAT32, 2, s23), *b = tg_zeros(TG_FLOAT64, 1, s5),
              *c = tg_scalar_i64(7), *d = tg_zeros(TG_BOOL, 4, s4d);
    check_header(a, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    check_header(b, "{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }");
    check_header(c, "{'descr': '<i8', 'fortran_order': False, 'shape': (), }");
    check_header(d, "{'descr': '|b1', 'fortran_order': False, 'shape': (1, 2, 3, 4), }");
    /* exactly NumPy's np.save(np.zeros((2, 3), np.float32)): a 128-byte header */
    size_t len;
    char *bytes = to_npy(a, &len);
    CHECK(bytes && len == 128 + 24 && bytes[8] == 118 && bytes[9] == 0);
    free(bytes);
    tg_release(a); tg_release(b); tg_release(c); tg_release(d);
}

TEST(npy_write_to_full_disk)
{
    FILE *f = fopen("/dev/full", "wb");
    if (!f)
        return; /* not on this system */
    static const int64_t shape[] = {1 << 16};
    tg_tensor *t = tg_zeros(TG_FLOAT64, 1, shape); /* 512 KiB: more than stdio buffers */
    CHECK(tg_npy_write(f, t) == TG_ERESOURCE);
    CHECK(strstr(tg_errmsg(), "cannot write") && strstr(tg_errmsg(), "No space"));
    fclose(f);
    tg_error_clear();
    tg_release(t);
}

/* ---- files made byte by byte ---- */

TEST(npy_read_big_endian_f8)
{
    unsigned char data[24];
    const double v[3] = {1.5, -2.25, 1e300};
    for (int i = 0; i < 3; i++) {
        uint64_t u;
        memcpy(&u, &v[i], 8);
        put_be64(data + 8 * i, u);
    }
    tg_tensor *t = tg_npy_read(npy_buf, make_npy(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (3,), }",
                                                 data, 24));
    CHECK(t && t->dtype == TG_FLOAT64 && t->ndim == 1 && t->shape[0] == 3);
    for (int i = 0; t && i < 3; i++)
        CHECK(tg_get(t, i) == v[i]);
    tg_release(t);
}

TEST(npy_read_fortran_f4)
{
    /* a[i][j] = 10*i + j stored column by column */
    const float data[6] = {0, 10, 1, 11, 2, 12};
    tg_tensor *t = tg_npy_read(npy_buf, make_npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
                                                 data, sizeof data));
    CHECK(t && t->dtype == TG_FLOAT32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3);
    CHECK(t && tg_is_contiguous(t));
    for (int i = 0; t && i < 2; i++)
        for (int j = 0; j < 3; j++)
            CHECK(tg_get(t, i * 3 + j) == 10 * i + j);
    tg_release(t);
}

/* Fortran order with a conversion too: big-endian i4, 3-D. */
TEST(npy_read_fortran_i4_big_endian_3d)
{
    unsigned char data[24 * 4];
    int n = 0;
    for (int k = 0; k < 4; k++) /* column-major: the first index fastest */
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < 2; i++) {
                int32_t v = -(100 * i + 10 * j + k);
                uint32_t u = (uint32_t)v;
                for (int b = 0; b < 4; b++)
                    data[4 * n + b] = (unsigned char)(u >> (24 - 8 * b));
                n++;
            }
    tg_tensor *t = tg_npy_read(npy_buf, make_npy(1, "{'descr': '>i4', 'fortran_order': True, 'shape': (2, 3, 4)}",
                                                 data, sizeof data));
    CHECK(t && t->dtype == TG_INT64 && t->ndim == 3);
    for (int i = 0; t && i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                CHECK(tg_get(t, (i * 3 + j) * 4 + k) == -(100 * i + 10 * j + k));
    tg_release(t);
}

TEST(npy_read_versions_2_and_3)
{
    const double data[2] = {3.25, -1};
    for (int major = 2; major <= 3; major++) {
        tg_tensor *t = tg_npy_read(npy_buf, make_npy(major, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n",
                                                     data, sizeof data));
        CHECK(t && t->dtype == TG_FLOAT64 && t->numel == 2);
        CHECK(t && tg_get(t, 0) == 3.25 && tg_get(t, 1) == -1);
        tg_release(t);
    }
}

TEST(npy_read_i4_widened)
{
    const int32_t data[4] = {-1, INT32_MIN, INT32_MAX, 42};
    tg_tensor *t = tg_npy_read(npy_buf, make_npy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }",
                                                 data, sizeof data));
    CHECK(t && t->dtype == TG_INT64);
    for (int i = 0; t && i < 4; i++)
        CHECK(((int64_t *)tg_data(t))[i] == data[i]);
    tg_release(t);
}

TEST(npy_read_b1)
{
    const unsigned char data[4] = {0, 1, 2, 255};
    tg_tensor *t = tg_npy_read(npy_buf, make_npy(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2, 2), }",
                                                 data, sizeof data));
    CHECK(t && t->dtype == TG_BOOL && t->ndim == 2);
    for (int i = 0; t && i < 4; i++) /* any non-zero byte is true, stored as 1 */
        CHECK(((unsigned char *)tg_data(t))[i] == (i > 0));
    tg_release(t);
}

/* Dicts written other ways than NumPy's, all valid Python literals. */
TEST(npy_read_header_variants)
{
    static const char *dicts[] = {
        "{'shape': (2, 3), 'fortran_order': False, 'descr': '<i8'}",
        "{\"descr\": \"<i8\", \"fortran_order\": False, \"shape\": (2,3)}      \n",
        "{ 'descr' : '=i8' ,'fortran_order':False,'shape':( 2 , 3 , ) , }",
        "{'descr': 'i8', 'fortran_order': False, 'shape': (2L, 3L), }\n",
        "{'descr': '<i8',\n 'fortran_order': False,\n 'shape': (2, 3)}\t\r\n",
    };
    const int64_t data[6] = {1, 2, 3, 4, 5, 6};
    for (size_t i = 0; i < sizeof dicts / sizeof *dicts; i++) {
        tg_tensor *t = tg_npy_read(npy_buf, make_npy(1, dicts[i], data, sizeof data));
        CHECK(t && t->dtype == TG_INT64 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3);
        CHECK(t && tg_get(t, 5) == 6);
        tg_release(t);
        tg_error_clear();
    }
}

/* ---- refusals ---- */

TEST(npy_refuse_prefix)
{
    const float data[1] = {1};
    size_t n = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", data, 4);
    REFUSED("", 0, "magic");
    REFUSED("\x93NUMPZ\x01\x00", 8, "magic");
    REFUSED("{\"data\": [1]}", 13, "magic");
    REFUSED(npy_buf, 7, "truncated");
    REFUSED(npy_buf, 9, "truncated");
    npy_buf[6] = 4;
    REFUSED(npy_buf, n, "version 4.0");
    npy_buf[6] = 1, npy_buf[7] = 1;
    REFUSED(npy_buf, n, "version 1.1");
    npy_buf[6] = 0, npy_buf[7] = 0;
    REFUSED(npy_buf, n, "version");
    /* a header length past the end of the file */
    n = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", NULL, 0);
    REFUSED(npy_buf, n - 1, "past the end");
    n = make_npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", NULL, 0);
    npy_buf[11] = 0x80; /* 2 GiB */
    REFUSED(npy_buf, n, "past the end");
}

TEST(npy_refuse_malformed_dict)
{
    static const struct { const char *dict, *word; } cases[] = {
        {"", "malformed"},
        {"[]", "malformed"},
        {"{'descr': '<f4', 'fortran_order': False}", "no 'shape'"},
        {"{'fortran_order': False, 'shape': ()}", "no 'descr'"},
        {"{'descr': '<f4', 'shape': ()}", "no 'fortran_order'"},
        {"{'descr' '<f4', 'fortran_order': False, 'shape': ()}", "':'"},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': ()}", "malformed"},
        {"{'descr': '<f4', 'fortran_order': 0, 'shape': ()}", "True or False"},
        {"{'descr': '<f4', 'fortran_order': false, 'shape': ()}", "True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1)}", "trailing comma"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", "tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1 2,)}", "malformed"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (,)}", "malformed"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1.5,)}", "malformed"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", "unknown key"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "twice"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", "after the dict"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", "malformed"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", "malformed"},
        {"{'descr': '<f4", "unterminated"},
        {"{'descr': '<\\f4', 'fortran_order': False, 'shape': (1,)}", "character"},
    };
    const float data[1] = {1};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        REFUSED_DICT(cases[i].dict, data, 4, cases[i].word);
    }
    /* a NUL byte in the padding */
    size_t n = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}_", data, 4);
    npy_buf[n - 5] = 0;
    REFUSED(npy_buf, n, "after the dict");
}

TEST(npy_refuse_dtypes)
{
    static const struct { const char *descr, *word; } cases[] = {
        {"'|O'", "object"},
        {"[('a', '<f4'), ('b', '<i8')]", "structured"},
        {"'<c8'", "complex"},
        {"'<c16'", "complex"},
        {"'<u2'", "unsigned"},
        {"'|u1'", "unsupported .npy dtype '|u1'"},
        {"'<f2'", "half"},
        {"'<i2'", "'<i2'"},
        {"'<U5'", "strings"},
        {"'<M8[ns]'", "unsupported"},
        {"'float32'", "unsupported"},
        {"''", "unsupported"},
    };
    char dict[256];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(dict, sizeof dict, "{'descr': %s, 'fortran_order': False, 'shape': (), }", cases[i].descr);
        REFUSED_DICT(dict, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16, cases[i].word);
        tg_error_clear();
        tg_npy_read(npy_buf, make_npy(1, dict, NULL, 0));
        CHECK(strstr(tg_errmsg(), "f4, f8, i8, i4, b1")); /* says what is supported */
        tg_error_clear();
    }
}

TEST(npy_refuse_shapes)
{
    REFUSED_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627777,), }", NULL, 0,
                 "too many elements");
    REFUSED_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }",
                 NULL, 0, "too many elements");
    REFUSED_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", NULL, 0,
                 "overflows");
    REFUSED_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", NULL, 0, "negative");
    REFUSED_DICT("{'descr': '<f4', 'fortran_order': False, "
                 "'shape': (1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1), }", "\0\0\0\0", 4, "rank 17");
    /* sixteen dimensions are fine */
    tg_tensor *t = tg_npy_read(npy_buf, make_npy(1, "{'descr': '<f4', 'fortran_order': False, "
                                                    "'shape': (1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1), }", "\0\0\0\0", 4));
    CHECK(t && t->ndim == 16);
    tg_release(t);
}

TEST(npy_refuse_data_size)
{
    const double data[4] = {1, 2, 3, 4};
    const char *dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
    REFUSED_DICT(dict, data, 16, "truncated");
    REFUSED_DICT(dict, data, 16, "need 24 bytes, but only 16");
    REFUSED_DICT(dict, data, 0, "truncated");
    REFUSED_DICT(dict, data, 32, "8 bytes after the data");
    REFUSED_DICT("{'descr': '<f8', 'fortran_order': False, 'shape': (0,), }", data, 1, "1 bytes after the data");
    /* a header that claims fewer bytes than the dict has */
    size_t n = make_npy(1, dict, data, 24);
    npy_buf[8] -= 10;
    REFUSED(npy_buf, n, "malformed");
    /* ... or more: the data is read as header */
    n = make_npy(1, dict, data, 24);
    npy_buf[8] += 8;
    REFUSED(npy_buf, n, "after the dict");
}

/* Every prefix of a good file is refused, never read past its end. */
TEST(npy_refuse_every_truncation)
{
    static const int64_t shape[] = {2, 3};
    tg_tensor *t = random_tensor(TG_FLOAT32, 2, shape);
    size_t len;
    char *b = to_npy(t, &len);
    for (size_t n = 0; b && n < len; n++) {
        char *copy = malloc(n ? n : 1); /* exactly n bytes, so valgrind sees overreads */
        memcpy(copy, b, n);
        tg_tensor *r = tg_npy_read(copy, n);
        CHECK(!r && tg_errcode() == TG_EINPUT);
        tg_release(r);
        tg_error_clear();
        free(copy);
    }
    free(b);
    tg_release(t);
}

/* ---- files and arguments ---- */

TEST(read_file_errors)
{
    size_t len;
    CHECK(tg_read_file("/nonexistent/x.npy", &len) == NULL);
    CHECK(tg_errcode() == TG_ERESOURCE);
    CHECK(!strcmp(tg_errmsg(), "cannot open '/nonexistent/x.npy': No such file or directory"));
    tg_error_clear();
    CHECK(tg_read_file("/tmp", &len) == NULL);
    CHECK(tg_errcode() == TG_ERESOURCE && strstr(tg_errmsg(), "'/tmp' is a directory"));
    tg_error_clear();
}

TEST(read_file_contents)
{
    if (!make_dir())
        return;
    char path[128];
    snprintf(path, sizeof path, "%s/a.bin", tmp_dir);
    static char big[200000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)test_rand();
    CHECK(write_bytes(path, big, sizeof big));
    size_t len = 0;
    char *b = tg_read_file(path, &len);
    CHECK(b && len == sizeof big && !memcmp(b, big, len) && b[len] == 0);
    tg_free(b);
    CHECK(write_bytes(path, "", 0));
    b = tg_read_file(path, &len);
    CHECK(b && len == 0 && b[0] == 0);
    tg_free(b);
    rm_dir();
}

/* Runs tg_read_file("-") with standard input replaced by fd (-1: closed). */
static char *read_stdin_from(int fd, size_t *len)
{
    int saved = dup(STDIN_FILENO);
    if (fd >= 0)
        dup2(fd, STDIN_FILENO);
    else
        close(STDIN_FILENO);
    char *b = tg_read_file("-", len);
    dup2(saved, STDIN_FILENO);
    close(saved);
    return b;
}

TEST(read_file_stdin)
{
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(write(p[1], "[1, 2]", 6) == 6);
    close(p[1]);
    size_t len;
    char *b = read_stdin_from(p[0], &len);
    close(p[0]);
    CHECK(b && len == 6 && !strcmp(b, "[1, 2]"));
    tg_free(b);
    CHECK(read_stdin_from(-1, &len) == NULL);
    CHECK(tg_errcode() == TG_ERESOURCE && strstr(tg_errmsg(), "cannot read standard input"));
    tg_error_clear();
}

/* A pipe longer than the first buffer, so it must grow. */
TEST(read_file_stdin_grows)
{
    if (!make_dir())
        return;
    char path[128];
    snprintf(path, sizeof path, "%s/fifo", tmp_dir);
    static char big[300000];
    memset(big, 'x', sizeof big);
    CHECK(write_bytes(path, big, sizeof big));
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cat '%s'", path);
    FILE *pipe_in = popen(cmd, "r");
    size_t len = 0;
    char *b = pipe_in ? read_stdin_from(fileno(pipe_in), &len) : NULL;
    if (pipe_in)
        pclose(pipe_in);
    CHECK(b && len == sizeof big && b[len - 1] == 'x' && b[len] == 0);
    tg_free(b);
    rm_dir();
}

TEST(load_arg_npy)
{
    if (!make_dir())
        return;
    char path[128], missing[128], empty[128];
    snprintf(path, sizeof path, "%s/t.npy", tmp_dir);
    snprintf(missing, sizeof missing, "%s/missing.npy", tmp_dir);
    snprintf(empty, sizeof empty, "%s/empty.json", tmp_dir);
    static const int64_t shape[] = {3, 2};
    tg_tensor *t = random_tensor(TG_FLOAT32, 2, shape);
    CHECK(tg_save(path, t) == TG_OK);

    int rg = 5;
    tg_tensor *r = tg_load_arg(path, -1, &rg);
    CHECK(same_tensor(t, r) && rg == -1);
    tg_release(r);

    r = tg_load_arg(path, TG_FLOAT64, NULL); /* the hint casts */
    CHECK(r && r->dtype == TG_FLOAT64 && tg_get(r, 5) == tg_get(t, 5));
    tg_release(r);

    int fd = open(path, O_RDONLY);
    size_t len;
    char *b = read_stdin_from(fd, &len); /* "-" reads the same bytes */
    close(fd);
    r = b ? tg_npy_read(b, len) : NULL;
    CHECK(same_tensor(t, r));
    tg_release(r);
    tg_free(b);

    CHECK(tg_load_arg(missing, -1, NULL) == NULL && tg_errcode() == TG_ERESOURCE);
    CHECK(strstr(tg_errmsg(), "cannot open") && strstr(tg_errmsg(), "No such file"));
    tg_error_clear();
    CHECK(tg_load_arg("no_such_file", -1, NULL) == NULL && tg_errcode() == TG_ERESOURCE);
    tg_error_clear();
    CHECK(write_bytes(empty, " \n", 2));
    CHECK(tg_load_arg(empty, -1, NULL) == NULL && tg_errcode() == TG_EINPUT);
    CHECK(strstr(tg_errmsg(), "empty input: expected a JSON tensor or a .npy file"));
    tg_error_clear();
    CHECK(tg_load_arg("", -1, NULL) == NULL && tg_errcode() == TG_EINPUT);
    CHECK(strstr(tg_errmsg(), "empty input"));
    tg_error_clear();
    CHECK(tg_load_arg(tmp_dir, -1, NULL) == NULL && tg_errcode() == TG_ERESOURCE);
    CHECK(strstr(tg_errmsg(), "is a directory"));
    tg_error_clear();

    /* a broken .npy file: the message names the file */
    b = tg_read_file(path, &len);
    CHECK(b && write_bytes(path, b, len - 1));
    tg_free(b);
    CHECK(tg_load_arg(path, -1, NULL) == NULL && tg_errcode() == TG_EINPUT);
    CHECK(strstr(tg_errmsg(), path) && strstr(tg_errmsg(), "truncated"));
    tg_error_clear();
    tg_release(t);
    rm_dir();
}

/* Routing to the JSON reader: inline text, files, and a file whose name
 * looks like JSON. */
TEST(load_arg_json)
{
    tg_tensor *r = tg_load_arg(" [1, 2, 3]", -1, NULL);
    CHECK(r && r->ndim == 1 && r->shape[0] == 3);
    tg_release(r);
    r = tg_load_arg("-2.5", -1, NULL);
    CHECK(r && r->ndim == 0 && tg_item(r) == -2.5);
    tg_release(r);
    CHECK(tg_load_arg("[1, 2", -1, NULL) == NULL && tg_errcode() == TG_EINPUT);
    tg_error_clear();
    CHECK(tg_load_arg("nothing_here", -1, NULL) == NULL && tg_errcode() == TG_ERESOURCE);
    tg_error_clear();
    if (!make_dir())
        return;
    char path[128], cwd[4096];
    snprintf(path, sizeof path, "%s/x.json", tmp_dir);
    CHECK(write_bytes(path, "{\"data\": [1, 2, 3, 4], \"shape\": [2, 2]}\n", 40));
    r = tg_load_arg(path, -1, NULL);
    CHECK(r && r->ndim == 2 && tg_get(r, 3) == 4);
    tg_release(r);
    /* tg-formats(5): an argument that parses as JSON is inline JSON, even
     * when a file of that name exists; one that does not parse is the file */
    CHECK(getcwd(cwd, sizeof cwd) && chdir(tmp_dir) == 0);
    CHECK(write_bytes("[7]", "[8, 9]", 6));
    r = tg_load_arg("[7]", -1, NULL);
    CHECK(r && r->numel == 1 && tg_get(r, 0) == 7);
    tg_release(r);
    CHECK(write_bytes("[7", "[8, 9]", 6));
    r = tg_load_arg("[7", -1, NULL);
    CHECK(r && r->numel == 2 && tg_get(r, 0) == 8);
    tg_release(r);
    unlink("[7");
    CHECK(chdir(cwd) == 0);
    rm_dir();
}

TEST(save_errors)
{
    static const int64_t shape[] = {4};
    tg_tensor *t = tg_zeros(TG_FLOAT32, 1, shape);
    CHECK(tg_save("/nonexistent/out.npy", t) == TG_ERESOURCE);
    CHECK(!strcmp(tg_errmsg(), "cannot write '/nonexistent/out.npy': No such file or directory"));
    tg_error_clear();
    if (make_dir()) {
        char link[128];
        snprintf(link, sizeof link, "%s/full.npy", tmp_dir);
        /* a full disk shows when the file is closed */
        if (symlink("/dev/full", link) == 0) {
            CHECK(tg_save(link, t) == TG_ERESOURCE);
            CHECK(strstr(tg_errmsg(), "No space left"));
            tg_error_clear();
        }
        CHECK(tg_save(tmp_dir, t) == TG_ERESOURCE); /* a directory */
        tg_error_clear();
        rm_dir();
    }
    tg_release(t);
}
