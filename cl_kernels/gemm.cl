/* lirf's own GEMM for CPU devices (runtime/gemm_packed.c): row-major
 * C (M,N) = alpha * op(A) op(B) + beta * C, computed from packed panels.
 * Reference: ref_gemm (model/ref/ref_gemm.c).
 *
 * Packed layouts (zero-padded to whole panels):
 *   A: Ap[mp][k][MR]  rows mp*MR .. mp*MR+MR-1 of op(A), for every k;
 *   B: Bp[np][k][32]  columns np*32 .. np*32+31 of op(B), for every k.
 * The panels of both are cut along k into slices of at most 1024 (the
 * layouts below), so that a B panel slice (128 KiB) and the A panels that
 * meet it stay in L2. One work-item computes an MR x 32 tile of C over all
 * slices in registers: two 16-wide vectors of B times MR broadcast scalars of
 * A per k, MR * 2 accumulators (24 for MR 12: with the two B vectors and the
 * broadcast, 27 of the 32 vector registers of AVX-512). Work-groups are one
 * work-item (a CPU implementation runs each group as a loop on one core), and
 * dimension 0 of the range walks the operand whose panels are fewer, so the
 * panel of the other stays in cache while they pass. Where the host packs an
 * operand slice by slice (a general GEMM), it runs this kernel once a slice,
 * the first with beta, later ones adding (beta 1). */

#define NR 32

/* op(A) (M, K) packed in slices of `slice` k (the last shorter): the element
 * (mp * mr + i, k) goes to P[k0 * Mp + (mp * kc + k - k0) * mr + i], k0 = k -
 * k % slice, kc = min(slice, K - k0), Mp = M rounded up to mr; 0 beyond M.
 * One slice (slice = K) is P[(mp * K + k) * mr + i]. Range (slice, panels,
 * slices): the host launches exactly the panels and the slices. */
__kernel void gemm_pack_a(__global float *P, int poff, __global const float *A, int aoff,
                          int lda, int ta, int M, int K, int mr, int slice) {
    int kk = get_global_id(0), mp = get_global_id(1), k0 = get_global_id(2) * slice;
    int kc = min(slice, K - k0), k = k0 + kk, Mp = get_global_size(1) * mr;
    if (kk >= kc) return;
    __global float *d = P + poff + (size_t)k0 * Mp + ((size_t)mp * kc + kk) * mr;
    for (int i = 0; i < mr; i++) {
        int m = mp * mr + i;
        float v = 0.0f;
        if (m < M) v = ta ? A[aoff + (size_t)k * lda + m] : A[aoff + (size_t)m * lda + k];
        d[i] = v;
    }
}

/* P[(np * K + k) * 32 + j] = op(B)(k, np * 32 + j), 0 beyond N; range (K, panels). */
__kernel void gemm_pack_b(__global float *P, int poff, __global const float *B, int boff,
                          int ldb, int tb, int N, int K) {
    int k = get_global_id(0), np = get_global_id(1);
    if (k >= K) return;
    __global float *d = P + poff + ((size_t)np * K + k) * NR;
    int n0 = np * NR;
    if (!tb && n0 + NR <= N) {
        __global const float *s = B + boff + (size_t)k * ldb + n0;
        vstore16(vload16(0, s), 0, d);
        vstore16(vload16(1, s), 1, d);
        return;
    }
    for (int j = 0; j < NR; j++) {
        int n = n0 + j;
        float v = 0.0f;
        if (n < N) v = tb ? B[boff + (size_t)n * ldb + k] : B[boff + (size_t)k * ldb + n];
        d[j] = v;
    }
}

/* The tile's row i: accumulators, one k step, and the store into C. */
#define ACC(i) float16 c##i##a = 0.0f, c##i##b = 0.0f;
#define STEP(i)                                   \
    {                                             \
        float16 a_ = (float16)(ap[i]);            \
        c##i##a = fma(a_, b0, c##i##a);           \
        c##i##b = fma(a_, b1, c##i##b);           \
    }
#define STORE(i)                                                                  \
    if (m0 + i < M) {                                                             \
        __global float *r_ = C + coff + (size_t)(m0 + i) * ldc + n0;              \
        if (full) {                                                               \
            float16 o0 = alpha * c##i##a, o1 = alpha * c##i##b;                   \
            if (beta != 0.0f) {                                                   \
                o0 = fma((float16)beta, vload16(0, r_), o0);                      \
                o1 = fma((float16)beta, vload16(1, r_), o1);                      \
            }                                                                     \
            vstore16(o0, 0, r_);                                                  \
            vstore16(o1, 1, r_);                                                  \
        } else {                                                                  \
            float t_[NR];                                                         \
            vstore16(c##i##a, 0, t_);                                             \
            vstore16(c##i##b, 1, t_);                                             \
            for (int j = 0; j < NR && n0 + j < N; j++)                            \
                r_[j] = beta != 0.0f ? alpha * t_[j] + beta * r_[j] : alpha * t_[j]; \
        }                                                                         \
    }

/* K is the whole reduction, packed in slices of `slice` k (the last
 * shorter): slice k0 of A is the block at k0 * Mp, of B at k0 * Np (Mp, Np:
 * M and N rounded up to whole panels), each holding kc = min(slice, K - k0)
 * k of every panel. One launch runs all slices, so the tile stays in
 * registers and C is read and written once. order 0: dimension 0 walks B
 * panels; 1: A panels. */
#define MICRO_ARGS                                                                            \
    __global const float *Ap, int apoff, __global const float *Bp, int bpoff, int M, int N,  \
        int K, int slice, int Mp, int Np, float alpha, float beta, __global float *C,        \
        int coff, int ldc, int order
#define MICRO_SETUP(mr)                                                                       \
    int np = get_global_id(order), mp = get_global_id(1 - order);                             \
    int m0 = mp * (mr), n0 = np * NR, full = n0 + NR <= N;
/* the slice loop around the k loop of a tile of mr rows */
#define MICRO_LOOP(mr, STEPS)                                                                 \
    for (int k0 = 0; k0 < K; k0 += slice) {                                                   \
        int kc = min(slice, K - k0);                                                          \
        __global const float *ap = Ap + apoff + (size_t)k0 * Mp + (size_t)mp * kc * (mr);     \
        __global const float *bp = Bp + bpoff + (size_t)k0 * Np + (size_t)np * kc * NR;       \
        for (int k = 0; k < kc; k++) {                                                        \
            float16 b0 = vload16(0, bp), b1 = vload16(1, bp);                                 \
            STEPS                                                                             \
            ap += (mr);                                                                       \
            bp += NR;                                                                         \
        }                                                                                     \
    }

/* A kernel's body: the tile of mr rows (12 or 8) over the k loop LOOP. */
#define ACCS12 ACC(0) ACC(1) ACC(2) ACC(3) ACC(4) ACC(5) ACC(6) ACC(7) ACC(8) ACC(9) ACC(10) ACC(11)
#define ACCS8 ACC(0) ACC(1) ACC(2) ACC(3) ACC(4) ACC(5) ACC(6) ACC(7)
#define STEPS12                                                                              \
    STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7) STEP(8) STEP(9) STEP(10) \
    STEP(11)
#define STEPS8 STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7)
#define STORES12                                                                              \
    STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7) STORE(8) STORE(9) \
    STORE(10) STORE(11)
#define STORES8 STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7)
#define TILE_BODY(mr, LOOP) MICRO_SETUP(mr) ACCS##mr LOOP(mr, STEPS##mr) STORES##mr

__attribute__((reqd_work_group_size(1, 1, 1))) __kernel void gemm_micro12(MICRO_ARGS) {
    TILE_BODY(12, MICRO_LOOP)
}

__attribute__((reqd_work_group_size(1, 1, 1))) __kernel void gemm_micro8(MICRO_ARGS) {
    TILE_BODY(8, MICRO_LOOP)
}

#ifdef LIRF_POCL_CPU /* PoCL CPU devices only (runtime/program.c) */

/* A product whose B is never written: C (M, N) = alpha * A B3 + beta * C,
 * with A (M, 9 * cin) packed in one slice (Ap[mp][k][mr], k = c * 9 + r * 3
 * + s) and B3 (9 * cin, N) the 3x3 taps of zero-padded image planes laid out
 * flat with rows of wp: B3(c * 9 + r * 3 + s, n) = X[xoff + c * cs + n + r *
 * wp + s]. For a stride-1 3x3 convolution with padding 1, B3 is the im2col
 * of the output positions n of the padded grid (runtime/gemm_packed.c:
 * lirf_gemm_packed_taps3): the two 16-wide loads of B per k come from X
 * itself, a window that moves by one float or one row. Range and order as
 * for the micro kernels (B panels: np = n / 32). */
#define TAPS_ARGS                                                                             \
    __global const float *Ap, int apoff, __global const float *X, int xoff, int cs, int wp,  \
        int M, int N, int cin, float alpha, float beta, __global float *C, int coff, int ldc, \
        int order
#define TAP(mr, dr, ds, STEPS)                                                                \
    {                                                                                         \
        __global const float *bp = xc + (dr) * wp + (ds);                                     \
        float16 b0 = vload16(0, bp), b1 = vload16(1, bp);                                     \
        STEPS                                                                                 \
        ap += (mr);                                                                           \
    }
#define TAPS_LOOP(mr, STEPS)                                                                  \
    __global const float *ap = Ap + apoff + (size_t)mp * 9 * cin * (mr);                      \
    for (int c = 0; c < cin; c++) {                                                           \
        __global const float *xc = X + xoff + (size_t)c * cs + n0;                            \
        TAP(mr, 0, 0, STEPS) TAP(mr, 0, 1, STEPS) TAP(mr, 0, 2, STEPS)                        \
        TAP(mr, 1, 0, STEPS) TAP(mr, 1, 1, STEPS) TAP(mr, 1, 2, STEPS)                        \
        TAP(mr, 2, 0, STEPS) TAP(mr, 2, 1, STEPS) TAP(mr, 2, 2, STEPS)                        \
    }

__attribute__((reqd_work_group_size(1, 1, 1))) __kernel void gemm_taps3_12(TAPS_ARGS) {
    TILE_BODY(12, TAPS_LOOP)
}

__attribute__((reqd_work_group_size(1, 1, 1))) __kernel void gemm_taps3_8(TAPS_ARGS) {
    TILE_BODY(8, TAPS_LOOP)
}

#endif /* LIRF_POCL_CPU */
