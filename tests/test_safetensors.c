/* safetensors reader / writer (model/io/safetensors.c): round trips of every
 * dtype (scalar and zero-size tensors, metadata), file vs memory writer bytes,
 * a hand-built file following the spec, rejection of malformed headers with
 * LIRF_E_FORMAT and a message naming the problem, lirf_st_expect messages,
 * atomic writes, and a truncation / byte-flip sweep. No OpenCL. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"
#include "util.h"

/* ---- helpers ------------------------------------------------------------ */

static char g_dir[256];

static const char *tmpdir(void) {
    if (!g_dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(g_dir, sizeof g_dir, "%s/lirf_st_XXXXXX", base && *base ? base : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(g_dir));
    }
    return g_dir;
}

/* Removes the files of a folder (one level of subfolders too) and the folder. */
static void rm_dir(const char *dir, int depth) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[768];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
                if (unlink(p) != 0 && depth > 0) rm_dir(p, depth - 1);
            }
        closedir(d);
    }
    rmdir(dir);
}

static void rm_tmpdir(void) {
    if (g_dir[0]) rm_dir(g_dir, 1);
}

static void tpath(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmpdir(), name);
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const void *b, size_t len) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, len, f), len);
    fclose(f);
}

/* Number of entries in the temp folder whose name contains `part`. */
static int count_files(const char *part) {
    DIR *d = opendir(tmpdir());
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, part)) n++;
    closedir(d);
    return n;
}

/* A file: u64 LE len(json) | json | dlen data bytes (0, 1, 2, ...). */
static unsigned char *mkfile(const char *json, size_t dlen, size_t *len) {
    size_t n = strlen(json);
    *len = 8 + n + dlen;
    unsigned char *b = malloc(*len + 1);
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, json, n);
    for (size_t i = 0; i < dlen; i++) b[8 + n + i] = (unsigned char)i;
    return b;
}

static void set_len(unsigned char *b, uint64_t n) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(n >> (8 * i));
}

/* Reading buf must fail with LIRF_E_FORMAT, a message containing each needle
 * (NULL-terminated list), and a zeroed result. */
static void reject_buf(const void *buf, size_t len, const char *const *needles) {
    lirf_safetensors st;
    memset(&st, 0x5a, sizeof st);
    lirf_clear_error();
    lirf_status s = lirf_st_read_mem(buf, len, "bad.safetensors", &st);
    const char *msg = lirf_error_message();
    ck_assert_msg(s == LIRF_E_FORMAT, "expected LIRF_E_FORMAT, got %s (%s)", lirf_status_name(s),
                  msg);
    ck_assert_msg(strstr(msg, "bad.safetensors: ") != NULL, "message lacks the name: %s", msg);
    for (const char *const *n = needles; *n; n++)
        ck_assert_msg(strstr(msg, *n) != NULL, "message lacks '%s': %s", *n, msg);
    ck_assert_ptr_null(st.tensors);
    ck_assert_ptr_null(st.meta_keys);
    ck_assert_uint_eq(st.count, 0);
    ck_assert_uint_eq(st.meta_count, 0);
}

static void reject_json(const char *json, size_t dlen, const char *n1, const char *n2) {
    size_t len;
    unsigned char *b = mkfile(json, dlen, &len);
    const char *needles[3] = {n1, n2, NULL};
    reject_buf(b, len, needles);
    free(b);
}

/* The tensors of the round trip: every dtype, a scalar, zero-size tensors. */
static float F32A[6] = {1.5f, -2.25f, 3e-7f, -0.0f, 1e30f, 7.0f};
static int64_t I64S[1] = {-1234567890123ll};
static int32_t I32A[5] = {0, -1, 2147483647, -2147483647 - 1, 42};
static uint8_t U8A[7] = {0, 1, 127, 128, 200, 254, 255};
static float DUMMY;

enum { NT = 6 };
static void make_tensors(lirf_st_tensor t[NT]) {
    memset(t, 0, NT * sizeof *t);
    t[0] = (lirf_st_tensor){.name = "layer1.0.conv1.weight", .dtype = LIRF_F32, .ndim = 2,
                            .shape = {2, 3}, .nbytes = sizeof F32A, .data = F32A};
    t[1] = (lirf_st_tensor){.name = "bn1.num_batches_tracked", .dtype = LIRF_I64, .ndim = 0,
                            .nbytes = 8, .data = I64S};
    t[2] = (lirf_st_tensor){.name = "empty", .dtype = LIRF_F32, .ndim = 1, .shape = {0},
                            .nbytes = 0, .data = NULL};
    t[3] = (lirf_st_tensor){.name = "labels", .dtype = LIRF_I32, .ndim = 1, .shape = {5},
                            .nbytes = sizeof I32A, .data = I32A};
    t[4] = (lirf_st_tensor){.name = "bytes \xc3\xa9", .dtype = LIRF_U8, .ndim = 3,
                            .shape = {1, 7, 1}, .nbytes = sizeof U8A, .data = U8A};
    t[5] = (lirf_st_tensor){.name = "empty2", .dtype = LIRF_I64, .ndim = 2, .shape = {3, 0},
                            .nbytes = 0, .data = &DUMMY};
}

static const char *const MKEYS[] = {"format", "lirf.note"};
static const char *const MVALS[] = {"pt", "a \"quoted\" value\nwith a newline"};

static void check_same(const lirf_safetensors *st, const lirf_st_tensor *want, size_t n) {
    ck_assert_uint_eq(st->count, n);
    for (size_t i = 0; i < n; i++) {
        const lirf_st_tensor *g = &st->tensors[i]; /* header order = written order */
        ck_assert_str_eq(g->name, want[i].name);
        ck_assert_int_eq(g->dtype, want[i].dtype);
        ck_assert_int_eq(g->ndim, want[i].ndim);
        for (int d = 0; d < g->ndim; d++) ck_assert_int_eq(g->shape[d], want[i].shape[d]);
        ck_assert_uint_eq(g->nbytes, want[i].nbytes);
        ck_assert_ptr_nonnull(g->data);
        if (g->nbytes) ck_assert_int_eq(memcmp(g->data, want[i].data, g->nbytes), 0);
        ck_assert_ptr_eq(lirf_st_find(st, want[i].name), g);
    }
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(dtype_helpers) {
    ck_assert_uint_eq(lirf_dtype_size(LIRF_F32), 4);
    ck_assert_uint_eq(lirf_dtype_size(LIRF_I64), 8);
    ck_assert_uint_eq(lirf_dtype_size(LIRF_I32), 4);
    ck_assert_uint_eq(lirf_dtype_size(LIRF_U8), 1);
    ck_assert_str_eq(lirf_dtype_name(LIRF_I64), "I64");
    ck_assert_str_eq(lirf_dtype_name(LIRF_U8), "U8");
    ck_assert_uint_eq(lirf_dtype_size(LIRF_I8), 1);
    ck_assert_uint_eq(lirf_dtype_size(LIRF_F16), 2);
    ck_assert_str_eq(lirf_dtype_name(LIRF_I8), "I8");
    ck_assert_str_eq(lirf_dtype_name(LIRF_F16), "F16");
    lirf_st_tensor t = {.ndim = 0};
    ck_assert_uint_eq(lirf_st_numel(&t), 1);
    t.ndim = 3, t.shape[0] = 2, t.shape[1] = 3, t.shape[2] = 5;
    ck_assert_uint_eq(lirf_st_numel(&t), 30);
    t.shape[1] = 0;
    ck_assert_uint_eq(lirf_st_numel(&t), 0);
    t.shape[0] = t.shape[1] = t.shape[2] = (int64_t)1 << 40;
    ck_assert_uint_eq(lirf_st_numel(&t), SIZE_MAX);
}
END_TEST

START_TEST(round_trip_file_and_memory) {
    lirf_st_tensor t[NT];
    make_tensors(t);
    char path[512];
    tpath(path, sizeof path, "rt.safetensors");
    ck_assert_msg(lirf_st_write(path, t, NT, MKEYS, MVALS, 2) == LIRF_OK, "%s",
                  lirf_error_message());
    void *mem;
    size_t mlen, flen;
    ck_assert_int_eq(lirf_st_write_mem(t, NT, MKEYS, MVALS, 2, &mem, &mlen), LIRF_OK);
    unsigned char *file = slurp(path, &flen);
    ck_assert_uint_eq(flen, mlen);
    ck_assert_int_eq(memcmp(file, mem, flen), 0);

    /* layout: header length a multiple of 8, JSON then space padding, data */
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | file[i];
    ck_assert_uint_eq(n % 8, 0);
    ck_assert_uint_eq(flen, 8 + n + sizeof F32A + 8 + sizeof I32A + sizeof U8A);
    ck_assert_int_eq(file[8], '{');
    size_t last = 8 + n - 1;
    while (file[last] == ' ') last--;
    ck_assert_int_eq(file[last], '}');
    ck_assert_uint_lt(8 + n - 1 - last, 8);
    ck_assert_int_eq(memcmp(file + 8 + n, F32A, sizeof F32A), 0);
    /* metadata first, compact JSON, tensors in the given order */
    ck_assert_msg(!memcmp(file + 8, "{\"__metadata__\":{\"format\":\"pt\",", 31), "%.*s", (int)n,
                  file + 8);
    ck_assert_ptr_nonnull(strstr((char *)file + 8,
                                 "\"layer1.0.conv1.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],"
                                 "\"data_offsets\":[0,24]},\"bn1.num_batches_tracked\":{\"dtype\":"
                                 "\"I64\",\"shape\":[],\"data_offsets\":[24,32]}"));

    lirf_safetensors st;
    ck_assert_msg(lirf_st_read(path, &st) == LIRF_OK, "%s", lirf_error_message());
    check_same(&st, t, NT);
    ck_assert_uint_eq(st.meta_count, 2);
    ck_assert_str_eq(lirf_st_meta(&st, "format"), "pt");
    ck_assert_str_eq(lirf_st_meta(&st, "lirf.note"), MVALS[1]);
    ck_assert_ptr_null(lirf_st_meta(&st, "absent"));
    ck_assert_ptr_null(lirf_st_find(&st, "absent"));
    ck_assert_ptr_null(lirf_st_find(&st, "__metadata__"));
    lirf_st_free(&st);
    ck_assert_ptr_null(st.tensors);
    lirf_st_free(&st); /* idempotent */

    ck_assert_int_eq(lirf_st_read_mem(mem, mlen, "mem", &st), LIRF_OK);
    check_same(&st, t, NT);
    lirf_st_free(&st);

    /* no metadata, no tensors */
    free(mem);
    ck_assert_int_eq(lirf_st_write_mem(t, 1, NULL, NULL, 0, &mem, &mlen), LIRF_OK);
    ck_assert_int_eq(lirf_st_read_mem(mem, mlen, "mem", &st), LIRF_OK);
    check_same(&st, t, 1);
    ck_assert_uint_eq(st.meta_count, 0);
    ck_assert_ptr_null(strstr((char *)mem + 8, "__metadata__"));
    lirf_st_free(&st);
    free(mem);
    ck_assert_int_eq(lirf_st_write_mem(NULL, 0, NULL, NULL, 0, &mem, &mlen), LIRF_OK);
    ck_assert_uint_eq(mlen, 16);
    ck_assert_int_eq(memcmp((char *)mem + 8, "{}      ", 8), 0);
    ck_assert_int_eq(lirf_st_read_mem(mem, mlen, "mem", &st), LIRF_OK);
    ck_assert_uint_eq(st.count, 0);
    lirf_st_free(&st);
    free(mem);
    free(file);
    unlink(path);
}
END_TEST

/* Bytes built by hand from the spec: no padding (the data section starts at an
 * odd offset), tensors listed out of offset order, metadata in the middle. */
START_TEST(hand_built_file_reads) {
    const char *json = "{\"b\": {\"dtype\": \"I64\", \"shape\": [], \"data_offsets\": [8, 16]},\n"
                       " \"__metadata__\": {\"k\": \"v\"},\n"
                       " \"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       " \"c\":{\"data_offsets\":[16,19],\"shape\":[3,1],\"dtype\":\"U8\"}}";
    size_t len;
    unsigned char *b = mkfile(json, 19, &len);
    ck_assert_uint_ne((8 + strlen(json)) % 8, 0);
    unsigned char *d = b + 8 + strlen(json);
    const float a[2] = {1.5f, -2.0f};
    const int64_t s = 42;
    memcpy(d, a, 8);
    memcpy(d + 8, &s, 8);
    d[16] = 9, d[17] = 8, d[18] = 7;
    char path[512];
    tpath(path, sizeof path, "hand.safetensors");
    spit(path, b, len);

    lirf_safetensors st;
    ck_assert_msg(lirf_st_read(path, &st) == LIRF_OK, "%s", lirf_error_message());
    ck_assert_uint_eq(st.count, 3);
    ck_assert_str_eq(st.tensors[0].name, "b");
    const lirf_st_tensor *t;
    const int64_t sa[1] = {2}, sc[2] = {3, 1};
    ck_assert_int_eq(lirf_st_expect(&st, "a", LIRF_F32, 1, sa, &t), LIRF_OK);
    ck_assert(((const float *)t->data)[0] == 1.5f && ((const float *)t->data)[1] == -2.0f);
    ck_assert_uint_eq((uintptr_t)t->data % 8, 0);
    ck_assert_int_eq(lirf_st_expect(&st, "b", LIRF_I64, 0, NULL, &t), LIRF_OK);
    ck_assert_int_eq(*(const int64_t *)t->data, 42);
    ck_assert_uint_eq((uintptr_t)t->data % 8, 0);
    ck_assert_int_eq(lirf_st_expect(&st, "c", LIRF_U8, 2, sc, &t), LIRF_OK);
    ck_assert_int_eq(memcmp(t->data, "\x09\x08\x07", 3), 0);
    ck_assert_str_eq(lirf_st_meta(&st, "k"), "v");
    lirf_st_free(&st);
    free(b);
    unlink(path);
}
END_TEST

/* A file written by the reference implementation (Python safetensors 0.8.0,
 * safetensors.torch.save_file, metadata {"format": "pt"}): we read it, and
 * writing the same tensors in the same order gives the same bytes. */
static const char PY_FILE[] =
    "\x60\x01\x00\x00\x00\x00\x00\x00" /* header length 352 */
    "{\"__metadata__\":{\"format\":\"pt\"},\"bn.num_batches_tracked\":{\"dtype\":\"I64\","
    "\"shape\":[],\"data_offsets\":[0,8]},\"conv.weight\":{\"dtype\":\"F32\",\"shape\":[2"
    ",3],\"data_offsets\":[8,32]},\"empty\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offs"
    "ets\":[32,32]},\"labels\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[32,40]"
    "},\"bytes\":{\"dtype\":\"U8\",\"shape\":[5,1],\"data_offsets\":[40,45]}}  "
    "\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\xc0\x3f\x00\x00\x10\xc0"
    "\xb0\x0f\xa1\x34\x00\x00\x00\x80\xca\xf2\x49\x71\x00\x00\xe0\x40"
    "\x03\x00\x00\x00\xfc\xff\xff\xff\x00\x01\x02\x03\x04";

START_TEST(reference_implementation_file) {
    const size_t len = sizeof PY_FILE - 1;
    ck_assert_uint_eq(len, 8 + 352 + 45);
    lirf_safetensors st;
    ck_assert_msg(lirf_st_read_mem(PY_FILE, len, "py.safetensors", &st) == LIRF_OK, "%s",
                  lirf_error_message());
    const float w[6] = {1.5f, -2.25f, 3e-7f, -0.0f, 1e30f, 7.0f};
    const int64_t nb = 7;
    const int32_t lab[2] = {3, -4};
    const uint8_t u[5] = {0, 1, 2, 3, 4};
    const lirf_st_tensor want[5] = {
        {.name = "bn.num_batches_tracked", .dtype = LIRF_I64, .ndim = 0, .nbytes = 8,
         .data = (void *)&nb},
        {.name = "conv.weight", .dtype = LIRF_F32, .ndim = 2, .shape = {2, 3}, .nbytes = 24,
         .data = (void *)w},
        {.name = "empty", .dtype = LIRF_F32, .ndim = 1, .shape = {0}, .nbytes = 0},
        {.name = "labels", .dtype = LIRF_I32, .ndim = 1, .shape = {2}, .nbytes = 8,
         .data = (void *)lab},
        {.name = "bytes", .dtype = LIRF_U8, .ndim = 2, .shape = {5, 1}, .nbytes = 5,
         .data = (void *)u},
    };
    check_same(&st, want, 5);
    ck_assert_uint_eq(st.meta_count, 1);
    ck_assert_str_eq(lirf_st_meta(&st, "format"), "pt");
    lirf_st_free(&st);
    const char *const k[] = {"format"}, *const v[] = {"pt"};
    void *mem;
    size_t mlen;
    ck_assert_int_eq(lirf_st_write_mem(want, 5, k, v, 1, &mem, &mlen), LIRF_OK);
    ck_assert_uint_eq(mlen, len);
    ck_assert_msg(memcmp(mem, PY_FILE, len) == 0, "lirf bytes differ from the reference's: %.*s",
                  (int)(mlen - 8), (char *)mem + 8);
    free(mem);
}
END_TEST

START_TEST(read_io_errors) {
    lirf_safetensors st;
    char path[512];
    tpath(path, sizeof path, "does-not-exist.safetensors");
    ck_assert_int_eq(lirf_st_read(path, &st), LIRF_E_IO);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "No such file"));
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "does-not-exist.safetensors"));
    ck_assert_int_eq(lirf_st_read(tmpdir(), &st), LIRF_E_IO);
    ck_assert_int_eq(lirf_st_read(NULL, &st), LIRF_E_NULL);
    ck_assert_int_eq(lirf_st_read(path, NULL), LIRF_E_NULL);
    ck_assert_int_eq(lirf_st_read_mem(NULL, 8, "x", &st), LIRF_E_NULL);
}
END_TEST

START_TEST(rejects_malformed) {
    /* size and header length */
    unsigned char small[5] = {0};
    const char *n_short[] = {"too short", NULL};
    reject_buf(small, 5, n_short);
    reject_buf(small, 0, n_short);
    size_t len;
    unsigned char *b = mkfile("{}", 0, &len);
    set_len(b, 100);
    const char *n_past[] = {"runs past the end", NULL};
    reject_buf(b, len, n_past);
    set_len(b, (uint64_t)1 << 40);
    const char *n_limit[] = {"exceeds the limit", NULL};
    reject_buf(b, len, n_limit);
    set_len(b, 0);
    const char *n_json[] = {"invalid JSON", NULL};
    reject_buf(b, len, n_json);
    free(b);

    reject_json("{\"a\":", 0, "invalid JSON header at line 1, column", NULL);
    reject_json("{\"a\": {\"dtype\": \"F32\",\n \"shape\": [1] \"data_offsets\": [0, 4]}}", 4,
                "at line 2", NULL);
    reject_json("[1, 2]", 0, "not an object", NULL);
    reject_json("{} x", 0, "invalid JSON", NULL);
    reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                8, "duplicate", NULL);
    reject_json("{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
                "tensor 'a'", "dtype 'BF16' is not supported");
    reject_json("{\"a\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'a'",
                "dtype is not a string");
    reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
                "tensor 'a'", "shape entry 0 is not a non-negative integer");
    reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,2.0],\"data_offsets\":[0,8]}}", 8,
                "tensor 'a'", "shape entry 1 is not a non-negative integer");
    reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8,
                "tensor 'a'", "shape entry 0");
    reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, "tensor 'a'",
                "shape is not a JSON array");
    reject_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}",
                1, "tensor 'a'", "9 dimensions");
    reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
                "\"data_offsets\":[0,0]}}", 0, "tensor 'a'", "too many elements");
    reject_json("{\"a\":{\"dtype\":\"I64\",\"shape\":[4611686018427387904],"
                "\"data_offsets\":[0,0]}}", 0, "tensor 'a'", "too many elements");
    reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
                "tensor 'a'", "outside the data section of 4 bytes");
    reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8,
                "tensor 'a'", "outside the data section");
    reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,-8]}}", 8,
                "tensor 'a'", "data_offsets is not");
    reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "tensor 'a'",
                "data_offsets is not");
    reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                "tensor 'a'", "hold 8 bytes but F32 [3] needs 12");
    reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                12, "tensor 'b'", "overlap tensor 'a'");
    reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
                8, "tensor 'z'", "overlap");
    reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                8, "overlap", NULL);
    reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
                20, "tensor 'b'", "gap of 4 bytes");
    reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
                "tensor 'a'", "gap of 4 bytes");
    reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12,
                "4 trailing bytes", NULL);
    reject_json("{}", 3, "3 trailing bytes", NULL);
    reject_json("{\"__metadata__\":{\"k\":1}}", 0, "metadata 'k'", "not a string");
    reject_json("{\"__metadata__\":[\"k\"]}", 0, "__metadata__", "not a JSON object");
    reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8,
                "tensor 'a'", "unexpected field 'x'");
    reject_json("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "tensor 'a'",
                "missing field 'shape'");
    reject_json("{\"a\":[0,8]}", 8, "tensor 'a'", "not a JSON object");
    /* untrusted names are printed escaped */
    reject_json("{\"a\\u0001'\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[0,2]}}", 2,
                "tensor 'a\\x01\\x27'", NULL);
    /* NUL bytes are not allowed in strings */
    reject_json("{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4,
                "invalid JSON", NULL);
}
END_TEST

START_TEST(expect_messages) {
    const float w[16 * 16 * 3 * 3] = {0};
    const int64_t one = 1;
    lirf_st_tensor t[2] = {
        {.name = "layer1.0.conv1.weight", .dtype = LIRF_F32, .ndim = 4, .shape = {16, 16, 3, 3},
         .nbytes = sizeof w, .data = (void *)w},
        {.name = "bn1.num_batches_tracked", .dtype = LIRF_I64, .ndim = 0, .nbytes = 8,
         .data = (void *)&one},
    };
    void *mem;
    size_t len;
    ck_assert_int_eq(lirf_st_write_mem(t, 2, NULL, NULL, 0, &mem, &len), LIRF_OK);
    lirf_safetensors st;
    ck_assert_int_eq(lirf_st_read_mem(mem, len, "checkpoint.safetensors", &st), LIRF_OK);
    const lirf_st_tensor *out = (const lirf_st_tensor *)&st;
    const int64_t good[4] = {16, 16, 3, 3}, bad[4] = {8, 8, 3, 3};
    ck_assert_int_eq(lirf_st_expect(&st, "layer1.0.conv1.weight", LIRF_F32, 4, good, &out),
                     LIRF_OK);
    ck_assert_ptr_eq(out, &st.tensors[0]);
    ck_assert_int_eq(lirf_st_expect(&st, "layer1.0.conv1.weight", LIRF_F32, 4, bad, &out),
                     LIRF_E_FORMAT);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(lirf_error_message(), "tensor 'layer1.0.conv1.weight' has shape "
                                               "[16,16,3,3], expected [8,8,3,3]"),
                  "%s", lirf_error_message());
    ck_assert_int_eq(lirf_st_expect(&st, "layer1.0.conv1.weight", LIRF_F32, 3, good, NULL),
                     LIRF_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "expected [16,16,3]"));
    ck_assert_int_eq(lirf_st_expect(&st, "layer1.0.conv1.weight", LIRF_I32, 4, good, NULL),
                     LIRF_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "has dtype F32, expected I32"));
    ck_assert_int_eq(lirf_st_expect(&st, "bn1.num_batches_tracked", LIRF_I64, 0, NULL, &out),
                     LIRF_OK);
    ck_assert_int_eq(*(const int64_t *)out->data, 1);
    ck_assert_int_eq(lirf_st_expect(&st, "bn1.num_batches_tracked", LIRF_I64, 1, good, NULL),
                     LIRF_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "has shape [], expected [16]"));
    ck_assert_int_eq(lirf_st_expect(&st, "fc.weight", LIRF_F32, 4, good, NULL), LIRF_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "tensor 'fc.weight' not found"));
    ck_assert_int_eq(lirf_st_expect(&st, "fc.weight", LIRF_F32, 4, NULL, NULL), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_st_expect(NULL, "fc.weight", LIRF_F32, 0, NULL, NULL), LIRF_E_NULL);
    lirf_st_free(&st);
    free(mem);
}
END_TEST

START_TEST(write_rejects_bad_arguments) {
    lirf_st_tensor t[NT];
    make_tensors(t);
    void *mem = (void *)1;
    size_t len = 1;
    lirf_st_tensor b = t[0];
    b.nbytes = 20;
    ck_assert_int_eq(lirf_st_write_mem(&b, 1, NULL, NULL, 0, &mem, &len), LIRF_E_SHAPE);
    ck_assert_ptr_null(mem);
    b = t[0], b.data = NULL;
    ck_assert_int_eq(lirf_st_write_mem(&b, 1, NULL, NULL, 0, &mem, &len), LIRF_E_NULL);
    b = t[0], b.name = NULL;
    ck_assert_int_eq(lirf_st_write_mem(&b, 1, NULL, NULL, 0, &mem, &len), LIRF_E_NULL);
    b = t[0], b.name = "__metadata__";
    ck_assert_int_eq(lirf_st_write_mem(&b, 1, NULL, NULL, 0, &mem, &len), LIRF_E_INVALID);
    b = t[0], b.name = "bad \xff utf8";
    ck_assert_int_eq(lirf_st_write_mem(&b, 1, NULL, NULL, 0, &mem, &len), LIRF_E_INVALID);
    b = t[0], b.ndim = 9;
    ck_assert_int_eq(lirf_st_write_mem(&b, 1, NULL, NULL, 0, &mem, &len), LIRF_E_INVALID);
    b = t[0], b.shape[1] = -3;
    ck_assert_int_eq(lirf_st_write_mem(&b, 1, NULL, NULL, 0, &mem, &len), LIRF_E_INVALID);
    b = t[0], b.dtype = (lirf_dtype)9;
    ck_assert_int_eq(lirf_st_write_mem(&b, 1, NULL, NULL, 0, &mem, &len), LIRF_E_INVALID);
    lirf_st_tensor two[2] = {t[0], t[0]};
    ck_assert_int_eq(lirf_st_write_mem(two, 2, NULL, NULL, 0, &mem, &len), LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "duplicate"));
    const char *const dk[] = {"k", "k"}, *const dv[] = {"1", "2"};
    ck_assert_int_eq(lirf_st_write_mem(t, 1, dk, dv, 2, &mem, &len), LIRF_E_INVALID);
    const char *const nv[] = {"1", NULL};
    ck_assert_int_eq(lirf_st_write_mem(t, 1, MKEYS, nv, 2, &mem, &len), LIRF_E_NULL);
    ck_assert_int_eq(lirf_st_write_mem(NULL, 1, NULL, NULL, 0, &mem, &len), LIRF_E_NULL);
    ck_assert_int_eq(lirf_st_write_mem(t, 1, NULL, NULL, 0, NULL, &len), LIRF_E_NULL);
    ck_assert_ptr_null(mem);
}
END_TEST

START_TEST(atomic_write) {
    lirf_st_tensor t[NT];
    make_tensors(t);
    char path[512], missing[600];
    tpath(path, sizeof path, "atomic.safetensors");
    snprintf(missing, sizeof missing, "%s/no-such-folder/x.safetensors", tmpdir());
    ck_assert_int_eq(lirf_st_write(missing, t, NT, NULL, NULL, 0), LIRF_E_IO);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "No such file"));
    struct stat sb;
    snprintf(missing, sizeof missing, "%s/no-such-folder", tmpdir());
    ck_assert_int_ne(stat(missing, &sb), 0);
    ck_assert_int_eq(count_files("no-such"), 0);

    ck_assert_int_eq(lirf_st_write(path, t, 2, NULL, NULL, 0), LIRF_OK);
    size_t len0, len1;
    unsigned char *before = slurp(path, &len0);
    /* a write that fails part-way through validation leaves the old file */
    lirf_st_tensor bad[NT];
    memcpy(bad, t, sizeof bad);
    bad[4].data = NULL;
    ck_assert_int_eq(lirf_st_write(path, bad, NT, MKEYS, MVALS, 2), LIRF_E_NULL);
    unsigned char *after = slurp(path, &len1);
    ck_assert_uint_eq(len0, len1);
    ck_assert_int_eq(memcmp(before, after, len0), 0);
    ck_assert_int_eq(count_files(".tmp."), 0);
    free(after);

    /* renaming onto a folder fails after the temp file was written: the temp
     * file is removed, the folder untouched */
    char dirpath[512];
    tpath(dirpath, sizeof dirpath, "a-folder");
    ck_assert_int_eq(mkdir(dirpath, 0700), 0);
    char inner[600];
    snprintf(inner, sizeof inner, "%s/keep", dirpath);
    spit(inner, "x", 1);
    ck_assert_int_eq(lirf_st_write(dirpath, t, NT, NULL, NULL, 0), LIRF_E_IO);
    ck_assert_int_eq(count_files(".tmp."), 0);
    ck_assert_int_eq(stat(inner, &sb), 0);
    unlink(inner);
    rmdir(dirpath);

    /* a successful write replaces the file */
    ck_assert_int_eq(lirf_st_write(path, t, NT, MKEYS, MVALS, 2), LIRF_OK);
    after = slurp(path, &len1);
    ck_assert_uint_ne(len0, len1);
    lirf_safetensors st;
    ck_assert_int_eq(lirf_st_read(path, &st), LIRF_OK);
    check_same(&st, t, NT);
    lirf_st_free(&st);
    ck_assert_int_eq(count_files(".tmp."), 0);
    free(before);
    free(after);
    unlink(path);
}
END_TEST

/* Every truncation of a valid file is rejected; flipping any header byte
 * never crashes and anything accepted is self-consistent. */
START_TEST(truncation_and_flip_sweep) {
    lirf_st_tensor t[NT];
    make_tensors(t);
    void *mem;
    size_t len;
    ck_assert_int_eq(lirf_st_write_mem(t, NT, MKEYS, MVALS, 2, &mem, &len), LIRF_OK);
    lirf_safetensors st;
    for (size_t l = 0; l < len; l++) {
        unsigned char *cut = malloc(l ? l : 1); /* exact size: over-reads show in ASan */
        ck_assert_ptr_nonnull(cut);
        memcpy(cut, mem, l);
        lirf_status s = lirf_st_read_mem(cut, l, "cut", &st);
        ck_assert_msg(s == LIRF_E_FORMAT, "truncated to %zu of %zu bytes: %s", l, len,
                      lirf_status_name(s));
        ck_assert_ptr_null(st.tensors);
        free(cut);
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | ((unsigned char *)mem)[i];
    unsigned char *flip = malloc(len);
    ck_assert_ptr_nonnull(flip);
    size_t accepted = 0, rejected = 0;
    const unsigned char xs[] = {0x01, 0x20, 0x80, 0xff};
    for (size_t i = 0; i < 8 + n; i++)
        for (size_t k = 0; k < sizeof xs; k++) {
            memcpy(flip, mem, len);
            flip[i] ^= xs[k];
            lirf_status s = lirf_st_read_mem(flip, len, "flip", &st);
            if (s == LIRF_OK) {
                size_t sum = 0;
                for (size_t j = 0; j < st.count; j++) {
                    ck_assert_uint_eq(st.tensors[j].nbytes,
                                      lirf_st_numel(&st.tensors[j]) *
                                          lirf_dtype_size(st.tensors[j].dtype));
                    sum += st.tensors[j].nbytes;
                }
                ck_assert_uint_eq(sum, len - 8 - n);
                accepted++;
            } else {
                ck_assert_int_eq(s, LIRF_E_FORMAT);
                rejected++;
            }
            lirf_st_free(&st);
        }
    ck_assert_uint_gt(rejected, 0);
    ck_assert_uint_gt(accepted, 0); /* e.g. a changed letter inside a name */
    free(flip);
    free(mem);
}
END_TEST

int main(void) {
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("safetensors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, dtype_helpers);
    tcase_add_test(tc, round_trip_file_and_memory);
    tcase_add_test(tc, hand_built_file_reads);
    tcase_add_test(tc, reference_implementation_file);
    tcase_add_test(tc, read_io_errors);
    tcase_add_test(tc, rejects_malformed);
    tcase_add_test(tc, expect_messages);
    tcase_add_test(tc, write_rejects_bad_arguments);
    tcase_add_test(tc, atomic_write);
    tcase_add_test(tc, truncation_and_flip_sweep);
    suite_add_tcase(s, tc);
    int rc = trun(s);
    rm_tmpdir();
    return rc;
}
