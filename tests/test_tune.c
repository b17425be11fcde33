/* GEMM tuning (runtime/tune.c): which parameter source lirf_ctx_create picks
 * (a valid tuning file, a corrupt or foreign one rejected with a warning, the
 * shipped table only for the device it was measured on, LIRF_GEMM_TUNING=off),
 * the parameter checks, and that lirf_gemm stays exact against ref_gemm with
 * each source: every transpose, offsets, padded leading dimensions, batched.
 * The tuner (runtime/tuner.c) from C on one candidate per class: its report,
 * the file it writes, its refusals.
 *
 * CLBlast's parameter overrides are per device and process-wide, so every
 * test makes the shared context first, then a second context whose creation
 * sets the device's tuning state, and runs the GEMMs on the shared one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "lirf_tune.h"
#include "ref.h"
#include "util.h"

/* GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC NWG SA SB STRM STRN VWM VWN */
static const size_t P_K0[LIRF_XGEMM_NPARAMS] = {0, 1, 16, 2, 1, 1, 32, 1, 1, 16, 0, 0, 0, 0, 8, 4};
static const size_t P_K0_SA[LIRF_XGEMM_NPARAMS] = {0, 1, 32, 2, 16, 16, 64, 8, 8, 64, 1, 1, 0, 0, 4, 4};
static const size_t P_K1[LIRF_XGEMM_NPARAMS] = {1, 8, 1, 1, 1, 1, 16, 1, 1, 16, 0, 0, 0, 0, 8, 8};

static char g_dir[64];

static const char *cache_dir(void) {
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/lirf_test_tune_XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(g_dir));
    }
    return g_dir;
}

static void cleanup(void) {
    if (!g_dir[0]) return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "test_tune: could not remove %s\n", g_dir);
}

/* A tuning with k0 for NN, TN, TT and k1 for NT. */
static lirf_gemm_tuning make_tuning(const size_t *k0, const size_t *k1) {
    lirf_gemm_tuning t;
    memset(&t, 0, sizeof t);
    for (int c = 0; c < LIRF_GEMM_CLASSES; c++) {
        t.cls[c].set = 1;
        memcpy(t.cls[c].xgemm, c == 1 ? k1 : k0, sizeof t.cls[c].xgemm);
    }
    return t;
}

static void tuning_path(char *path, size_t cap) {
    const lirf_device_info *dev = lirf_ctx_device(tctx());
    ck_assert_int_eq(lirf_gemm_tuning_file(cache_dir(), dev, path, cap), LIRF_OK);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* Creates and destroys a context with LIRF_GEMM_TUNING = tuning (NULL: unset)
 * and our cache dir; returns its tuning source (a static string) and, in
 * log (cap bytes), what it wrote to stderr. */
static const char *open_with(const char *tuning, char *log, size_t cap) {
    lirf_ctx *shared = tctx(); /* made before the environment changes */
    (void)shared;
    if (tuning) tsetenv("LIRF_GEMM_TUNING", tuning);
    else tsetenv("LIRF_GEMM_TUNING", NULL);
    char *old_dir = getenv("LIRF_CACHE_DIR") ? strdup(getenv("LIRF_CACHE_DIR")) : NULL;
    tsetenv("LIRF_CACHE_DIR", cache_dir());
    lirf_log_level old_level = lirf_log_get_level();
    if (old_level < LIRF_LOG_WARN) lirf_log_set_level(LIRF_LOG_WARN);
    char logpath[96];
    snprintf(logpath, sizeof logpath, "%s/stderr.txt", cache_dir());
    fflush(stderr);
    int saved = dup(2);
    FILE *lf = fopen(logpath, "w");
    ck_assert_ptr_nonnull(lf);
    dup2(fileno(lf), 2);
    lirf_ctx *ctx = NULL;
    lirf_status st = lirf_ctx_create(&ctx, NULL);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(lf);
    lirf_log_set_level(old_level);
    if (old_dir) tsetenv("LIRF_CACHE_DIR", old_dir), free(old_dir);
    else tsetenv("LIRF_CACHE_DIR", NULL);
    tsetenv("LIRF_GEMM_TUNING", NULL);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    const char *src = lirf_gemm_tuning_source(ctx);
    lirf_ctx_destroy(ctx);
    FILE *rf = fopen(logpath, "r");
    ck_assert_ptr_nonnull(rf);
    size_t n = fread(log, 1, cap - 1, rf);
    log[n] = 0;
    fclose(rf);
    fputs(log, stderr); /* still shown */
    return src;
}

/* lirf_gemm on the shared context against ref_gemm: every transpose, awkward
 * and conv-like shapes, offsets and padding, then batched NT and TN. */
static void gemm_exact(void) {
    static const size_t shapes[][3] = {{7, 93, 13}, {64, 33, 129}, {1, 1, 1}, {32, 288, 700}};
    trng r = {77};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
                size_t M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
                size_t pad = si & 1 ? 3 : 0, off = si & 1 ? 5 : 0;
                size_t arows = ta ? K : M, acols = ta ? M : K, brows = tb ? N : K,
                       bcols = tb ? K : N;
                size_t lda = acols + pad, ldb = bcols + pad, ldc = N + pad;
                size_t na = off + arows * lda, nb = off + brows * ldb, nc = off + M * ldc;
                double *A = malloc(na * 8), *B = malloc(nb * 8), *C = malloc(nc * 8),
                       *got = malloc(nc * 8);
                trand_fill(&r, A, na, -1, 1), trand_fill(&r, B, nb, -1, 1);
                trand_fill(&r, C, nc, -1, 1);
                tround_f32(A, na), tround_f32(B, nb), tround_f32(C, nc);
                tbuf bA = tbuf_new(A, na), bB = tbuf_new(B, nb), bC = tbuf_new(C, nc);
                lirf_buf vA, vB, vC;
                ck_assert_int_eq(lirf_buf_view(bA.v, off, na - off, &vA), LIRF_OK);
                ck_assert_int_eq(lirf_buf_view(bB.v, off, nb - off, &vB), LIRF_OK);
                ck_assert_int_eq(lirf_buf_view(bC.v, off, nc - off, &vC), LIRF_OK);
                lirf_status st = lirf_gemm(tctx(), ta, tb, M, N, K, 0.5f, vA, lda, vB, ldb, 0.25f,
                                           vC, ldc);
                ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
                ref_gemm(ta, tb, M, N, K, 0.5, A + off, lda, B + off, ldb, 0.25, C + off, ldc);
                tbuf_get(&bC, got, nc);
                char what[96];
                snprintf(what, sizeof what, "gemm (%s) ta%d tb%d %zux%zux%zu",
                         lirf_gemm_tuning_source(tctx()), ta, tb, M, N, K);
                ck_assert_close(what, got, C, nc, 1e-5 * (double)K, 1e-4);
                ck_assert(tbuf_guards_ok(&bC));
                tbuf_free(&bA), tbuf_free(&bB), tbuf_free(&bC);
                free(A), free(B), free(C), free(got);
            }
    /* batched: A shared (stride 0), B and C strided with gaps */
    for (int cls = 1; cls <= 2; cls++) {
        int ta = cls / 2, tb = cls % 2;
        const size_t M = 9, N = 17, K = 40, batch = 3, sb = K * N + 4, sc = M * N + 2;
        size_t na = M * K, nb = batch * sb, nc = batch * sc;
        double *A = malloc(na * 8), *B = malloc(nb * 8), *C = malloc(nc * 8), *got = malloc(nc * 8);
        trand_fill(&r, A, na, -1, 1), trand_fill(&r, B, nb, -1, 1), trand_fill(&r, C, nc, -1, 1);
        tround_f32(A, na), tround_f32(B, nb), tround_f32(C, nc);
        tbuf bA = tbuf_new(A, na), bB = tbuf_new(B, nb), bC = tbuf_new(C, nc);
        size_t lda = ta ? M : K, ldb = tb ? K : N;
        lirf_status st = lirf_gemm_batched(tctx(), ta, tb, M, N, K, 2.0f, bA.v, lda, 0, bB.v, ldb,
                                           sb, 1.0f, bC.v, N, sc, batch);
        ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
        for (size_t i = 0; i < batch; i++)
            ref_gemm(ta, tb, M, N, K, 2.0, A, lda, B + i * sb, ldb, 1.0, C + i * sc, N);
        tbuf_get(&bC, got, nc);
        ck_assert_close("gemm_batched", got, C, nc, 1e-4, 1e-4);
        ck_assert(tbuf_guards_ok(&bC));
        tbuf_free(&bA), tbuf_free(&bB), tbuf_free(&bC);
        free(A), free(B), free(C), free(got);
    }
}

/* What a context falls back to when no file is used. */
static const char *fallback(void) {
    return lirf_gemm_tuning_shipped(lirf_ctx_device(tctx()), NULL) ? "shipped" : "default";
}

/* The tuning the tests write: the shipped one where there is one (its CLBlast
 * programs are then shared with the other tests: a cold CLBlast compilation
 * takes seconds per parameter set on a CPU), else P_K0 / P_K1. */
static lirf_gemm_tuning base_tuning(void) {
    lirf_gemm_tuning t;
    if (!lirf_gemm_tuning_shipped(lirf_ctx_device(tctx()), &t)) t = make_tuning(P_K0, P_K1);
    return t;
}

/* ---- the tuner ---- */
typedef struct {
    char text[65536]; /* everything reported, both streams */
    size_t n;
    int err_pieces;   /* pieces on LIRF_TUNE_ERR */
    char err[1024];   /* the last of them */
} report;

static void collect(void *user, lirf_tune_stream stream, const char *text) {
    report *rp = user;
    size_t l = strlen(text);
    if (rp->n + l < sizeof rp->text) memcpy(rp->text + rp->n, text, l + 1), rp->n += l;
    if (stream == LIRF_TUNE_ERR) rp->err_pieces++, snprintf(rp->err, sizeof rp->err, "%s", text);
    fputs(text, stdout); /* still shown */
}

/* The tuner forks its measurements, so it must run before this process uses
 * OpenCL: this test comes first (the suite runs in one process) and calls
 * tctx() only after its last lirf_tune_run. */
START_TEST(tune_run_from_c) {
    static report rp;
    lirf_tune_opts o;
    lirf_tune_result r;
    lirf_tune_opts_default(&o);
    ck_assert(o.budget_s == 300 && !o.quick && !o.dry_run && !o.output && !o.progress);
    o.progress = collect, o.user = &rp;
    ck_assert_int_eq(lirf_tune_run(NULL, &r), LIRF_E_NULL);
    ck_assert_int_eq(lirf_tune_run(&o, NULL), LIRF_E_NULL);
    o.budget_s = 0.5;
    ck_assert_int_eq(lirf_tune_run(&o, &r), LIRF_E_INVALID);
    ck_assert_int_eq(rp.err_pieces, 1);
    ck_assert_ptr_nonnull(strstr(rp.err, "budget"));
    /* PoCL needs about 5 s of the 30; a slow driver (rusticl compiles every
     * CLBlast kernel with LLVM) stops at the budget: "incomplete" below */
    o.budget_s = 30, o.max_candidates = -1;
    ck_assert_int_eq(lirf_tune_run(&o, &r), LIRF_E_INVALID);
    /* no cache directory, no output, not a dry run: refused after the probe */
    o.quick = 1, o.max_candidates = 1;
    char *old_dir = getenv("LIRF_CACHE_DIR") ? strdup(getenv("LIRF_CACHE_DIR")) : NULL;
    tsetenv("LIRF_CACHE_DIR", "off");
    memset(&rp, 0, sizeof rp);
    lirf_status st = lirf_tune_run(&o, &r);
    if (old_dir) tsetenv("LIRF_CACHE_DIR", old_dir), free(old_dir);
    else tsetenv("LIRF_CACHE_DIR", NULL);
    ck_assert_msg(st == LIRF_E_NOT_FOUND, "%s: %s", lirf_status_name(st), lirf_error_message());
    ck_assert_ptr_nonnull(strstr(rp.text, "lirf tune: device "));
    ck_assert_ptr_nonnull(strstr(rp.err, "no cache directory"));
    ck_assert_int_eq((int)r.path[0], 0);

    /* the whole run on the first candidate of each class, 2 shapes each */
    char path[128];
    snprintf(path, sizeof path, "%s/tuned.json", cache_dir());
    o.output = path;
    memset(&rp, 0, sizeof rp);
    st = lirf_tune_run(&o, &r);
    ck_assert_msg(st == LIRF_OK, "%s: %s", lirf_status_name(st), lirf_error_message());
    ck_assert_str_eq(r.path, path);
    ck_assert_int_eq(r.candidates, 3);
    ck_assert_int_eq(r.shapes_per_class, 2);
    ck_assert_int_eq(r.timed_calls, 2);
    ck_assert_ptr_nonnull(strstr(rp.text, "lirf tune: budget 30 s; shapes per class 2, 2 timed "
                                          "calls each\n"));
    ck_assert_ptr_nonnull(strstr(rp.text, "lirf tune: baseline NN, CLBlast's defaults ..."));
    ck_assert_ptr_nonnull(strstr(rp.text, " s in all\n"));
    if (r.outcome == LIRF_TUNE_INCOMPLETE) {
        /* a cold machine: compiling CLBlast's kernels spent 60% of the budget
         * before the first candidate; nothing is written then */
        ck_assert_msg(r.elapsed_s > 0.6 * o.budget_s, "incomplete after %.0f s", r.elapsed_s);
        ck_assert_int_eq(access(path, F_OK), -1);
        return;
    }
    ck_assert_str_eq(lirf_tune_outcome_name(r.outcome), "written");
    ck_assert_int_eq(rp.err_pieces, 0);
    ck_assert_ptr_nonnull(strstr(rp.text, "lirf tune: [1/3] NN GEMMK=0 KREG=1 KWG=16 "));
    ck_assert_ptr_nonnull(strstr(rp.text, "lirf tune: [2/3] NT GEMMK=1 "));
    ck_assert_ptr_nonnull(strstr(rp.text, "lirf tune: [3/3] TN GEMMK=0 "));
    ck_assert_ptr_nonnull(strstr(rp.text, "lirf tune: best NT: GEMMK=1 "));
    ck_assert_ptr_nonnull(strstr(rp.text, " ... ok\n"));
    char wrote[200];
    snprintf(wrote, sizeof wrote, "lirf tune: wrote %s\n", path);
    ck_assert_ptr_nonnull(strstr(rp.text, wrote));
    ck_assert(r.measured >= 3 && r.dropped <= r.measured);
    for (int c = 0; c < LIRF_TUNE_CLASSES; c++)
        ck_assert(r.best.cls[c].set && r.gflops[c] > 0);
    ck_assert_int_eq((int)r.best.cls[1].xgemm[0], 1); /* NT: GEMMK 1 */
    ck_assert_mem_eq(&r.best.cls[3], &r.best.cls[0], sizeof r.best.cls[0]);
    /* the file: what lirf_ctx_create would read, and what was measured */
    lirf_gemm_tuning t;
    ck_assert_int_eq(lirf_gemm_tuning_load(path, &r.device, &t), LIRF_OK);
    ck_assert_uint_eq(t.min_indirect, r.best.min_indirect);
    for (int c = 0; c < LIRF_GEMM_CLASSES; c++)
        ck_assert_mem_eq(t.cls[c].xgemm, r.best.cls[c].xgemm, sizeof t.cls[c].xgemm);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    ck_assert_ptr_nonnull(root);
    json_t *m = json_object_get(root, "measured");
    ck_assert(json_is_integer(json_object_get(m, "budget_s")));
    ck_assert(json_is_integer(json_object_get(m, "elapsed_s")));
    ck_assert_int_eq(json_integer_value(json_object_get(m, "timed_calls")), 2);
    const char *sets[] = {"NN", "NT", "TN", "small"};
    for (int i = 0; i < (r.small_measured ? 4 : 3); i++) {
        json_t *e = json_object_get(m, sets[i]);
        size_t n = i == 3 ? 6 : 2;
        ck_assert_msg(json_is_object(e), "measured.%s", sets[i]);
        ck_assert_uint_eq(json_array_size(json_object_get(e, "shapes_ta_tb_M_N_K")), n);
        ck_assert_uint_eq(json_array_size(json_object_get(e, "default_gflops")), n);
        ck_assert_uint_eq(json_array_size(json_object_get(e, "tuned_gflops")), n);
        ck_assert(json_is_real(json_array_get(json_object_get(e, "tuned_gflops"), 0)));
    }
    json_decref(root);
    unlink(path);
}
END_TEST

/* Once OpenCL is in use the tuner refuses: its children would inherit it. */
START_TEST(tune_run_refused_after_opencl) {
    (void)tctx();
    lirf_tune_opts o;
    lirf_tune_result r;
    lirf_tune_opts_default(&o);
    ck_assert_int_eq(lirf_tune_run(&o, &r), LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "must come first"));
}
END_TEST

START_TEST(tune_valid_file_is_applied) {
    char path[1200], log[4096];
    tuning_path(path, sizeof path);
    const lirf_device_info *dev = lirf_ctx_device(tctx());
    /* every value read back, with TT (which lirf's ops never call) different */
    lirf_gemm_tuning t = base_tuning(), got;
    memcpy(t.cls[3].xgemm, P_K0, sizeof P_K0);
    t.min_indirect = 128;
    ck_assert_int_eq(lirf_gemm_tuning_save(path, dev, &t, "{\"note\": 1}"), LIRF_OK);
    ck_assert_int_eq(lirf_gemm_tuning_load(path, dev, &got), LIRF_OK);
    ck_assert_uint_eq(got.min_indirect, 128);
    for (int c = 0; c < LIRF_GEMM_CLASSES; c++) {
        ck_assert_int_eq(got.cls[c].set, 1);
        ck_assert_mem_eq(got.cls[c].xgemm, t.cls[c].xgemm, sizeof got.cls[c].xgemm);
    }
    /* a context takes the file ("on" too); its GEMMs are exact. The values are
     * the shipped ones where there are any: no extra CLBlast compilation */
    t = base_tuning();
    ck_assert_int_eq(lirf_gemm_tuning_save(path, dev, &t, NULL), LIRF_OK);
    ck_assert_str_eq(open_with(NULL, log, sizeof log), "file");
    ck_assert_ptr_null(strstr(log, "rejected"));
    lirf_gemm_tuning cur;
    ck_assert_int_eq(lirf_gemm_tuning_current(tctx(), &cur), 1);
    ck_assert_uint_eq(cur.min_indirect, t.min_indirect);
    for (int c = 0; c < LIRF_GEMM_CLASSES; c++)
        ck_assert_mem_eq(cur.cls[c].xgemm, t.cls[c].xgemm, sizeof cur.cls[c].xgemm);
    gemm_exact();
    ck_assert_str_eq(open_with("on", log, sizeof log), "file");
    /* without TT, TT gets NN's (the JSON edited with jansson) */
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    ck_assert_ptr_nonnull(root);
    ck_assert_int_eq(json_object_del(json_object_get(root, "classes"), "TT"), 0);
    ck_assert_int_eq(json_dump_file(root, path, 0), 0);
    json_decref(root);
    ck_assert_int_eq(lirf_gemm_tuning_load(path, dev, &got), LIRF_OK);
    ck_assert_mem_eq(got.cls[3].xgemm, got.cls[0].xgemm, sizeof got.cls[3].xgemm);
    /* without classes it is refused */
    write_text(path, "{\"format\": \"lirf-gemm-tuning\", \"version\": 1, \"device\": \"\", "
                     "\"driver\": \"\", \"classes\": {}}");
    ck_assert_int_eq(lirf_gemm_tuning_load(path, dev, &got), LIRF_E_FORMAT);
    unlink(path);
}
END_TEST

/* A valid file's text with one substitution: old -> new. */
static void write_mutated(const char *path, const char *valid, const char *old, const char *new) {
    const char *p = strstr(valid, old);
    ck_assert_msg(p != NULL, "'%s' not in the valid file", old);
    size_t n = strlen(valid) + strlen(new) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%.*s%s%s", (int)(p - valid), valid, new, p + strlen(old));
    write_text(path, s);
    free(s);
}

START_TEST(tune_bad_files_are_rejected) {
    char path[1200], log[4096];
    tuning_path(path, sizeof path);
    const lirf_device_info *dev = lirf_ctx_device(tctx());
    lirf_gemm_tuning t = make_tuning(P_K0, P_K1), got;
    ck_assert_int_eq(lirf_gemm_tuning_save(path, dev, &t, NULL), LIRF_OK);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char valid[16384];
    size_t n = fread(valid, 1, sizeof valid - 1, f);
    valid[n] = 0;
    fclose(f);
    ck_assert_int_eq(lirf_gemm_tuning_load(path, dev, &got), LIRF_OK);

    /* not JSON at all: the context warns and falls back */
    write_text(path, "{ this is not json");
    ck_assert_str_eq(open_with(NULL, log, sizeof log), fallback());
    ck_assert_msg(strstr(log, "rejected") != NULL, "no warning in: %s", log);
    gemm_exact();

    /* each a single change of the valid file */
    static const char *const bad[][2] = {
        {"\"MWG\": 32", "\"MWG\": 48"},                 /* not a power of two */
        {"\"MWG\": 32", "\"MWG\": 512"},                /* out of range */
        {"\"MWG\": 32", "\"MWG\": -32"},                /* negative */
        {"\"MWG\": 32", "\"MWG\": \"32\""},             /* not an integer */
        {"\"MWG\": 32", "\"MWGX\": 32"},                /* unknown parameter */
        {"\"MDIMC\": 1", "\"MDIMC\": 64"},              /* MWG % (MDIMC*VWM) */
        {"\"KREG\": 8", "\"KREG\": 4"},                 /* GEMMK 1: KREG % VWN */
        {"\"Xgemm\"", "\"XgemmDirect\""},             /* unknown kernel */
        {"\"NT\":", "\"NX\":"},                         /* unknown class */
        {"\"version\": 1", "\"version\": 2"},
        {"\"format\": \"lirf-gemm-tuning\"", "\"format\": \"other\""},
        {"\"created\"", "\"surprise\""},                /* unknown key */
        {"\"driver\": \"", "\"driver\": \"x"},          /* another driver */
        {"\"device\": \"", "\"device\": \"other "},     /* another device */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_mutated(path, valid, bad[i][0], bad[i][1]);
        lirf_status st = lirf_gemm_tuning_load(path, dev, &got);
        ck_assert_msg(st == LIRF_E_FORMAT, "change %zu (%s -> %s) gave %s", i, bad[i][0],
                      bad[i][1], lirf_status_name(st));
    }
    /* GEMMK 1 with MWG != NWG (wrong results on PoCL) is refused */
    size_t k1[LIRF_XGEMM_NPARAMS];
    memcpy(k1, P_K1, sizeof k1);
    k1[6] = 32; /* MWG */
    char why[200];
    ck_assert_int_eq(lirf_gemm_params_check(k1, dev, why, sizeof why), LIRF_E_INVALID);
    /* a missing parameter, through a context: warning, fallback, exact GEMMs */
    write_mutated(path, valid, "\"STRN\": 0,", "");
    ck_assert_int_eq(lirf_gemm_tuning_load(path, dev, &got), LIRF_E_FORMAT);
    ck_assert_str_eq(open_with(NULL, log, sizeof log), fallback());
    ck_assert_msg(strstr(log, "rejected") != NULL && strstr(log, "STRN") != NULL,
                  "no warning naming STRN in: %s", log);
    gemm_exact();
    /* an empty file, a missing one */
    write_text(path, "");
    ck_assert_int_eq(lirf_gemm_tuning_load(path, dev, &got), LIRF_E_FORMAT);
    unlink(path);
    ck_assert_int_eq(lirf_gemm_tuning_load(path, dev, &got), LIRF_E_NOT_FOUND);
    ck_assert_str_eq(open_with(NULL, log, sizeof log), fallback());
    ck_assert_ptr_null(strstr(log, "rejected")); /* no file is no warning */
}
END_TEST

START_TEST(tune_off) {
    char path[1200], log[4096];
    tuning_path(path, sizeof path);
    lirf_gemm_tuning t = base_tuning();
    ck_assert_int_eq(lirf_gemm_tuning_save(path, lirf_ctx_device(tctx()), &t, NULL), LIRF_OK);
    ck_assert_str_eq(open_with("off", log, sizeof log), "off");
    ck_assert_int_eq(lirf_gemm_tuning_current(tctx(), NULL), 0);
    gemm_exact();
    /* an unknown value warns and acts as "on" */
    ck_assert_str_eq(open_with("maybe", log, sizeof log), "file");
    ck_assert_ptr_nonnull(strstr(log, "LIRF_GEMM_TUNING=maybe"));
    unlink(path);
}
END_TEST

START_TEST(tune_shipped_only_for_its_device) {
    char log[4096];
    const lirf_device_info *dev = lirf_ctx_device(tctx());
    lirf_gemm_tuning t;
    int here = lirf_gemm_tuning_shipped(dev, &t);
    ck_assert_str_eq(open_with(NULL, log, sizeof log), here ? "shipped" : "default");
    if (here) {
        char why[200];
        for (int c = 0; c < LIRF_GEMM_CLASSES; c++)
            ck_assert_msg(lirf_gemm_params_check(t.cls[c].xgemm, dev, why, sizeof why) == LIRF_OK,
                          "shipped %s: %s", lirf_gemm_class_names[c], why);
        gemm_exact();
    }
    /* the measured PoCL device, then each key field changed */
    lirf_device_info d;
    memset(&d, 0, sizeof d);
    snprintf(d.version, sizeof d.version, "OpenCL 3.0 PoCL HSTR: pthread-x86_64-pc-linux-gnu-skylake-avx512");
    snprintf(d.c_version, sizeof d.c_version, "OpenCL C 1.2 PoCL");
    snprintf(d.driver, sizeof d.driver, "3.1+debian");
    ck_assert_int_eq(lirf_gemm_tuning_shipped(&d, NULL), 1);
    snprintf(d.driver, sizeof d.driver, "4.0");
    ck_assert_int_eq(lirf_gemm_tuning_shipped(&d, NULL), 0);
    snprintf(d.driver, sizeof d.driver, "3.1+debian");
    snprintf(d.version, sizeof d.version, "OpenCL 3.0 PoCL HSTR: pthread-x86_64-pc-linux-gnu-znver3");
    ck_assert_int_eq(lirf_gemm_tuning_shipped(&d, NULL), 0);
    snprintf(d.version, sizeof d.version, "OpenCL 3.0 PoCL HSTR: pthread-x86_64-pc-linux-gnu-skylake-avx512");
    snprintf(d.c_version, sizeof d.c_version, "OpenCL C 3.0 PoCL");
    ck_assert_int_eq(lirf_gemm_tuning_shipped(&d, NULL), 0);
}
END_TEST

START_TEST(tune_checks_and_arguments) {
    const lirf_device_info *dev = lirf_ctx_device(tctx());
    char why[200];
    ck_assert_int_eq(lirf_gemm_params_check(P_K0, dev, why, sizeof why), LIRF_OK);
    ck_assert_int_eq(lirf_gemm_params_check(P_K0_SA, dev, why, sizeof why), LIRF_OK);
    ck_assert_int_eq(lirf_gemm_params_check(P_K1, NULL, why, sizeof why), LIRF_OK);
    size_t x[LIRF_XGEMM_NPARAMS];
    memcpy(x, P_K0, sizeof x);
    x[3] = 32; /* KWI > KWG */
    ck_assert_int_eq(lirf_gemm_params_check(x, dev, why, sizeof why), LIRF_E_INVALID);
    memcpy(x, P_K0, sizeof x);
    x[1] = 2; /* KREG with GEMMK 0 */
    ck_assert_int_eq(lirf_gemm_params_check(x, dev, why, sizeof why), LIRF_E_INVALID);
    memcpy(x, P_K1, sizeof x);
    x[10] = 1; /* SA with GEMMK 1 */
    ck_assert_int_eq(lirf_gemm_params_check(x, dev, why, sizeof why), LIRF_E_INVALID);
    /* local memory beyond the device's */
    lirf_device_info small = *dev;
    small.local_mem = 1024;
    ck_assert_int_eq(lirf_gemm_params_check(P_K0_SA, &small, why, sizeof why), LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(why, "local memory"));
    /* lirf_gemm_tuning_use refuses an incomplete or invalid tuning */
    lirf_gemm_tuning t = make_tuning(P_K0, P_K1);
    t.cls[2].set = 0;
    ck_assert_int_eq(lirf_gemm_tuning_use(tctx(), &t, "set"), LIRF_E_INVALID);
    t = make_tuning(P_K0, P_K1);
    t.min_indirect = 3;
    ck_assert_int_eq(lirf_gemm_tuning_use(tctx(), &t, "set"), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_gemm_tuning_use(NULL, &t, "set"), LIRF_E_NULL);
    ck_assert_int_eq(lirf_gemm_tuning_load(NULL, dev, &t), LIRF_E_NULL);
    ck_assert_int_eq(lirf_gemm_tuning_save("/nonexistent-dir/x.json", dev, &t, NULL),
                     LIRF_E_INVALID);
    t.min_indirect = 0;
    ck_assert_int_eq(lirf_gemm_tuning_save("/nonexistent-dir/x.json", dev, &t, NULL), LIRF_E_IO);
    char path[64];
    ck_assert_int_eq(lirf_gemm_tuning_file("", dev, path, sizeof path), LIRF_E_NOT_FOUND);
    ck_assert_int_eq(lirf_gemm_tuning_file("/tmp", dev, path, 8), LIRF_E_INVALID);
    /* set directly: "set", then back to the plain call */
    t = base_tuning();
    ck_assert_int_eq(lirf_gemm_tuning_use(tctx(), &t, "set"), LIRF_OK);
    ck_assert_str_eq(lirf_gemm_tuning_source(tctx()), "set");
    gemm_exact();
    ck_assert_int_eq(lirf_gemm_tuning_use(tctx(), NULL, "off"), LIRF_OK);
    ck_assert_str_eq(lirf_gemm_tuning_source(tctx()), "off");
}
END_TEST

int main(void) {
    Suite *s = suite_create("tune");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, tune_run_from_c); /* first: before any OpenCL use */
    tcase_add_test(tc, tune_valid_file_is_applied);
    tcase_add_test(tc, tune_bad_files_are_rejected);
    tcase_add_test(tc, tune_off);
    tcase_add_test(tc, tune_shipped_only_for_its_device);
    tcase_add_test(tc, tune_checks_and_arguments);
    tcase_add_test(tc, tune_run_refused_after_opencl);
    suite_add_tcase(s, tc);
    int rc = trun(s);
    cleanup();
    return rc;
}
