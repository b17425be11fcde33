/* Reference SGD step (model/ops/ops.h, "optimiser"), PyTorch semantics with
 * dampening 0 and no Nesterov; momentum 0 does not read v. */
#include "ref.h"

void ref_sgd_step(double *w, double *v, const double *g, size_t n, double lr, double momentum,
                  double wd) {
    for (size_t i = 0; i < n; i++) {
        double gi = g[i] + wd * w[i];
        v[i] = momentum != 0 ? momentum * v[i] + gi : gi;
        w[i] -= lr * v[i];
    }
}
