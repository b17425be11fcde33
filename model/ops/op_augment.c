/* Host side of the data augmentation (cl_kernels/augment.cl); reference
 * model/ref/ref_augment.c. y, x (N,C,H,W) float, y and x must not overlap.
 *
 * The exact semantics, shared bit for bit by the kernel and the reference:
 *
 * Draws. u_k = lirf_aug_hash(seed, step, n, k) for image n (its index in the
 * batch) and k = 0..3:
 *   oy    = u_0 % (2 pad + 1)        crop offset, rows,    in [0, 2 pad]
 *   ox    = u_1 % (2 pad + 1)        crop offset, columns, in [0, 2 pad]
 *   flip  = p->flip && (u_2 & 1)     horizontal mirror with probability 1/2
 *   angle = ((u_3 >> 8) * 2^-24 * 2 - 1) * max_rot_deg   degrees, uniform in
 *           [-max_rot_deg, max_rot_deg) on a grid of 2^24 values
 * (all draws are made whatever the parameters, so pad 0 gives oy = ox = 0).
 *
 * Output pixel (i, j), every channel alike:
 *   j'       = flip ? W-1-j : j
 *   (yy, xx) = (i + oy - pad, j' + ox - pad)   in the un-padded input: this is
 *              a crop of the input zero-padded by pad on every side, taken at
 *              offset (oy, ox)
 *   max_rot_deg == 0: y = x[yy, xx], or 0 outside the image (an exact copy);
 *   otherwise, with (cy, cx) = ((H-1)/2, (W-1)/2), t = angle in radians,
 *     sx = cx + cos t (xx - cx) - sin t (yy - cy)
 *     sy = cy + sin t (xx - cx) + cos t (yy - cy)
 *   i.e. the content turns counter-clockwise as displayed (rows down) for
 *   t > 0, as torchvision's rotate; y = bilinear sample of x at (sy, sx) from
 *   the taps (floor(sy) + {0,1}, floor(sx) + {0,1}), each tap outside the image
 *   counting as 0 (so the result is continuous in the angle).
 * The rotation acts on the crop-and-flip result's coordinates, about the image
 * centre. The kernel computes the rotation in float, the reference in double
 * (they agree within ~1e-5 for inputs of magnitude 1).
 *
 * Limits: N, C, H, W > 0; 0 <= pad <= max(H, W); max_rot_deg finite, in
 * [0, 360]. */
#include <limits.h>
#include <math.h>

#include "ops.h"

/* lowbias32 (Chris Wellons' hash prospector): a bijective 32-bit finaliser. */
static uint32_t mix32(uint32_t h) {
    h ^= h >> 16;
    h *= 0x7feb352dU;
    h ^= h >> 15;
    h *= 0x846ca68bU;
    h ^= h >> 16;
    return h;
}

/* Each word enters with its own odd multiplier, one finaliser after each, so
 * that no two (seed, step, image, k) share a linear combination. The OpenCL
 * copy in cl_kernels/augment.cl must stay identical. */
uint32_t lirf_aug_hash(uint32_t seed, uint32_t step, uint32_t image, uint32_t k) {
    uint32_t h = mix32(seed * 0x9e3779b1U + 0x6a09e667U);
    h = mix32(h ^ (step * 0x85ebca77U));
    h = mix32(h ^ (image * 0xc2b2ae3dU));
    h = mix32(h ^ (k * 0x27d4eb2fU));
    return h;
}

lirf_status lirf_augment(lirf_ctx *ctx, lirf_buf y, lirf_buf x, int N, int C, int H, int W,
                         const lirf_aug_params *p, uint32_t seed, uint32_t step) {
    static const char *op = "augment";
    if (!p) return LIRF_FAIL(LIRF_E_NULL, "%s: params are NULL", op);
    LIRF_TRY(lirf_check_dims(op, 4, N, C, H, W));
    if (p->pad < 0 || p->pad > (H > W ? H : W))
        return LIRF_FAIL(LIRF_E_INVALID, "%s: pad %d outside [0, max(H, W) = %d]", op, p->pad,
                         H > W ? H : W);
    if (!(p->max_rot_deg >= 0.0f && p->max_rot_deg <= 360.0f))
        return LIRF_FAIL(LIRF_E_INVALID, "%s: max_rot_deg %g outside [0, 360]", op,
                         (double)p->max_rot_deg);
    size_t n = (size_t)N * C * H * W;
    if (n > (size_t)INT_MAX) return LIRF_FAIL(LIRF_E_INVALID, "%s: %zu elements too many", op, n);
    LIRF_TRY(lirf_check_buf(y, n, op, "y"));
    LIRF_TRY(lirf_check_buf(x, n, op, "x"));
    if (y.mem == x.mem && y.off < x.off + n && x.off < y.off + n)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: y and x overlap (in place is not supported)", op);
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "augment", "augment", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbiiiiiifuu", y, x, N, C, H, W, p->pad, p->flip != 0,
                           (double)p->max_rot_deg, (unsigned)seed, (unsigned)step));
    return lirf_launch1(ctx, k, op, (size_t)N * H * W);
}
