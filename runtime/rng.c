/* splitmix64, lirf's host random generator (lirf_rng.h). */
#include <math.h>

#include "lirf_rng.h"

uint64_t lirf_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t lirf_rng_next(uint64_t *state) { return lirf_mix64(*state += LIRF_RNG_GOLDEN); }

double lirf_rng_uniform(uint64_t *state) {
    return ((double)(lirf_rng_next(state) >> 11) + 0.5) / 9007199254740992.0;
}

double lirf_rng_normal(uint64_t *state) {
    double u = lirf_rng_uniform(state), v = lirf_rng_uniform(state);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

void lirf_shuffle(size_t *perm, size_t n, uint64_t key) {
    for (size_t i = 0; i < n; i++) perm[i] = i;
    uint64_t z = key;
    for (size_t i = n; i > 1; i--) {
        z = lirf_rng_next(&z);
        size_t j = (size_t)(z % i), t = perm[i - 1];
        perm[i - 1] = perm[j], perm[j] = t;
    }
}
