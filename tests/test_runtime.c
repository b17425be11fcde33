/* The runtime: device choice, the program binary cache (second context builds
 * nothing; corrupt, truncated and foreign entries are rejected and rebuilt),
 * buffers and accounting, scratch and arena reuse, launches, error reporting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops.h"
#include "util.h"

static char g_cache[256];

static lirf_ctx *fresh_ctx(void) {
    lirf_ctx *ctx;
    tsetenv("LIRF_CACHE_DIR", g_cache);
    lirf_status st = lirf_ctx_create(&ctx, NULL);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    return ctx;
}

/* relu through the given context; checks the result */
static void run_relu(lirf_ctx *ctx) {
    float x[5] = {-1, 2, -3, 4, 0.5f}, y[5];
    lirf_buf b;
    ck_assert_int_eq(lirf_buf_alloc(ctx, 5, &b), LIRF_OK);
    ck_assert_int_eq(lirf_buf_write(ctx, b, x, 5), LIRF_OK);
    ck_assert_int_eq(lirf_relu_forward(ctx, b, b, 5), LIRF_OK);
    ck_assert_int_eq(lirf_buf_read(ctx, b, y, 5), LIRF_OK);
    ck_assert(y[0] == 0 && y[1] == 2 && y[2] == 0 && y[3] == 4 && y[4] == 0.5f);
    lirf_buf_free(ctx, &b);
}

static char *only_cache_file(void) {
    static char path[512];
    char cmd[400];
    snprintf(cmd, sizeof cmd, "ls %s/*.bin", g_cache);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(path, sizeof path, p));
    path[strcspn(path, "\n")] = 0;
    pclose(p);
    return path;
}

START_TEST(program_cache_second_context_builds_nothing) {
    snprintf(g_cache, sizeof g_cache, "/tmp/lirf-test-cache-%ld", (long)getpid());
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_cache);
    ck_assert_int_eq(system(cmd), 0);

    lirf_ctx *a = fresh_ctx();
    run_relu(a);
    ck_assert_uint_eq(lirf_ctx_stats(a)->programs_built, 1);
    ck_assert_uint_eq(lirf_ctx_stats(a)->programs_cached, 0);
    lirf_ctx_destroy(a);

    lirf_ctx *b = fresh_ctx();
    run_relu(b);
    ck_assert_uint_eq(lirf_ctx_stats(b)->programs_built, 0);
    ck_assert_uint_eq(lirf_ctx_stats(b)->programs_cached, 1);
    lirf_ctx_destroy(b);

    /* flip one byte of the payload: the checksum catches it */
    char *path = only_cache_file();
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 60, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 60, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
    lirf_ctx *d = fresh_ctx();
    run_relu(d);
    ck_assert_uint_eq(lirf_ctx_stats(d)->cache_rejected, 1);
    ck_assert_uint_eq(lirf_ctx_stats(d)->programs_built, 1);
    lirf_ctx_destroy(d);

    /* truncate it */
    path = only_cache_file();
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(truncate(path, sb.st_size / 2), 0);
    lirf_ctx *e = fresh_ctx();
    run_relu(e);
    ck_assert_uint_eq(lirf_ctx_stats(e)->cache_rejected, 1);
    ck_assert_uint_eq(lirf_ctx_stats(e)->programs_built, 1);
    lirf_ctx_destroy(e);

    /* a well-formed entry whose payload is not a binary at all */
    path = only_cache_file();
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("LIRFPRG1", f);
    unsigned char sz[8] = {4, 0, 0, 0, 0, 0, 0, 0};
    fwrite(sz, 1, 8, f);
    unsigned char zero[32] = {0};
    fwrite(zero, 1, 32, f); /* wrong hash of "junk" */
    fputs("junk", f);
    fclose(f);
    lirf_ctx *g = fresh_ctx();
    run_relu(g);
    ck_assert_uint_eq(lirf_ctx_stats(g)->cache_rejected, 1);
    lirf_ctx_destroy(g);

    /* and after the rebuild, the next context loads it again */
    lirf_ctx *h = fresh_ctx();
    run_relu(h);
    ck_assert_uint_eq(lirf_ctx_stats(h)->programs_built, 0);
    lirf_ctx_destroy(h);
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_cache);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(device_choice) {
    lirf_device_info *devs;
    size_t n, idx;
    ck_assert_int_eq(lirf_list_devices(&devs, &n), LIRF_OK);
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(lirf_choose_device(devs, n, NULL, &idx), LIRF_OK);
    /* the default is a GPU when there is one */
    int any_gpu = 0;
    for (size_t i = 0; i < n; i++) any_gpu |= (devs[i].type & CL_DEVICE_TYPE_GPU) != 0;
    if (any_gpu) ck_assert(devs[idx].type & CL_DEVICE_TYPE_GPU);
    char spec[32];
    snprintf(spec, sizeof spec, "%u:%u", devs[n - 1].platform_index, devs[n - 1].device_index);
    ck_assert_int_eq(lirf_choose_device(devs, n, spec, &idx), LIRF_OK);
    ck_assert_uint_eq(idx, n - 1);
    /* a substring of the name, in another case */
    char sub[8] = {0};
    for (int i = 0; i < 4 && devs[0].name[i]; i++) sub[i] = (char)(devs[0].name[i] ^ 0x20 * ((devs[0].name[i] | 0x20) >= 'a' && (devs[0].name[i] | 0x20) <= 'z'));
    ck_assert_int_eq(lirf_choose_device(devs, n, sub, &idx), LIRF_OK);
    ck_assert_int_eq(lirf_choose_device(devs, n, "99:99", &idx), LIRF_E_NO_DEVICE);
    ck_assert_int_eq(lirf_choose_device(devs, n, "no-such-device-xyz", &idx), LIRF_E_NO_DEVICE);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "no-such-device-xyz"));
    free(devs);
}
END_TEST

START_TEST(no_platform_message) {
    /* With the ICD loader pointed at an empty vendor directory, `lirf devices`
     * says what to install and exits 2, without crashing. */
    const char *bin = getenv("LIRF_BIN");
    char self[1024];
    if (!bin) { /* beside this test binary, where CMake puts it */
        ssize_t k = readlink("/proc/self/exe", self, sizeof self - 8);
        ck_assert(k > 0);
        self[k] = 0;
        char *slash = strrchr(self, '/');
        strcpy(slash ? slash + 1 : self, "lirf");
        bin = self;
    }
    char cmd[1600];
    snprintf(cmd, sizeof cmd,
             "mkdir -p /tmp/lirf-empty-icd && OCL_ICD_VENDORS=/tmp/lirf-empty-icd "
             "OPENCL_VENDOR_PATH=/tmp/lirf-empty-icd %s devices 2>&1",
             bin);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char out[4096] = {0};
    size_t got = fread(out, 1, sizeof out - 1, p);
    int rc = pclose(p);
    ck_assert_uint_gt(got, 0);
    ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 2, "exit status %d, output: %s", rc, out);
    ck_assert_msg(strstr(out, "no OpenCL platform") && strstr(out, "apt-get install"), "%s", out);
}
END_TEST

START_TEST(errors_name_the_call) {
    lirf_ctx *ctx = tctx();
    cl_kernel k;
    ck_assert_int_eq(lirf_kernel_get(ctx, "no_such_program", "x", &k), LIRF_E_NOT_FOUND);
    ck_assert_int_eq(lirf_kernel_get(ctx, "elementwise", "no_such_kernel", &k), LIRF_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "CL_INVALID_KERNEL_NAME"));
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), ".c:")); /* file:line */
    ck_assert_int_eq(lirf_kernel_get(ctx, "elementwise", "relu_forward", &k), LIRF_OK);
    ck_assert_int_eq(lirf_set_args(ctx, k, "bbi", LIRF_NOBUF, LIRF_NOBUF, 3), LIRF_E_NULL);
    ck_assert_int_eq(lirf_set_args(ctx, k, "z"), LIRF_E_INVALID);
    /* relu_forward(y, y_off, x, x_off, n): 5 arguments; "bb" sets 4, "bbii" 6 */
    lirf_buf b1;
    ck_assert_int_eq(lirf_buf_alloc(ctx, 4, &b1), LIRF_OK);
    ck_assert_int_eq(lirf_set_args(ctx, k, "bb", b1, b1), LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "relu_forward takes 5 arguments"));
    ck_assert_int_eq(lirf_set_args(ctx, k, "bbii", b1, b1, 4, 4), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_set_args(ctx, k, "bbi", b1, b1, 4), LIRF_OK);
    lirf_buf_free(ctx, &b1);
    size_t zero = 0;
    ck_assert_int_eq(lirf_launch(ctx, k, "relu", 1, &zero, NULL), LIRF_E_INVALID);
    ck_assert_str_eq(lirf_cl_error_name(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
    ck_assert_str_eq(lirf_clblast_status_name(-1017), "CLBlastInvalidDimension");
    ck_assert_str_eq(lirf_status_name(LIRF_E_SHAPE), "LIRF_E_SHAPE");
}
END_TEST

START_TEST(build_failure_prints_log) {
    /* developer option: sources from disk; a broken kernel gives LIRF_E_BUILD
     * with the compiler's log in the message */
    char dir[128];
    snprintf(dir, sizeof dir, "/tmp/lirf-bad-kernels-%ld", (long)getpid());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p %s && printf '__kernel void broken(__global float *x) { x[0] = undefined_name; }\\n' > %s/broken.cl", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    tsetenv("LIRF_KERNEL_DIR", dir);
    lirf_ctx *ctx;
    tsetenv("LIRF_CACHE_DIR", "off");
    ck_assert_int_eq(lirf_ctx_create(&ctx, NULL), LIRF_OK);
    cl_kernel k;
    ck_assert_int_eq(lirf_kernel_get(ctx, "broken", "broken", &k), LIRF_E_BUILD);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "undefined_name"));
    lirf_ctx_destroy(ctx);
    tsetenv("LIRF_KERNEL_DIR", NULL);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(buffers_accounting_and_views) {
    lirf_ctx *ctx = tctx();
    size_t before = lirf_ctx_stats(ctx)->bytes_in_use;
    lirf_buf b, v;
    ck_assert_int_eq(lirf_buf_alloc(ctx, 1000, &b), LIRF_OK);
    ck_assert_uint_eq(lirf_ctx_stats(ctx)->bytes_in_use, before + 4000);
    ck_assert_uint_ge(lirf_ctx_stats(ctx)->bytes_peak, before + 4000);
    ck_assert_int_eq(lirf_buf_view(b, 990, 10, &v), LIRF_OK);
    ck_assert_int_eq(lirf_buf_view(b, 990, 11, &v), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_buf_view(b, 2000, 0, &v), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_buf_alloc(ctx, 0, &v), LIRF_E_INVALID);
    /* write through a view, read back through the whole */
    float x[10], y[1000];
    for (int i = 0; i < 10; i++) x[i] = (float)i;
    ck_assert_int_eq(lirf_buf_view(b, 990, 10, &v), LIRF_OK);
    ck_assert_int_eq(lirf_buf_fill(ctx, b, -1.0f), LIRF_OK);
    ck_assert_int_eq(lirf_buf_write(ctx, v, x, 10), LIRF_OK);
    ck_assert_int_eq(lirf_buf_write(ctx, v, x, 11), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_buf_read(ctx, b, y, 1000), LIRF_OK);
    ck_assert(y[989] == -1.0f && y[990] == 0.0f && y[999] == 9.0f);
    lirf_buf c;
    ck_assert_int_eq(lirf_buf_alloc(ctx, 10, &c), LIRF_OK);
    ck_assert_int_eq(lirf_buf_copy(ctx, c, v, 10), LIRF_OK);
    ck_assert_int_eq(lirf_buf_read(ctx, c, y, 10), LIRF_OK);
    ck_assert(y[3] == 3.0f);
    lirf_buf_free(ctx, &c);
    lirf_buf_free(ctx, &b);
    ck_assert_ptr_null(b.mem);
    ck_assert_uint_eq(lirf_ctx_stats(ctx)->bytes_in_use, before);
}
END_TEST

START_TEST(scratch_and_arena_allocate_nothing_after_first_pass) {
    lirf_ctx *ctx = tctx();
    lirf_buf s;
    ck_assert_int_eq(lirf_scratch(ctx, 0, 5000, &s), LIRF_OK);
    uint64_t allocs = lirf_ctx_stats(ctx)->allocations;
    ck_assert_int_eq(lirf_scratch(ctx, 0, 4000, &s), LIRF_OK);
    ck_assert_int_eq(lirf_scratch(ctx, 0, 5000, &s), LIRF_OK);
    ck_assert_uint_eq(lirf_ctx_stats(ctx)->allocations, allocs);
    ck_assert_int_eq(lirf_scratch(ctx, 9, 1, &s), LIRF_E_INVALID);

    lirf_arena *a;
    ck_assert_int_eq(lirf_arena_create(ctx, 1000, &a), LIRF_OK);
    const size_t sizes[] = {700, 1 << 20, 33, (1 << 20) + 5, 64};
    lirf_buf first[5], second[5], third[5];
    for (int pass = 0; pass < 3; pass++) {
        lirf_buf *out = pass == 0 ? first : pass == 1 ? second : third;
        for (int i = 0; i < 5; i++) ck_assert_int_eq(lirf_arena_get(a, sizes[i], &out[i]), LIRF_OK);
        if (pass == 0) ck_assert_uint_gt(lirf_arena_chunks(a), 1);
        /* views of one pass never overlap */
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < i; j++)
                if (out[i].mem == out[j].mem)
                    ck_assert(out[i].off >= out[j].off + out[j].n ||
                              out[j].off >= out[i].off + out[i].n);
        if (pass == 1) allocs = lirf_ctx_stats(ctx)->allocations;
        if (pass == 2) {
            ck_assert_uint_eq(lirf_ctx_stats(ctx)->allocations, allocs);
            for (int i = 0; i < 5; i++) /* the same layout each pass after the first */
                ck_assert(third[i].mem == second[i].mem && third[i].off == second[i].off);
        }
        ck_assert_int_eq(lirf_arena_reset(a), LIRF_OK);
        ck_assert_uint_eq(lirf_arena_chunks(a), 1);
    }
    lirf_arena_destroy(a);
}
END_TEST

/* The arena as a stack: views given back by lirf_arena_release are handed out
 * again; the first pass holds no more device memory than its requests (each
 * rounded to 64 elements), the buffers made after a mark are freed by the
 * release, and the reset merges to the high-water mark (not the sum of the
 * first pass's buffers); a mark above the position is refused; the context's
 * peak can be restarted. */
START_TEST(arena_mark_release_and_high_water) {
    lirf_ctx *ctx = tctx();
    lirf_arena *a;
    ck_assert_int_eq(lirf_arena_create(ctx, 0, &a), LIRF_OK);
    const size_t high = 1024 + (3u << 20) + 64;
    const size_t base = lirf_ctx_stats(ctx)->bytes_in_use;
    lirf_ctx_reset_peak(ctx);
    lirf_buf x, y, z, w;
    uint64_t allocs = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) allocs = lirf_ctx_stats(ctx)->allocations;
        ck_assert_int_eq(lirf_arena_get(a, 1000, &x), LIRF_OK); /* 1024 after rounding */
        if (lirf_device_pocl_cpu(lirf_ctx_device(ctx))) { /* lirf_mem_create: pages of its own */
            cl_mem_flags flags = 0;
            ck_assert_int_eq(clGetMemObjectInfo(x.mem, CL_MEM_FLAGS, sizeof flags, &flags, NULL),
                             CL_SUCCESS);
            ck_assert(flags & CL_MEM_USE_HOST_PTR);
        }
        lirf_arena_pos m = lirf_arena_mark(a);
        ck_assert_int_eq(lirf_arena_get(a, 3 << 20, &y), LIRF_OK);
        ck_assert_int_eq(lirf_arena_get(a, 64, &z), LIRF_OK);
        ck_assert_uint_eq(lirf_arena_used(a), high);
        ck_assert_int_eq(lirf_arena_release(a, m), LIRF_OK);
        ck_assert_uint_eq(lirf_arena_used(a), 1024);
        if (pass == 0) /* y's and z's buffers are gone with the release */
            ck_assert_uint_eq(lirf_ctx_stats(ctx)->bytes_in_use, base + 1024 * 4);
        ck_assert_int_eq(lirf_arena_get(a, 64, &w), LIRF_OK);
        if (pass == 1) { /* the place after x again, y's own, with nothing allocated */
            ck_assert(w.mem == x.mem && w.off == x.off + 1024);
            ck_assert(w.mem == y.mem && w.off == y.off);
            ck_assert_uint_eq(lirf_ctx_stats(ctx)->allocations, allocs);
        }
        ck_assert_uint_eq(lirf_arena_high(a), high);
        /* the most device memory the arena held in the pass: its high-water mark */
        ck_assert_uint_eq(lirf_ctx_stats(ctx)->bytes_peak, base + high * 4);
        /* a mark from above the current position */
        lirf_arena_pos bad = {m.cur, m.used + 4096, m.lin + 4096};
        ck_assert_int_eq(lirf_arena_release(a, bad), LIRF_E_INVALID);
        ck_assert_int_eq(lirf_arena_release(NULL, m), LIRF_E_NULL);
        ck_assert_int_eq(lirf_arena_reset(a), LIRF_OK);
        ck_assert_uint_eq(lirf_arena_chunks(a), 1);
        /* merged to the high-water mark */
        ck_assert_uint_eq(lirf_ctx_stats(ctx)->bytes_in_use, base + high * 4);
        ck_assert_uint_eq(lirf_arena_high(a), 0);
    }
    lirf_ctx_reset_peak(ctx);
    ck_assert_uint_eq(lirf_ctx_stats(ctx)->bytes_peak, lirf_ctx_stats(ctx)->bytes_in_use);
    lirf_arena_destroy(a);
    ck_assert_uint_eq(lirf_ctx_stats(ctx)->bytes_in_use, base);
}
END_TEST

/* The arena against random nested passes (requests, marks and releases, the
 * way the forward and backward passes use it), with and without a device
 * limit below the pass's total: every view lies inside its buffer and no two
 * live views overlap; the first pass's device memory peaks at its high-water
 * mark (no limit); later passes of the same sequence allocate nothing and get
 * the same views. */
typedef struct {
    lirf_buf live[256];
    int nlive;
    unsigned rng;
} arena_walk;

static unsigned walk_rand(arena_walk *w) {
    w->rng = w->rng * 1103515245u + 12345u;
    return (w->rng >> 8) & 0xffffff;
}

static void walk(lirf_arena *a, arena_walk *w, int depth, lirf_buf *seen, int *nseen) {
    int ops = 1 + (int)(walk_rand(w) % 5);
    for (int k = 0; k < ops && w->nlive < 250; k++) {
        if (depth < 4 && walk_rand(w) % 3 == 0) {
            lirf_arena_pos m = lirf_arena_mark(a);
            int keep = w->nlive;
            size_t used = lirf_arena_used(a);
            walk(a, w, depth + 1, seen, nseen);
            ck_assert_int_eq(lirf_arena_release(a, m), LIRF_OK);
            ck_assert_uint_eq(lirf_arena_used(a), used);
            w->nlive = keep;
        } else {
            size_t n = 1 + walk_rand(w) % (walk_rand(w) % 4 == 0 ? 400000 : 5000);
            lirf_buf v;
            ck_assert_int_eq(lirf_arena_get(a, n, &v), LIRF_OK);
            ck_assert_uint_eq(v.n, n);
            size_t bytes = 0;
            ck_assert_int_eq(clGetMemObjectInfo(v.mem, CL_MEM_SIZE, sizeof bytes, &bytes, NULL),
                             CL_SUCCESS);
            ck_assert_uint_le((v.off + v.n) * 4, bytes);
            for (int i = 0; i < w->nlive; i++)
                if (w->live[i].mem == v.mem)
                    ck_assert(w->live[i].off >= v.off + v.n || v.off >= w->live[i].off + w->live[i].n);
            w->live[w->nlive++] = v;
            seen[(*nseen)++] = v;
        }
    }
}

START_TEST(arena_random_passes) {
    lirf_ctx *ctx = tctx();
    lirf_device_info *dev = (lirf_device_info *)lirf_ctx_device(ctx);
    cl_ulong saved = dev->max_alloc;
    static lirf_buf seen[3][4096];
    for (int limit = 0; limit < 2; limit++) {
        for (unsigned seed = 1; seed <= 6; seed++) {
            if (limit) dev->max_alloc = (cl_ulong)2 << 20; /* 512 Ki floats */
            lirf_arena *a;
            ck_assert_int_eq(lirf_arena_create(ctx, 0, &a), LIRF_OK);
            size_t base = lirf_ctx_stats(ctx)->bytes_in_use;
            int nseen[3] = {0, 0, 0};
            for (int pass = 0; pass < 3; pass++) {
                lirf_ctx_reset_peak(ctx);
                uint64_t allocs = lirf_ctx_stats(ctx)->allocations;
                arena_walk w = {.nlive = 0, .rng = seed};
                walk(a, &w, 0, seen[pass], &nseen[pass]);
                if (pass == 0 && !limit)
                    ck_assert_uint_eq(lirf_ctx_stats(ctx)->bytes_peak,
                                      base + lirf_arena_high(a) * 4);
                if (pass > 0) {
                    ck_assert_uint_eq(lirf_ctx_stats(ctx)->allocations, allocs);
                    ck_assert_int_eq(nseen[pass], nseen[0]);
                    for (int i = 0; i < nseen[pass]; i++)
                        ck_assert(seen[pass][i].mem == seen[1][i].mem &&
                                  seen[pass][i].off == seen[1][i].off);
                }
                ck_assert_int_eq(lirf_arena_reset(a), LIRF_OK);
                if (!limit) ck_assert_uint_le(lirf_arena_chunks(a), 1);
            }
            lirf_arena_destroy(a);
            ck_assert_uint_eq(lirf_ctx_stats(ctx)->bytes_in_use, base);
            dev->max_alloc = saved;
        }
    }
}
END_TEST

/* Device memory faults: an allocation above the device's largest allocation is
 * refused with the bytes asked for and a hint; the arena never makes a chunk
 * above it while each request fits (it keeps several chunks instead of merging
 * them into one too large). The device's limit is lowered for the test. */
START_TEST(device_memory_limits) {
    lirf_ctx *ctx = tctx();
    lirf_device_info *dev = (lirf_device_info *)lirf_ctx_device(ctx);
    cl_ulong saved = dev->max_alloc;
    dev->max_alloc = (cl_ulong)4 << 20; /* 4 MiB = 1 Mi floats */
    lirf_buf b = LIRF_NOBUF;
    ck_assert_int_eq(lirf_buf_alloc(ctx, (1 << 20) + 1, &b), LIRF_E_DEVICE_MEM);
    ck_assert_ptr_null(b.mem);
    const char *msg = lirf_error_message();
    ck_assert_ptr_nonnull(strstr(msg, "4194308 bytes"));
    ck_assert_ptr_nonnull(strstr(msg, "smaller batch"));

    lirf_arena *a;
    ck_assert_int_eq(lirf_arena_create(ctx, 0, &a), LIRF_OK);
    for (int pass = 0; pass < 3; pass++) {
        uint64_t allocs = lirf_ctx_stats(ctx)->allocations;
        lirf_buf v[6], t[3];
        for (int i = 0; i < 6; i++) ck_assert_int_eq(lirf_arena_get(a, 600000, &v[i]), LIRF_OK);
        ck_assert_uint_ge(lirf_arena_chunks(a), 6); /* two never share a 1 Mi chunk */
        /* temporaries given back, then one request that fills most of a chunk */
        lirf_arena_pos m = lirf_arena_mark(a);
        for (int i = 0; i < 3; i++) ck_assert_int_eq(lirf_arena_get(a, 300000, &t[i]), LIRF_OK);
        ck_assert_int_eq(lirf_arena_release(a, m), LIRF_OK);
        ck_assert_int_eq(lirf_arena_get(a, 900000, &t[0]), LIRF_OK);
        for (int i = 0; i < 6; i++) /* the live views never overlap */
            for (int j = 0; j <= i; j++) {
                lirf_buf p = j < i ? v[j] : t[0], q = v[i];
                if (p.mem == q.mem)
                    ck_assert(p.off >= q.off + q.n || q.off >= p.off + p.n);
            }
        if (pass > 0) /* laid out at the reset: nothing allocated */
            ck_assert_uint_eq(lirf_ctx_stats(ctx)->allocations, allocs);
        ck_assert_int_eq(lirf_arena_reset(a), LIRF_OK);
        ck_assert_uint_ge(lirf_arena_chunks(a), 6); /* not merged above the limit */
    }
    lirf_buf big;
    ck_assert_int_eq(lirf_arena_get(a, 2 << 20, &big), LIRF_E_DEVICE_MEM);
    lirf_arena_destroy(a);
    dev->max_alloc = saved;
}
END_TEST

int main(void) {
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, device_choice);
    tcase_add_test(tc, errors_name_the_call);
    tcase_add_test(tc, buffers_accounting_and_views);
    tcase_add_test(tc, scratch_and_arena_allocate_nothing_after_first_pass);
    tcase_add_test(tc, arena_mark_release_and_high_water);
    tcase_add_test(tc, arena_random_passes);
    tcase_add_test(tc, device_memory_limits);
    tcase_add_test(tc, no_platform_message);
    tcase_add_test(tc, build_failure_prints_log);
    tcase_add_test(tc, program_cache_second_context_builds_nothing);
    suite_add_tcase(s, tc);
    return trun(s);
}
