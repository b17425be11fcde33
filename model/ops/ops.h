/* lirf layer ops: the host side of every device op (device side in cl_kernels/).
 *
 * Conventions (after llm.c):
 *  - argument order: outputs, then what backward needs saved, then inputs and
 *    weights, then sizes;
 *  - tensors are float32 NCHW unless stated; labels and indices are int32;
 *  - parameter gradients ACCUMULATE (+=); activation gradients are WRITTEN (=);
 *    loss backwards ACCUMULATE scale * dL/dlogits into the logits' gradient so
 *    that several losses can share one buffer;
 *  - an optional buffer is passed as LIRF_NOBUF and is then skipped;
 *  - every op validates its arguments (NULL buffers, zero or negative sizes,
 *    views too small for the shapes) and returns LIRF_E_NULL / LIRF_E_INVALID /
 *    LIRF_E_SHAPE before launching anything;
 *  - ops enqueue on the context's in-order queue and do not block.
 *
 * Every op has a plain double-precision C reference in model/ref/ref.h with
 * the same name prefixed ref_, and a test in tests/ against it.
 */
#ifndef LIRF_OPS_H
#define LIRF_OPS_H

#include "lirf_runtime.h"

/* Validation helpers shared by the ops (model/ops/ops_common.c). */
lirf_status lirf_check_buf(lirf_buf b, size_t need, const char *op, const char *name);
lirf_status lirf_check_opt_buf(lirf_buf b, size_t need, const char *op, const char *name);
lirf_status lirf_check_dims(const char *op, int count, ...); /* each int must be > 0 */

/* ---- elementwise (cl_kernels/elementwise.cl, model/ops/op_elementwise.c) ---- */
/* y = max(x, 0); y may equal x. */
lirf_status lirf_relu_forward(lirf_ctx *ctx, lirf_buf y, lirf_buf x, size_t n);
/* dx = dy * (y > 0), y the forward output; dx may equal dy. */
lirf_status lirf_relu_backward(lirf_ctx *ctx, lirf_buf dx, lirf_buf dy, lirf_buf y, size_t n);
/* y = a + b (residual add); y may equal a or b. */
lirf_status lirf_add(lirf_ctx *ctx, lirf_buf y, lirf_buf a, lirf_buf b, size_t n);
/* y = relu(a + b) (residual add fused with the block's last ReLU). */
lirf_status lirf_add_relu(lirf_ctx *ctx, lirf_buf y, lirf_buf a, lirf_buf b, size_t n);
/* y += alpha * x */
lirf_status lirf_axpy(lirf_ctx *ctx, lirf_buf y, float alpha, lirf_buf x, size_t n);
/* y *= alpha */
lirf_status lirf_scale(lirf_ctx *ctx, lirf_buf y, float alpha, size_t n);
/* count[0] (int32) += how many of x[0..n) are NaN or infinite (an exact
 * integer count; zero count first). Used to stop training on a non-finite
 * gradient before the update. */
lirf_status lirf_count_nonfinite(lirf_ctx *ctx, lirf_buf count, lirf_buf x, size_t n);

/* ---- convolution (cl_kernels/conv.cl, model/ops/op_conv.c) ------------------- */
typedef struct {
    int N, C, H, W; /* input */
    int K, R, S;    /* output channels, kernel height, kernel width */
    int stride, pad;
} lirf_conv_shape;
/* Output spatial size: Ho = (H + 2 pad - R) / stride + 1, Wo likewise. */
int lirf_conv_out_h(const lirf_conv_shape *s);
int lirf_conv_out_w(const lirf_conv_shape *s);
/* y (N,K,Ho,Wo) = conv(x (N,C,H,W), w (K,C,R,S)) + b (K, optional).
 * im2col + GEMM; temporaries in scratch slots 0..2. */
lirf_status lirf_conv2d_forward(lirf_ctx *ctx, lirf_buf y, lirf_buf x, lirf_buf w, lirf_buf b,
                                const lirf_conv_shape *s);
/* dx (optional) written; dw (optional) accumulated; db (optional) accumulated.
 * A frozen layer passes dw = db = LIRF_NOBUF and gets only dx. */
lirf_status lirf_conv2d_backward(lirf_ctx *ctx, lirf_buf dx, lirf_buf dw, lirf_buf db, lirf_buf dy,
                                 lirf_buf x, lirf_buf w, const lirf_conv_shape *s);

/* ---- batch norm (cl_kernels/bn.cl, model/ops/op_bn.c) -------------------------
 * x, y (N,C,HW); per-channel gamma, beta, running_mean, running_var (C).
 * Training: batch mean and biased variance normalise; save_mean and
 * save_invstd (C) = 1/sqrt(var_biased + eps) are saved for backward; running
 * stats updated as PyTorch does: r = (1 - momentum) r + momentum * stat, with
 * the UNBIASED variance for running_var. */
lirf_status lirf_bn_forward_train(lirf_ctx *ctx, lirf_buf y, lirf_buf save_mean,
                                  lirf_buf save_invstd, lirf_buf running_mean,
                                  lirf_buf running_var, lirf_buf x, lirf_buf gamma,
                                  lirf_buf beta, int N, int C, int HW, float eps, float momentum);
lirf_status lirf_bn_forward_infer(lirf_ctx *ctx, lirf_buf y, lirf_buf x, lirf_buf gamma,
                                  lirf_buf beta, lirf_buf running_mean, lirf_buf running_var,
                                  int N, int C, int HW, float eps);
/* Training-mode backward: dx written, dgamma and dbeta accumulated; dx may be
 * dy (in place). */
lirf_status lirf_bn_backward(lirf_ctx *ctx, lirf_buf dx, lirf_buf dgamma, lirf_buf dbeta,
                             lirf_buf dy, lirf_buf x, lirf_buf save_mean, lirf_buf save_invstd,
                             lirf_buf gamma, int N, int C, int HW);
/* Inference-mode backward (running statistics are constants): dx written;
 * dgamma, dbeta optional, accumulated. */
lirf_status lirf_bn_backward_infer(lirf_ctx *ctx, lirf_buf dx, lirf_buf dgamma, lirf_buf dbeta,
                                   lirf_buf dy, lirf_buf x, lirf_buf gamma,
                                   lirf_buf running_mean, lirf_buf running_var, int N, int C,
                                   int HW, float eps);

/* ---- pooling (cl_kernels/pool.cl, model/ops/op_pool.c) ------------------------ */
/* 2x2 max pool, stride 2: y (N,C,H/2,W/2) (floor); idx (int, same size as y)
 * holds the flat index h*W+w of the max in its (n,c) plane, first max on ties. */
lirf_status lirf_maxpool2_forward(lirf_ctx *ctx, lirf_buf y, lirf_buf idx, lirf_buf x, int N,
                                  int C, int H, int W);
/* dx (N,C,H,W) written (zero where no max). */
lirf_status lirf_maxpool2_backward(lirf_ctx *ctx, lirf_buf dx, lirf_buf dy, lirf_buf idx, int N,
                                   int C, int H, int W);
/* Max pool K x K, stride S, padding P, as torch.nn.MaxPool2d(K, S, P) (the
 * ImageNet stem's 3, 2, 1): y, idx (N,C,Ho,Wo), Ho = lirf_maxpool_out(H, K, S, P)
 * (floor); idx the flat index h*W+w of the max in its (n,c) plane, the first in
 * scan order on ties (PyTorch's choice); a NaN wins. Needs 0 <= P <= K/2. */
int lirf_maxpool_out(int H, int K, int S, int P); /* (H + 2P - K) / S + 1; 0 if none */
lirf_status lirf_maxpool_forward(lirf_ctx *ctx, lirf_buf y, lirf_buf idx, lirf_buf x, int N,
                                 int C, int H, int W, int K, int S, int P);
/* dx (N,C,H,W) written: each element the sum of dy over the windows whose max it is. */
lirf_status lirf_maxpool_backward(lirf_ctx *ctx, lirf_buf dx, lirf_buf dy, lirf_buf idx, int N,
                                  int C, int H, int W, int K, int S, int P);
/* Global average pool: y (N,C) = mean over HW of x (N,C,HW). */
lirf_status lirf_gap_forward(lirf_ctx *ctx, lirf_buf y, lirf_buf x, int N, int C, int HW);
lirf_status lirf_gap_backward(lirf_ctx *ctx, lirf_buf dx, lirf_buf dy, int N, int C, int HW);

/* ---- linear (cl_kernels/linear.cl, model/ops/op_linear.c) --------------------- */
/* y (N,O) = x (N,I) w^T + b; w (O,I), b (O, optional). */
lirf_status lirf_linear_forward(lirf_ctx *ctx, lirf_buf y, lirf_buf x, lirf_buf w, lirf_buf b,
                                int N, int I, int O);
/* dx (optional) written, dw (optional) accumulated, db (optional) accumulated. */
lirf_status lirf_linear_backward(lirf_ctx *ctx, lirf_buf dx, lirf_buf dw, lirf_buf db, lirf_buf dy,
                                 lirf_buf x, lirf_buf w, int N, int I, int O);

/* ---- losses and metrics (cl_kernels/loss.cl, model/ops/op_loss.c) ------------- */
/* Softmax cross-entropy on hard labels. loss (1 element) = mean over the batch;
 * per_sample (N, optional) = each sample's loss. logits (N,K), labels int (N).
 * A label outside [0,K) gives a NaN loss for that sample. */
lirf_status lirf_softmax_ce_forward(lirf_ctx *ctx, lirf_buf loss, lirf_buf per_sample,
                                    lirf_buf logits, lirf_buf labels, int N, int K);
/* dlogits += scale * (softmax(logits) - onehot(labels)) / N */
lirf_status lirf_softmax_ce_backward(lirf_ctx *ctx, lirf_buf dlogits, lirf_buf logits,
                                     lirf_buf labels, int N, int K, float scale);
/* Knowledge distillation at temperature T over a subset of class columns:
 * cols int (M) selects columns (LIRF_NOBUF: all K columns, M = K);
 * loss (1) = T^2 * mean_n KL(softmax(t[n,cols]/T) || softmax(s[n,cols]/T)).
 * s, t (N,K). */
lirf_status lirf_kd_forward(lirf_ctx *ctx, lirf_buf loss, lirf_buf s, lirf_buf t, lirf_buf cols,
                            int M, int N, int K, float T);
/* ds[n,cols] += scale * T / N * (softmax(s[n,cols]/T) - softmax(t[n,cols]/T));
 * other columns untouched. */
lirf_status lirf_kd_backward(lirf_ctx *ctx, lirf_buf ds, lirf_buf s, lirf_buf t, lirf_buf cols,
                             int M, int N, int K, float T, float scale);
/* pred int (N) = argmax over K (first max on ties). */
lirf_status lirf_argmax(lirf_ctx *ctx, lirf_buf pred, lirf_buf logits, int N, int K);
/* counts int (2*K), accumulated: counts[2k] += correct predictions of class k,
 * counts[2k+1] += samples of class k (labels outside [0,K) are skipped).
 * Integer atomics only. */
lirf_status lirf_class_counts(lirf_ctx *ctx, lirf_buf counts, lirf_buf pred, lirf_buf labels,
                              int N, int K);

/* ---- attention transfer (cl_kernels/attention.cl, model/ops/op_attention.c) ----
 * a(F) per sample = vec(mean_c F_c^2) (HW), divided by max(||.||_2, 1e-12);
 * filter f sets entries < eps to 0 (eps = 0: no filter).
 * L_at = mean over N*HW of (f(a(F1)) - f(a(F2)))^2. F1, F2 (N,C,HW). */
lirf_status lirf_at_map(lirf_ctx *ctx, lirf_buf a, lirf_buf F, int N, int C, int HW);
lirf_status lirf_at_loss_forward(lirf_ctx *ctx, lirf_buf loss, lirf_buf F1, lirf_buf F2, int N,
                                 int C, int HW, float eps);
/* dF1 += scale * dL_at/dF1 (F2 is a constant). */
lirf_status lirf_at_loss_backward(lirf_ctx *ctx, lirf_buf dF1, lirf_buf F1, lirf_buf F2, int N,
                                  int C, int HW, float eps, float scale);

/* ---- feature matching (cl_kernels/attention.cl, model/ops/op_attention.c) ----
 * loss (1) = mean over m entries of (a - b)^2 (a fixed-tree sum in one
 * work-group); backward: da += scale * 2 (a - b) / m (b is a constant). */
lirf_status lirf_mse_forward(lirf_ctx *ctx, lirf_buf loss, lirf_buf a, lirf_buf b, size_t m);
lirf_status lirf_mse_backward(lirf_ctx *ctx, lirf_buf da, lirf_buf a, lirf_buf b, size_t m,
                              float scale);

/* ---- optimiser (cl_kernels/optim.cl, model/ops/op_sgd.c) ----------------------
 * SGD with momentum and weight decay, PyTorch semantics (dampening 0):
 *   g' = g + wd * w;  v = momentum * v + g';  w -= lr * v.
 * One launch over n elements (pass the whole parameter block). */
lirf_status lirf_sgd_step(lirf_ctx *ctx, lirf_buf w, lirf_buf v, lirf_buf g, size_t n, float lr,
                          float momentum, float wd);

/* ---- penalty (cl_kernels/optim.cl, model/ops/op_penalty.c) ------------------
 * EWC's and MAS's quadratic penalty on a flat parameter block w (n), its
 * anchor a (the old net's parameters) and importance imp:
 *   loss (1) = 0.5 * sum imp (w - a)^2 (a fixed-tree sum in one work-group);
 *   backward: g += lambda * imp (w - a).
 * Importance accumulation: acc += scale * g^2 (power 2, EWC's empirical
 * Fisher diagonal) or scale * |g| (power 1, MAS). */
lirf_status lirf_quad_penalty_forward(lirf_ctx *ctx, lirf_buf loss, lirf_buf w, lirf_buf a,
                                      lirf_buf imp, size_t n);
lirf_status lirf_quad_penalty_backward(lirf_ctx *ctx, lirf_buf g, lirf_buf w, lirf_buf a,
                                       lirf_buf imp, size_t n, float lambda);
lirf_status lirf_importance_acc(lirf_ctx *ctx, lirf_buf acc, lirf_buf g, size_t n, float scale,
                                int power);

/* ---- augmentation (cl_kernels/augment.cl, model/ops/op_augment.c) -------------
 * Per image, with draws from lirf_aug_hash(seed, step, image, k):
 * random crop of the zero-padded image (pad > 0), horizontal flip (flip != 0,
 * probability 1/2), rotation by a uniform angle in [-max_rot_deg, max_rot_deg]
 * about the image centre with bilinear sampling and zero fill
 * (max_rot_deg > 0). y, x (N,C,H,W); y != x. */
typedef struct {
    int pad;
    int flip;
    float max_rot_deg;
} lirf_aug_params;
lirf_status lirf_augment(lirf_ctx *ctx, lirf_buf y, lirf_buf x, int N, int C, int H, int W,
                         const lirf_aug_params *p, uint32_t seed, uint32_t step);
/* The counter-based hash used for the draws (same integer arithmetic in C and
 * OpenCL C). */
uint32_t lirf_aug_hash(uint32_t seed, uint32_t step, uint32_t image, uint32_t k);

/* ---- LIRF columns (cl_kernels/lirf.cl, model/ops/op_lirf.c) --------------------
 * mask int (K): 1 for a deposit-class column. out (N,K) = mask ? b : a
 * (Eq. 8's recover logits: a = target, b = deposit path). */
lirf_status lirf_merge_columns(lirf_ctx *ctx, lirf_buf out, lirf_buf a, lirf_buf b, lirf_buf mask,
                               int N, int K);
/* Routes a gradient of merged logits: da += scale * g on mask-0 columns,
 * db (optional) += scale * g on mask-1 columns. */
lirf_status lirf_split_columns_acc(lirf_ctx *ctx, lirf_buf da, lirf_buf db, lirf_buf g,
                                   lirf_buf mask, int N, int K, float scale);

#endif
