/* Delta deposits (docs/method.md, "Delta mode"): what the target's lower part
 * lost, stored so that withdraw gives back T0.
 *
 * The archive member (deposit.safetensors, metadata format "lirf-delta-1")
 * holds, for every tensor NAME of the lower part (stem and stages up to the
 * split):
 *   conv weights (parameters of 2 or more dimensions): D = T0 - target as
 *     int8   NAME.delta (I8, NAME's shape) and NAME.delta_scale (F32, one per
 *            output channel: max |D| of the channel / 127; D ~ q * scale)
 *     f16    NAME.delta (F16, round to nearest even)
 *     f32    NAME.delta (F32)
 *   BN affine parameters (1 dimension): NAME.delta (F32, exact D);
 *   BN running statistics: NAME (F32), T0's own (the target's statistics,
 *     moved by D_r's batches, give back a net that is not T0: Pre 61);
 *   num_batches_tracked: NAME (I64), T0's.
 * Withdraw: recovered = target + decoded D, statistics replaced; for int8 in
 * double, (float)((double)t + (double)q * (double)scale), so that every
 * machine computes the same floats (q * scale is exact in double).
 */
#ifndef LIRF_DELTA_H
#define LIRF_DELTA_H

#include <stdint.h>

#include "net.h"
#include "safetensors.h"

typedef enum { LIRF_DELTA_INT8 = 0, LIRF_DELTA_F16, LIRF_DELTA_F32 } lirf_delta_codec;

#define LIRF_DELTA_FORMAT "lirf-delta-1"

const char *lirf_delta_codec_name(lirf_delta_codec c); /* "int8", "f16", "f32" */
/* "int8" / "f16" / "f32" into *c; LIRF_E_INVALID naming them otherwise. */
lirf_status lirf_delta_codec_parse(const char *text, lirf_delta_codec *c);

/* IEEE half precision: round to nearest, ties to even (overflow to infinity,
 * NaN kept NaN); the other way exact. */
uint16_t lirf_f32_to_f16(float f);
float lirf_f16_to_f32(uint16_t h);

/* The member's bytes (lirf_st_write_mem layout, metadata format and codec)
 * from T0's lower part and the target's (the same tensors; non-finite deltas
 * are refused). *stored: how many values it holds. free() *buf. */
lirf_status lirf_delta_encode(lirf_net *t0_lower, lirf_net *target_lower, lirf_delta_codec codec,
                              void **buf, size_t *len, size_t *stored);

/* lower (the target's lower part) += the member's delta, statistics replaced.
 * The member must hold exactly the tensors the codec gives for lower, with
 * their dtypes and shapes, finite values and non-negative scales; anything
 * else is LIRF_E_FORMAT naming `what` and the tensor, with lower unchanged. */
lirf_status lirf_delta_apply(const lirf_safetensors *member, const char *what, lirf_net *lower);

#endif
