/* What lirf.c (deposit: construction, saving) and withdraw.c (withdrawal,
 * several deposits) share; not part of the library's interface. */
#ifndef LIRF_LIRF_PRIV_H
#define LIRF_LIRF_PRIV_H

#include "lirf.h"

/* qsort order of ints, ascending */
int lirf_cmp_int(const void *a, const void *b);
/* 1 to K - 1 distinct classes in [0, K): else LIRF_E_INVALID naming the fault */
lirf_status lirf_check_deposit_classes(const int32_t *dep, int ndep, int K);
/* A lirf_lirf with its classes and split and no nets (freed by lirf_lirf_destroy) */
lirf_status lirf_lirf_alloc(lirf_ctx *ctx, const lirf_model_meta *meta, int split,
                            const int32_t *dep, int ndep, lirf_lirf **out);
/* l's column masks on the device: mask (K), pre_cols, dep_cols */
lirf_status lirf_lirf_masks(lirf_lirf *l);
/* "0,1,2" from v[0..count) into out (n bytes) */
void lirf_class_list_text(char *out, size_t n, const int32_t *v, int count);

#endif
