/* Plain single-threaded C references of every device op, in double precision.
 *
 * They are the oracles the OpenCL kernels are tested against (tests/), and the
 * functions the finite-difference gradient checks differentiate. Same names,
 * argument order and semantics as model/ops/ops.h (accumulate / write rules
 * included), prefixed ref_. Kept in the tree for good.
 */
#ifndef LIRF_REF_H
#define LIRF_REF_H

#include <stddef.h>
#include <stdint.h>

#include "ops.h"

/* elementwise */
void ref_relu_forward(double *y, const double *x, size_t n);
void ref_relu_backward(double *dx, const double *dy, const double *y, size_t n);
void ref_add(double *y, const double *a, const double *b, size_t n);
void ref_add_relu(double *y, const double *a, const double *b, size_t n);
void ref_axpy(double *y, double alpha, const double *x, size_t n);
void ref_scale(double *y, double alpha, size_t n);
size_t ref_count_nonfinite(const double *x, size_t n);

/* convolution; b, dx, db may be NULL */
void ref_conv2d_forward(double *y, const double *x, const double *w, const double *b,
                        const lirf_conv_shape *s);
void ref_conv2d_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                         const double *w, const lirf_conv_shape *s);

/* batch norm */
void ref_bn_forward_train(double *y, double *save_mean, double *save_invstd, double *running_mean,
                          double *running_var, const double *x, const double *gamma,
                          const double *beta, int N, int C, int HW, double eps, double momentum);
void ref_bn_forward_infer(double *y, const double *x, const double *gamma, const double *beta,
                          const double *running_mean, const double *running_var, int N, int C,
                          int HW, double eps);
void ref_bn_backward(double *dx, double *dgamma, double *dbeta, const double *dy, const double *x,
                     const double *save_mean, const double *save_invstd, const double *gamma,
                     int N, int C, int HW);
void ref_bn_backward_infer(double *dx, double *dgamma, double *dbeta, const double *dy,
                           const double *x, const double *gamma, const double *running_mean,
                           const double *running_var, int N, int C, int HW, double eps);

/* pooling */
void ref_maxpool2_forward(double *y, int32_t *idx, const double *x, int N, int C, int H, int W);
void ref_maxpool2_backward(double *dx, const double *dy, const int32_t *idx, int N, int C, int H,
                           int W);
void ref_maxpool_forward(double *y, int32_t *idx, const double *x, int N, int C, int H, int W,
                         int K, int S, int P);
void ref_maxpool_backward(double *dx, const double *dy, const int32_t *idx, int N, int C, int H,
                          int W, int K, int S, int P);
void ref_gap_forward(double *y, const double *x, int N, int C, int HW);
void ref_gap_backward(double *dx, const double *dy, int N, int C, int HW);

/* linear; b, dx, db may be NULL */
void ref_linear_forward(double *y, const double *x, const double *w, const double *b, int N,
                        int I, int O);
void ref_linear_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                         const double *w, int N, int I, int O);

/* losses and metrics; per_sample and cols may be NULL */
void ref_softmax_ce_forward(double *loss, double *per_sample, const double *logits,
                            const int32_t *labels, int N, int K);
void ref_softmax_ce_backward(double *dlogits, const double *logits, const int32_t *labels, int N,
                             int K, double scale);
void ref_kd_forward(double *loss, const double *s, const double *t, const int32_t *cols, int M,
                    int N, int K, double T);
void ref_kd_backward(double *ds, const double *s, const double *t, const int32_t *cols, int M,
                     int N, int K, double T, double scale);
void ref_argmax(int32_t *pred, const double *logits, int N, int K);
void ref_class_counts(int32_t *counts, const int32_t *pred, const int32_t *labels, int N, int K);

/* attention transfer */
void ref_at_map(double *a, const double *F, int N, int C, int HW);
void ref_at_loss_forward(double *loss, const double *F1, const double *F2, int N, int C, int HW,
                         double eps);
void ref_at_loss_backward(double *dF1, const double *F1, const double *F2, int N, int C, int HW,
                          double eps, double scale);
/* feature matching: loss = mean over m of (a - b)^2; da += scale * 2 (a - b) / m */
void ref_mse_forward(double *loss, const double *a, const double *b, size_t m);
void ref_mse_backward(double *da, const double *a, const double *b, size_t m, double scale);

/* optimiser */
void ref_sgd_step(double *w, double *v, const double *g, size_t n, double lr, double momentum,
                  double wd);
/* EWC / MAS (op_penalty.c): 0.5 sum imp (w - a)^2; g += lambda imp (w - a);
 * acc += scale * (power 2 ? g^2 : |g|). */
double ref_quad_penalty(const double *w, const double *a, const double *imp, size_t n);
void ref_quad_penalty_backward(double *g, const double *w, const double *a, const double *imp,
                               size_t n, double lambda);
void ref_importance_acc(double *acc, const double *g, size_t n, double scale, int power);

/* augmentation (uses lirf_aug_hash from model/ops/op_augment.c) */
void ref_augment(double *y, const double *x, int N, int C, int H, int W,
                 const lirf_aug_params *p, uint32_t seed, uint32_t step);

/* GEMM, row-major, as lirf_gemm */
void ref_gemm(int ta, int tb, size_t M, size_t N, size_t K, double alpha, const double *A,
              size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc);

/* LIRF columns */
void ref_merge_columns(double *out, const double *a, const double *b, const int32_t *mask, int N,
                       int K);
void ref_split_columns_acc(double *da, double *db, const double *g, const int32_t *mask, int N,
                           int K, double scale);

#endif
