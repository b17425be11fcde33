/* The one host random generator of lirf: splitmix64 (Steele, Lea and Flood,
 * "Fast splittable pseudorandom number generators", OOPSLA 2014).
 *
 * A stream is a 64-bit state advanced by the golden-ratio increment and
 * finalised with lirf_mix64; every host draw in lirf (weight initialisation,
 * shuffles, the hold-out split, random labels, subsets, test data) comes from
 * it, each site with its own documented seeding so that its stream is fixed
 * across versions. Augmentation on the device is the one exception: it needs
 * stateless draws per (seed, step, image, k) in OpenCL C, and uses the
 * counter-based hash lirf_aug_hash (ops.h), mirrored in cl_kernels/augment.cl. */
#ifndef LIRF_RNG_H
#define LIRF_RNG_H

#include <stddef.h>
#include <stdint.h>

#define LIRF_RNG_GOLDEN 0x9E3779B97F4A7C15ull

/* splitmix64's finaliser: a bijection of 64-bit words (mix64(0) = 0). */
uint64_t lirf_mix64(uint64_t z);
/* The next word of the stream in *state. */
uint64_t lirf_rng_next(uint64_t *state);
/* Uniform in (0, 1): ((next >> 11) + 0.5) / 2^53. */
double lirf_rng_uniform(uint64_t *state);
/* Standard normal (Box-Muller on two uniforms, the cosine branch). */
double lirf_rng_normal(uint64_t *state);
/* perm = a permutation of 0..n-1: Fisher-Yates from the top, the stream
 * starting at key (z = mix64(z + golden) per swap, j = z mod i). */
void lirf_shuffle(size_t *perm, size_t n, uint64_t key);

#endif
