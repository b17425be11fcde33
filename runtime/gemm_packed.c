/* lirf's own GEMM for CPU devices: pack op(A) and op(B) into panels, then a
 * register-tiled kernel (cl_kernels/gemm.cl, where the layouts are described).
 *
 * Why: CLBlast on PoCL, even with tuned parameters (tune.c), reached about
 * 0.4 of OpenBLAS on the ResNet-18 convolution GEMMs. Its kernels read the
 * operands in place with large strides; this one reads both from contiguous
 * panels, so a CPU streams them with its prefetchers, and computes a 12 x 32
 * tile per work-item in AVX-512 registers (docs/benchmarks.md has the runs).
 *
 * K is cut into slices of at most SLICE_MAX (equal, multiples of 8); each
 * slice packs its part of both operands (scratch slots LIRF_SCRATCH_PACK_A/B,
 * so the packed copies hold (M + N) * slice floats, not the whole operands)
 * and runs the tile kernel, the first with beta, the rest adding to C.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NR 32
#define SLICE_MAX 1024
#define PACK_A_GROUP ((size_t)256 << 10) /* floats: see group_k */

const char *lirf_gemm_engine_name(lirf_gemm_engine engine) {
    return engine == LIRF_GEMM_PACKED ? "packed" : "clblast";
}

lirf_gemm_engine lirf_gemm_engine_get(const lirf_ctx *ctx) {
    return ctx ? ctx->gemm_engine : LIRF_GEMM_CLBLAST;
}

lirf_status lirf_gemm_engine_set(lirf_ctx *ctx, lirf_gemm_engine engine) {
    if (!ctx) return LIRF_FAIL(LIRF_E_NULL, "lirf_gemm_engine_set: NULL context");
    if (engine != LIRF_GEMM_CLBLAST && engine != LIRF_GEMM_PACKED)
        return LIRF_FAIL(LIRF_E_INVALID, "lirf_gemm_engine_set: unknown engine %d", (int)engine);
    ctx->gemm_engine = engine;
    return LIRF_OK;
}

/* The packed kernels are made for a compiler that runs a one-work-item group
 * as plain code and keeps float16 in vector registers: PoCL's CPU devices
 * (measured: docs/benchmarks.md). Mesa's rusticl on llvmpipe, also a CPU
 * device, vectorises across work-items instead and ran them 20x slower than
 * CLBlast (0.08 against 1.5 GFLOP/s), so other CPU drivers keep CLBlast
 * unless LIRF_GEMM=packed. */
int lirf_device_pocl_cpu(const lirf_device_info *d) {
    return (d->type & CL_DEVICE_TYPE_CPU) &&
           (strstr(d->platform_name, "Portable Computing Language") || strstr(d->version, "PoCL"));
}

void lirf_gemm_engine_init(lirf_ctx *ctx) {
    const char *env = lirf_options_get()->gemm;
    int pocl = lirf_device_pocl_cpu(&ctx->dev);
    const char *why = pocl ? "a PoCL CPU device" : "not a PoCL CPU device";
    ctx->gemm_engine = pocl ? LIRF_GEMM_PACKED : LIRF_GEMM_CLBLAST;
    if (env && *env) {
        if (!strcmp(env, "packed") || !strcmp(env, "clblast")) {
            ctx->gemm_engine = !strcmp(env, "packed") ? LIRF_GEMM_PACKED : LIRF_GEMM_CLBLAST;
            why = "LIRF_GEMM";
        } else {
            lirf_log(LIRF_LOG_WARN, "LIRF_GEMM=%s ignored (use packed or clblast)", env);
        }
    }
    lirf_log(LIRF_LOG_INFO, "GEMM engine: %s (%s)", lirf_gemm_engine_name(ctx->gemm_engine), why);
}

/* Rows per tile: 12 unless 8 wastes clearly less padding (M = 16, 40, ...);
 * the 8-row kernel does about 15% less per FMA slot. */
static int rows_per_tile(size_t M) {
    size_t p12 = (M + 11) / 12 * 12, p8 = (M + 7) / 8 * 8;
    return p8 * 115 < p12 * 100 ? 8 : 12;
}

static const char *class_label(lirf_trans ta, lirf_trans tb) {
    return ta ? (tb ? "gemm_tt" : "gemm_tn") : (tb ? "gemm_nt" : "gemm_nn");
}

static int fits_int(size_t v) { return v <= (size_t)INT_MAX; }

/* The slicing of K: slices of equal length (a multiple of 8) of at most
 * SLICE_MAX, the last shorter. (Measured in training at width 64: slices of
 * at most 512, 1024, 2048 and 4096 gave 38.9, 39.8, 40.0 and 39.6 img/s.) */
size_t lirf_gemm_packed_slice(size_t K) {
    if (K == 0) return 0;
    size_t nslices = (K + SLICE_MAX - 1) / SLICE_MAX;
    size_t slice = (K + nslices - 1) / nslices;
    slice = (slice + 7) / 8 * 8;
    return slice > K ? K : slice;
}

size_t lirf_gemm_packed_b_elems(size_t N, size_t K) {
    return (N + NR - 1) / NR * NR * K;
}

size_t lirf_gemm_packed_a_elems(size_t M, size_t K) {
    size_t mr = (size_t)rows_per_tile(M);
    return (M + mr - 1) / mr * mr * K;
}

/* The int-range checks of the kernels' indices (size_t only for products). */
static lirf_status check_ranges(size_t M, size_t N, size_t K, size_t lda, size_t ldb, size_t ldc,
                                lirf_buf A, lirf_buf B, lirf_buf C, lirf_buf ap, lirf_buf bp) {
    size_t mr = (size_t)rows_per_tile(M), slice = lirf_gemm_packed_slice(K);
    size_t mpad = (M + mr - 1) / mr * mr, npad = (N + NR - 1) / NR * NR;
    if (!fits_int(M + mr) || !fits_int(N + NR) || !fits_int(K) || !fits_int(lda) ||
        !fits_int(ldb) || !fits_int(ldc) || !fits_int(A.off) || !fits_int(B.off) ||
        !fits_int(C.off) || mpad > (size_t)INT_MAX / K || npad > (size_t)INT_MAX / K ||
        !fits_int(ap.off + mpad * K) || !fits_int(bp.off + npad * K) ||
        mpad > (size_t)INT_MAX / slice || npad > (size_t)INT_MAX / slice)
        return LIRF_FAIL(LIRF_E_INVALID,
                         "gemm (packed engine): M %zu, N %zu, K %zu or a leading dimension or "
                         "offset is beyond int range (use LIRF_GEMM=clblast)", M, N, K);
    return LIRF_OK;
}

/* The packing kernels' local size: (64, 1), or the kernel's limit below that.
 * Fixed, not the driver's choice: PoCL compiles a kernel once per local size,
 * and its choice follows the global size, so every new shape would compile
 * again (seconds, in the process). */
static lirf_status pack_local(lirf_ctx *ctx, cl_kernel k, size_t lws[2]) {
    size_t wg;
    LIRF_TRY(lirf_kernel_wg(ctx, k, 64, &wg));
    lws[0] = wg, lws[1] = 1;
    return LIRF_OK;
}

/* Packs op(A) (M, K) into pa in slices of `slice` (gemm.cl: gemm_pack_a),
 * mr rows a panel, in one launch. */
static lirf_status pack_a(lirf_ctx *ctx, cl_kernel kpa, lirf_buf pa, lirf_trans ta, size_t M,
                          size_t K, size_t slice, lirf_buf A, size_t lda, int mr) {
    LIRF_TRY(lirf_set_args(ctx, kpa, "bbiiiiii", pa, A, (int)lda, (int)ta, (int)M, (int)K, mr,
                           (int)slice));
    size_t mp = (M + (size_t)mr - 1) / (size_t)mr, ns = (K + slice - 1) / slice;
    size_t gws[3] = {slice, mp, ns}, lws[3] = {1, 1, 1};
    LIRF_TRY(pack_local(ctx, kpa, lws));
    lws[2] = 1;
    return lirf_launch(ctx, kpa, "gemm/pack_a", 3, gws, lws);
}

/* The tile kernel over the k range held in as and bs: all of K in slices of
 * `slice` (as packed whole), or one slice (slice = K). */
static lirf_status micro(lirf_ctx *ctx, cl_kernel km, const char *label, lirf_buf as,
                         lirf_buf bs, size_t M, size_t N, size_t K, size_t slice, size_t mpad,
                         size_t npad, float alpha, float beta, lirf_buf C, size_t ldc, int order,
                         const size_t gws[2]) {
    size_t lws[2] = {1, 1};
    LIRF_TRY(lirf_set_args(ctx, km, "bbiiiiiiffbii", as, bs, (int)M, (int)N, (int)K, (int)slice,
                           (int)mpad, (int)npad, (double)alpha, (double)beta, C, (int)ldc, order));
    return lirf_launch(ctx, km, label, 2, gws, lws);
}

/* How much of K the packed copy of A holds when B comes packed: whole
 * slices, up to PACK_A_GROUP floats (at least one slice). Each group is one
 * packing and one tile launch; the bound keeps the scratch small (the
 * weight gradient of ResNet-18's stem at batch 128 would need 6.4 MB for
 * all of K at once). */
static size_t group_k(size_t mpad, size_t slice) {
    size_t n = PACK_A_GROUP / (mpad * slice);
    return (n ? n : 1) * slice;
}

/* C = alpha op(A) op(B) + beta C with op(A) read from A (ta) or, when ap.mem,
 * from its packed form (lirf_gemm_pack_a), and op(B) from B (tb) or, when
 * bp.mem, from its packed form (lirf_gemm_prepacked_b's layout). With B
 * packed, A is packed a group of slices at a time (group_k; all of K when it
 * came packed) and one launch runs each group; else B is packed a slice at a time and the tile kernel runs once a
 * slice (the packed copy of B holds one slice). */
static lirf_status packed_gemm(lirf_ctx *ctx, lirf_trans ta, lirf_trans tb, size_t M, size_t N,
                               size_t K, float alpha, lirf_buf A, size_t lda, lirf_buf ap,
                               lirf_buf B, size_t ldb, lirf_buf bp, float beta, lirf_buf C,
                               size_t ldc) {
    int mr = rows_per_tile(M);
    size_t mp = (M + (size_t)mr - 1) / (size_t)mr, np = (N + NR - 1) / NR;
    size_t mpad = mp * (size_t)mr, npad = np * NR;
    size_t slice = lirf_gemm_packed_slice(K);
    LIRF_TRY(check_ranges(M, N, K, lda, ldb, ldc, A, B, C, ap, bp));
    /* A: packed in groups of slices when B comes packed, else a slice at a time */
    size_t a_k = bp.mem ? group_k(mpad, slice) : slice;
    if (a_k > K) a_k = K;
    lirf_buf pa = ap, pb = bp;
    if (!ap.mem) LIRF_TRY(lirf_scratch(ctx, LIRF_SCRATCH_PACK_A, mpad * a_k, &pa));
    if (!bp.mem) LIRF_TRY(lirf_scratch(ctx, LIRF_SCRATCH_PACK_B, npad * slice, &pb));
    cl_kernel kpa = NULL, kpb = NULL, km;
    if (!ap.mem) LIRF_TRY(lirf_kernel_get(ctx, "gemm", "gemm_pack_a", &kpa));
    if (!bp.mem) LIRF_TRY(lirf_kernel_get(ctx, "gemm", "gemm_pack_b", &kpb));
    LIRF_TRY(lirf_kernel_get(ctx, "gemm", mr == 12 ? "gemm_micro12" : "gemm_micro8", &km));
    /* dimension 0 walks the panels of the smaller packed operand, so that one
     * panel of the larger stays in cache while they pass */
    int order = mpad <= npad;
    size_t gws_m[2] = {order ? mp : np, order ? np : mp};
    /* profile labels: the transpose class, or which operands came packed (the
     * convolution's forward: both; weight gradient: B; input gradient: A) */
    const char *label = ap.mem && bp.mem ? "gemm_packed_ab"
                        : bp.mem         ? "gemm_packed_b"
                        : ap.mem         ? "gemm_packed_a"
                                         : class_label(ta, tb);
    if (bp.mem) {
        /* A packed in groups of whole slices (all of K when A came packed) */
        size_t group = ap.mem ? K : group_k(mpad, slice);
        for (size_t k0 = 0; k0 < K; k0 += group) {
            size_t kg = K - k0 < group ? K - k0 : group;
            lirf_buf as = pa, bs = {pb.mem, pb.off + k0 * npad, pb.n};
            if (!ap.mem) {
                lirf_buf asrc = {A.mem, A.off + (ta ? k0 * lda : k0), A.n};
                if (!fits_int(asrc.off) || !fits_int(bs.off))
                    return LIRF_FAIL(LIRF_E_INVALID, "gemm (packed engine): offset beyond int range");
                LIRF_TRY(pack_a(ctx, kpa, pa, ta, M, kg, slice, asrc, lda, mr));
            }
            LIRF_TRY(micro(ctx, km, label, as, bs, M, N, kg, slice, mpad, npad, alpha,
                           k0 ? 1.0f : beta, C, ldc, order, gws_m));
        }
        ctx->stats.gemm_calls++;
        return LIRF_OK;
    }
    for (size_t k0 = 0; k0 < K; k0 += slice) {
        size_t kc = K - k0 < slice ? K - k0 : slice;
        lirf_buf as = pa;
        if (ap.mem) {
            as.off = ap.off + k0 * mpad; /* the slice's block */
        } else {
            /* op(A)(m, k0 + kk) is at A + k0 (not transposed) or A + k0 * lda */
            lirf_buf asrc = {A.mem, A.off + (ta ? k0 * lda : k0), A.n};
            if (!fits_int(asrc.off))
                return LIRF_FAIL(LIRF_E_INVALID, "gemm (packed engine): offset beyond int range");
            LIRF_TRY(pack_a(ctx, kpa, pa, ta, M, kc, kc, asrc, lda, mr));
        }
        lirf_buf bsrc = {B.mem, B.off + (tb ? k0 : k0 * ldb), B.n};
        if (!fits_int(bsrc.off))
            return LIRF_FAIL(LIRF_E_INVALID, "gemm (packed engine): offset beyond int range");
        LIRF_TRY(lirf_set_args(ctx, kpb, "bbiiii", pb, bsrc, (int)ldb, (int)tb, (int)N, (int)kc));
        size_t gws_b[2] = {kc, np}, lws_b[2];
        LIRF_TRY(pack_local(ctx, kpb, lws_b));
        LIRF_TRY(lirf_launch(ctx, kpb, tb ? "gemm/pack_b_t" : "gemm/pack_b", 2, gws_b, lws_b));
        LIRF_TRY(micro(ctx, km, label, as, pb, M, N, kc, kc, mpad, npad, alpha,
                       k0 ? 1.0f : beta, C, ldc, order, gws_m));
    }
    ctx->stats.gemm_calls++;
    return LIRF_OK;
}

lirf_status lirf_gemm_packed(lirf_ctx *ctx, lirf_trans ta, lirf_trans tb, size_t M, size_t N,
                             size_t K, float alpha, lirf_buf A, size_t lda, lirf_buf B, size_t ldb,
                             float beta, lirf_buf C, size_t ldc) {
    return packed_gemm(ctx, ta, tb, M, N, K, alpha, A, lda, LIRF_NOBUF, B, ldb, LIRF_NOBUF, beta,
                       C, ldc);
}

/* Checks shared by the prepacked entry points: A (when not packed: ta, lda),
 * packed views large enough, C. */
static lirf_status check_prepacked(lirf_ctx *ctx, size_t M, size_t N, size_t K, lirf_buf C,
                                   size_t ldc) {
    if (!ctx) return LIRF_FAIL(LIRF_E_NULL, "gemm: NULL context");
    if (M == 0 || N == 0 || K == 0)
        return LIRF_FAIL(LIRF_E_INVALID, "gemm: zero size (M %zu, N %zu, K %zu)", M, N, K);
    if (!C.mem) return LIRF_FAIL(LIRF_E_NULL, "gemm: matrix C is NULL");
    if (ldc < N || C.n < (M - 1) * ldc + N)
        return LIRF_FAIL(LIRF_E_SHAPE, "gemm: C (ldc %zu) does not hold %zu x %zu", ldc, M, N);
    return LIRF_OK;
}

static lirf_status check_plain(const char *what, lirf_buf X, lirf_trans t, size_t rows,
                               size_t cols, size_t ld) {
    /* op(X) is (rows, cols); stored (cols, rows) when transposed */
    size_t r = t ? cols : rows, c = t ? rows : cols;
    if (!X.mem) return LIRF_FAIL(LIRF_E_NULL, "gemm: matrix %s is NULL", what);
    if (ld < c || X.n < (r - 1) * ld + c)
        return LIRF_FAIL(LIRF_E_SHAPE, "gemm: %s (ld %zu) does not hold %zu x %zu", what, ld, r, c);
    return LIRF_OK;
}

static lirf_status check_packed(const char *what, lirf_buf P, size_t need) {
    if (!P.mem) return LIRF_FAIL(LIRF_E_NULL, "gemm: packed %s is NULL", what);
    if (P.n < need)
        return LIRF_FAIL(LIRF_E_SHAPE, "gemm: packed %s holds %zu elements, needs %zu", what, P.n,
                         need);
    return LIRF_OK;
}

lirf_status lirf_gemm_pack_a(lirf_ctx *ctx, lirf_trans ta, size_t M, size_t K, lirf_buf A,
                             size_t lda, lirf_buf Ap) {
    if (!ctx) return LIRF_FAIL(LIRF_E_NULL, "gemm: NULL context");
    if (M == 0 || K == 0) return LIRF_FAIL(LIRF_E_INVALID, "gemm: zero size (M %zu, K %zu)", M, K);
    LIRF_TRY(check_plain("A", A, ta, M, K, lda));
    LIRF_TRY(check_packed("A", Ap, lirf_gemm_packed_a_elems(M, K)));
    LIRF_TRY(check_ranges(M, 1, K, lda, 1, 1, A, LIRF_NOBUF, LIRF_NOBUF, Ap, LIRF_NOBUF));
    int mr = rows_per_tile(M);
    cl_kernel kpa;
    LIRF_TRY(lirf_kernel_get(ctx, "gemm", "gemm_pack_a", &kpa));
    return pack_a(ctx, kpa, Ap, ta, M, K, lirf_gemm_packed_slice(K), A, lda, mr);
}

lirf_status lirf_gemm_prepacked_b(lirf_ctx *ctx, lirf_trans ta, size_t M, size_t N, size_t K,
                                  float alpha, lirf_buf A, size_t lda, lirf_buf Bp, float beta,
                                  lirf_buf C, size_t ldc) {
    LIRF_TRY(check_prepacked(ctx, M, N, K, C, ldc));
    LIRF_TRY(check_packed("B", Bp, lirf_gemm_packed_b_elems(N, K)));
    LIRF_TRY(check_plain("A", A, ta, M, K, lda));
    return packed_gemm(ctx, ta, LIRF_NO_TRANS, M, N, K, alpha, A, lda, LIRF_NOBUF, LIRF_NOBUF, 0,
                       Bp, beta, C, ldc);
}

lirf_status lirf_gemm_prepacked_a(lirf_ctx *ctx, lirf_trans tb, size_t M, size_t N, size_t K,
                                  float alpha, lirf_buf Ap, lirf_buf B, size_t ldb, float beta,
                                  lirf_buf C, size_t ldc) {
    LIRF_TRY(check_prepacked(ctx, M, N, K, C, ldc));
    LIRF_TRY(check_packed("A", Ap, lirf_gemm_packed_a_elems(M, K)));
    LIRF_TRY(check_plain("B", B, tb, K, N, ldb));
    return packed_gemm(ctx, LIRF_NO_TRANS, tb, M, N, K, alpha, LIRF_NOBUF, 0, Ap, B, ldb,
                       LIRF_NOBUF, beta, C, ldc);
}

lirf_status lirf_gemm_prepacked_ab(lirf_ctx *ctx, size_t M, size_t N, size_t K, float alpha,
                                   lirf_buf Ap, lirf_buf Bp, float beta, lirf_buf C, size_t ldc) {
    LIRF_TRY(check_prepacked(ctx, M, N, K, C, ldc));
    LIRF_TRY(check_packed("A", Ap, lirf_gemm_packed_a_elems(M, K)));
    LIRF_TRY(check_packed("B", Bp, lirf_gemm_packed_b_elems(N, K)));
    return packed_gemm(ctx, LIRF_NO_TRANS, LIRF_NO_TRANS, M, N, K, alpha, LIRF_NOBUF, 0, Ap,
                       LIRF_NOBUF, 0, Bp, beta, C, ldc);
}

int lirf_gemm_packed_rows(size_t M) { return rows_per_tile(M); }

lirf_status lirf_gemm_packed_taps3(lirf_ctx *ctx, size_t M, size_t N, size_t cin, float alpha,
                                   lirf_buf Ap, lirf_buf X, size_t cs, size_t wp, float beta,
                                   lirf_buf C, size_t ldc) {
    if (!ctx) return LIRF_FAIL(LIRF_E_NULL, "gemm (taps): NULL context");
    if (M == 0 || N == 0 || cin == 0 || wp == 0)
        return LIRF_FAIL(LIRF_E_INVALID, "gemm (taps): zero size (M %zu, N %zu, cin %zu, wp %zu)",
                         M, N, cin, wp);
    LIRF_TRY(check_prepacked(ctx, M, N, 9 * cin, C, ldc));
    int mr = rows_per_tile(M);
    size_t mp = (M + (size_t)mr - 1) / (size_t)mr, np = (N + NR - 1) / NR;
    size_t npad = np * NR;
    LIRF_TRY(check_packed("A", Ap, mp * (size_t)mr * 9 * cin));
    if (!X.mem) return LIRF_FAIL(LIRF_E_NULL, "gemm (taps): X is NULL");
    /* the last tile reads up to npad - 1 + 2 * wp + 2 + 15 of a plane */
    if (cs < npad + 2 * wp + 2)
        return LIRF_FAIL(LIRF_E_SHAPE, "gemm (taps): plane stride %zu below %zu", cs,
                         npad + 2 * wp + 2);
    if (cin > SIZE_MAX / cs || X.n < cin * cs)
        return LIRF_FAIL(LIRF_E_SHAPE, "gemm (taps): X holds %zu elements, needs %zu x %zu", X.n,
                         cin, cs);
    if (!fits_int(X.off + cin * cs) || !fits_int(Ap.off + mp * (size_t)mr * 9 * cin) ||
        !fits_int(M + (size_t)mr) || !fits_int(npad) || !fits_int(ldc) || !fits_int(C.off) ||
        !fits_int(C.off + (M - 1) * ldc + N))
        return LIRF_FAIL(LIRF_E_INVALID, "gemm (taps): sizes beyond int range");
    if (!lirf_device_pocl_cpu(&ctx->dev))
        return LIRF_FAIL(LIRF_E_INVALID, "gemm (taps): only on PoCL CPU devices (the kernels are "
                                         "built there only)");
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "gemm", mr == 12 ? "gemm_taps3_12" : "gemm_taps3_8", &k));
    /* dimension 0 walks the A panels (fewer), so the tiles of one window of X
     * run one after the other */
    int order = 1;
    size_t gws[2] = {mp, np}, lws[2] = {1, 1};
    LIRF_TRY(lirf_set_args(ctx, k, "bbiiiiiffbii", Ap, X, (int)cs, (int)wp, (int)M, (int)N,
                           (int)cin, (double)alpha, (double)beta, C, (int)ldc, order));
    LIRF_TRY(lirf_launch(ctx, k, "gemm_taps3", 2, gws, lws));
    ctx->stats.gemm_calls++;
    return LIRF_OK;
}
