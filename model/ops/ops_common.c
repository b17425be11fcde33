/* Argument validation shared by the host side of every op. */
#include <limits.h>
#include <stdarg.h>

#include "ops.h"

lirf_status lirf_check_buf(lirf_buf b, size_t need, const char *op, const char *name) {
    if (!b.mem) return LIRF_FAIL(LIRF_E_NULL, "%s: buffer %s is NULL", op, name);
    if (b.n < need)
        return LIRF_FAIL(LIRF_E_SHAPE, "%s: buffer %s holds %zu elements, the shapes need %zu", op,
                         name, b.n, need);
    if (b.off + need > (size_t)INT_MAX)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: buffer %s is too large for int indexing", op, name);
    return LIRF_OK;
}

lirf_status lirf_check_opt_buf(lirf_buf b, size_t need, const char *op, const char *name) {
    if (!b.mem) return LIRF_OK;
    return lirf_check_buf(b, need, op, name);
}

lirf_status lirf_check_dims(const char *op, int count, ...) {
    va_list ap;
    va_start(ap, count);
    for (int i = 0; i < count; i++) {
        int d = va_arg(ap, int);
        if (d <= 0) {
            va_end(ap);
            return LIRF_FAIL(LIRF_E_INVALID, "%s: size argument %d is %d (must be > 0)", op, i + 1,
                             d);
        }
    }
    va_end(ap);
    return LIRF_OK;
}
