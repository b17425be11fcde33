/* LIRF: knowledge deposit and withdrawal (docs/method.md, the paper's Eq. 2-9).
 *
 *   T0 = upper ∘ lower at the split (default layer2). Deposit trains, on the
 *   deposit classes' training samples only, the target's lower part (from T0's)
 *   and a pruned deposit module (from T0's lower part, L1-norm filter ranking),
 *   through the frozen upper part:
 *     L_all = CE(z_T, y_random) - λ_at L_at(T_lower(x), T0_lower(x))
 *           + λ_kp L_kd(g(z_T), g(z_0)) + λ_pt L_kd(ḡ(z_r), ḡ(z_0)) + λ_re CE(z~, y)
 *   Recover logits z~: preservation columns from the target, deposit columns
 *   from the deposit path (Eq. 8) — the same rule in training, withdraw and eval
 *   (paper mode; an exact-mode recover net is the deposit path alone: T0).
 *
 * Three modes, one training (the same target net):
 *   paper  the method as published (the deposit archive holds the pruned module);
 *   exact  lirf's own: an archive that holds T0's lower part losslessly, so that
 *          withdraw gives back T0 itself;
 *   delta  lirf's own: an archive that holds T0's lower part minus the target's
 *          (conv weights quantised, delta.h) and T0's BN statistics; withdraw
 *          gives back T0 up to the codec's rounding.
 * The exact and delta recover nets are plain checkpoints of the whole network.
 */
#ifndef LIRF_LIRF_H
#define LIRF_LIRF_H

#include <jansson.h>

#include "delta.h"
#include "lirf_archive.h"
#include "train.h"

typedef enum {
    LIRF_DEPOSIT_PAPER = 0,
    LIRF_DEPOSIT_EXACT,
    LIRF_DEPOSIT_DELTA,
    LIRF_DEPOSIT_CALIBRATED
} lirf_deposit_mode;
#define LIRF_DEPOSIT_MODES 4
/* "paper", "exact", "delta", "calibrated" */
const char *lirf_deposit_mode_name(lirf_deposit_mode m);
/* One of those names into *m; LIRF_E_INVALID naming them otherwise. */
lirf_status lirf_deposit_mode_parse(const char *text, lirf_deposit_mode *m);
/* 1 for the modes whose archive holds a pruned module plugged in by Eq. 8's
 * column rule (paper, calibrated), 0 for those that give back a whole net. */
int lirf_deposit_mode_has_module(lirf_deposit_mode m);

/* LIRF-C, the calibrated module (docs/lirf-c.md): after the deposit, the
 * module is made again from T0's lower part and trained alone against the
 * frozen target, so that the column rule's recover logits follow T0's. */
typedef struct {
    int epochs;        /* 2 */
    float lr;          /* SGD, half cosine to 0 over the phase (0.01) */
    float momentum;    /* 0.9 */
    float T;           /* distillation temperature (4) */
    float lambda_ce;   /* CE of the recover logits on D_r (0: measured better than 0.1) */
    float lambda_mse;  /* MSE of the module's features to T0's at the split (1) */
    float mix;         /* mixups of D_r images per D_r image in a batch (0.5) */
    float max_share;   /* the module's learnable parameters: at most this share of the
                          lower part's; the prune rate rises from prune_rate in steps of
                          0.01 until it fits (0.5) */
} lirf_calib_opts;
void lirf_calib_opts_default(lirf_calib_opts *c);

typedef struct {
    lirf_deposit_mode mode;
    lirf_delta_codec codec; /* delta mode: how the conv deltas are stored (int8) */
    int split;              /* stage index: 2 = layer2 */
    char split_name[16];    /* "" : split; else a stage of T0's architecture
                               ("layer3"), turned into split once T0 is read */
    float prune_rate;       /* share of each block's inner filters removed (0.5) */
    float lambda_at, lambda_kp, lambda_pt, lambda_re; /* 100, 10, 10, 10 */
    float T, eps;           /* 10, 0.005 */
    int epochs, batch;
    float lr, momentum, wd;
    uint32_t seed;
    lirf_aug_params aug;
    int bn_batch_stats;     /* 1: BN of the trained lower parts uses batch statistics */
    int pt_all;             /* variant: L_pt over all classes, not only the deposit ones */
    int re_deposit_only;    /* variant: L_re trains the deposit module only, not the target's
                               lower part (docs/method.md: both) */
    int lr_cosine;          /* 1: lr decays from lr to 0 along a half cosine over the whole
                               deposit; 0: constant lr (the paper's) */
    float holdout;          /* share of the deposit-class training samples kept out of
                               training, to measure forgetting after every epoch (0: none) */
    int64_t holdout_seed;   /* seeds which samples are held out (-1: seed), so that runs
                               with other seeds can share one held-out set */
    int holdout_every;      /* also measure it every this many steps within an epoch
                               (0: at epoch ends only) */
    int keep_best;          /* 1: keep the nets of the check (epoch end, start, or every
                               holdout_every steps) whose held-out Dep Acc is lowest;
                               0: the last step's (needs holdout > 0). A resumed run
                               chooses among the checks made after resuming only */
    lirf_calib_opts calib;  /* calibrated mode's second phase */
} lirf_deposit_opts;

void lirf_deposit_opts_default(lirf_deposit_opts *o);
/* The seed of the held-out choice: o->holdout_seed, or o->seed when it is -1. */
int64_t lirf_deposit_holdout_seed(const lirf_deposit_opts *o);
/* The learning rate of step `step` (0-based) of `total`: o->lr, or with
 * o->lr_cosine o->lr * (1 + cos(pi * step / total)) / 2. */
float lirf_deposit_lr_at(const lirf_deposit_opts *o, size_t step, size_t total);
/* Every option as a JSON object (recorded in archives and outputs). */
json_t *lirf_deposit_opts_json(const lirf_deposit_opts *o);

/* The nets of a deposit: built from T0, trained, evaluated. */
typedef struct {
    lirf_ctx *ctx;
    lirf_model_meta meta;      /* T0's (class names borrowed) */
    int split, K;
    lirf_net *t0_lower, *upper, *target_lower, *deposit;
    int32_t dep[LIRF_MAX_CLASSES];
    int ndep;
    int mid[LIRF_MAX_BLOCKS];  /* the deposit module's inner widths (lirf_net_config.mid) */
    int32_t *kept;             /* pruning record: kept filter indices, block after block */
    size_t nkept;
    float prune_rate;          /* the rate the deposit module was pruned at */
    lirf_buf mask, pre_cols, dep_cols; /* device (K), (K - ndep), (ndep) int32 */
    json_t *predecessor;       /* T0 is an earlier deposit's target: that deposit's classes,
                                  split and the hash its archive is bound to (owned; NULL:
                                  T0 is an original net). lirf_lirf_chain sets it */
} lirf_lirf;

/* LIRF_OK when `split` is a residual stage of arch (the method's split
 * points: the descriptor's RES stages), else LIRF_E_INVALID naming them. */
lirf_status lirf_check_split(lirf_arch arch, int split);
/* o->split from o->split_name ("" leaves it) for a T0 of arch; LIRF_E_INVALID,
 * naming the stages there are, when arch has no such residual stage. */
lirf_status lirf_split_resolve(lirf_arch arch, lirf_deposit_opts *o);

/* From T0 (a whole net) and the deposit classes. prune_rate 0: no pruning. */
lirf_status lirf_lirf_create(lirf_ctx *ctx, lirf_net *t0, const lirf_model_meta *meta, int split,
                             const int32_t *dep, int ndep, float prune_rate, lirf_lirf **out);
void lirf_lirf_destroy(lirf_lirf *l);
/* Makes l->deposit again from T0's lower part, pruned at `rate` (its
 * training is lost). */
lirf_status lirf_lirf_reprune(lirf_lirf *l, float rate);
/* A second deposit (docs/method.md, "Several deposits"): when the checkpoint
 * t0_path that l was made from is a target net (lirf_kind "target"), records
 * in l->predecessor its deposit classes, split and the lower-part hash its own
 * archive is bound to ("stands_for_lower_sha256" when it was itself given back
 * by a withdrawal). The target and the archive of l then carry it, and a
 * delta or exact withdrawal gives back a net that withdraws the earlier
 * deposit in turn. Nothing is recorded for an original net. */
lirf_status lirf_lirf_chain(lirf_lirf *l, const char *t0_path);

#define LIRF_DEPOSIT_MAX_LOGGED 256
typedef struct {
    double seconds, images_per_s;
    double last[6]; /* last batch: L_all, CE_random, L_at, L_kp, L_pt, L_re */
    /* with a held-out set: the target's Dep Acc (%) on it, holdout_dep[i],
     * measured after holdout_step[i] steps (0: before training; on a resumed
     * run, the resumed state when it is an epoch end), at most
     * LIRF_DEPOSIT_MAX_LOGGED values; kept_step: the step whose nets were kept
     * (keep_best), else -1, and kept_dep its held-out Dep Acc (kept across a
     * resume: the state holds the kept nets) */
    int nlogged;
    size_t holdout_step[LIRF_DEPOSIT_MAX_LOGGED];
    double holdout_dep[LIRF_DEPOSIT_MAX_LOGGED];
    long kept_step;
    double kept_dep;
    size_t steps;
    int resumed_epoch;   /* where a resumed run started (0, 0 otherwise) */
    size_t resumed_step;
} lirf_deposit_result;

/* Trains target_lower and deposit on `data` (deposit-class samples only). */
lirf_status lirf_deposit_train(lirf_lirf *l, lirf_loader *data, const lirf_deposit_opts *o,
                               int quiet, lirf_deposit_result *res);

/* The training state of a deposit, for --resume: state_path (NULL: none) gets
 * both trained lower parts, their momentum, the epoch and step reached, the
 * options and the upper part's fingerprint, written atomically at every epoch
 * end and every save_every steps (0: epoch ends only). With resume, a state
 * file at state_path (if present) is loaded and training goes on from it; one
 * written with other options or from another T0 is refused. The same seed on
 * the same device then gives the same nets as an uninterrupted run. */
typedef struct {
    const char *state_path;
    int resume, save_every;
    lirf_loader *holdout;    /* held-out deposit-class samples (o->holdout > 0), or NULL */
    const char *samples_sha256; /* a sample-level deposit: its list's SHA-256, recorded in
                                   the state and required on resume (NULL: classes) */
} lirf_deposit_io;
/* The training step of a deposit on loaders the caller made: o->holdout > 0
 * or keep_best without io->holdout is refused (LIRF_E_INVALID). The whole
 * protocol from files — the hold-out split, loaders, saving — is
 * lirf_deposit_job_run (experiments.h). */
lirf_status lirf_deposit_train_io(lirf_lirf *l, lirf_loader *data, const lirf_deposit_opts *o,
                                  const lirf_deposit_io *io, int quiet, lirf_deposit_result *res);

/* Calibrated mode's second phase (model/lirf/calibrate.c): remakes
 * l->deposit from T0's lower part at the smallest prune rate >= o->prune_rate
 * (steps of 0.01) that keeps it within o->calib.max_share of the lower part
 * (*rate gets it), then trains only it on `data` (D_r), against T0 and the
 * frozen target l->target_lower:
 *   xa = the batch and round(mix n) mixups l x_i + (1 - l) x_j of its images
 *   z~ = Eq. 8 (target's preservation columns, the module path's deposit ones)
 *   L  = T^2 KL(softmax(z0/T) || softmax(z~/T)) over all columns, on xa
 *      + lambda_ce CE(z~, y) on the batch + lambda_mse MSE(module(xa), T0_lower(xa))
 * with the module's BN in inference mode (T0's running statistics, affine
 * trained). res->last: L, KD, CE, MSE. */
lirf_status lirf_calibrate_train(lirf_lirf *l, lirf_loader *data, const lirf_deposit_opts *o,
                                 int quiet, float *rate, lirf_deposit_result *res);

/* Logits callbacks for lirf_eval_counts: the target net (target_lower +
 * upper), the recover net (column rule), and the deposit path alone. */
lirf_status lirf_target_logits(void *l, lirf_arena *ws, lirf_buf x, int n, lirf_buf *logits);
lirf_status lirf_recover_logits(void *l, lirf_arena *ws, lirf_buf x, int n, lirf_buf *logits);
lirf_status lirf_deposit_path_logits(void *l, lirf_arena *ws, lirf_buf x, int n,
                                     lirf_buf *logits);

/* SHA-256 over the upper part's tensors (names, shapes, float bytes, in order). */
lirf_status lirf_upper_fingerprint(lirf_net *upper, char hex[65]);

/* The binding of a deposit archive to its target net (docs/archive.md): the
 * SHA-256 of LIRF_LOWER_HASH_CONTEXT and its NUL, then every tensor of
 * `lower` (the target's stages up to the split) in the byte order of their
 * names (strcmp): the name and a NUL, "F32" or "I64" and a NUL, the number of
 * dimensions and each dimension as uint32 little-endian, then the values'
 * bytes (float32; int64 for BN's num_batches_tracked). hex: 64 lowercase hex
 * digits; *ntensors (may be NULL): how many tensors were hashed. */
#define LIRF_LOWER_HASH_CONTEXT "lirf-target-lower/1"
lirf_status lirf_lower_sha256(lirf_net *lower, char hex[65], size_t *ntensors);

/* A deposit-class list as metadata and manifests write it ("0,1,2") into
 * out[0..*n) (at most LIRF_MAX_CLASSES, each in [0, K)); LIRF_E_FORMAT naming
 * `what` and the text otherwise (NULL, empty entries, other characters). */
lirf_status lirf_deposit_classes_parse(const char *s, int32_t *out, int *n, int K,
                                       const char *what);

/* lirf deposit's check of T0's kind (its checkpoint's "lirf_kind", NULL when
 * absent): an original net (no kind, or "model") is accepted; a target,
 * recover net, deposit module or any other kind is refused (LIRF_E_INVALID,
 * naming path and the kind) unless allow names that very kind (--allow-kind,
 * for a deliberate second deposit). */
lirf_status lirf_check_t0_kind(const char *path, const char *kind, const char *allow);

/* Saves the target net (target_lower + upper) as an ordinary checkpoint. */
lirf_status lirf_save_target(lirf_lirf *l, const char *path, const lirf_deposit_opts *o);
/* Writes the deposit archive (paper: the pruned module; exact: T0's lower part).
 * Its manifest binds it to the target net lirf_save_target writes from the
 * same l: "target_binding" holds the deposit classes (ascending),
 * "lower_sha256" (lirf_lower_sha256 of l->target_lower), "lower_hash"
 * (LIRF_LOWER_HASH_CONTEXT) and "lower_tensors"; save the target after the
 * last change to l->target_lower, as the deposit job does. */
lirf_status lirf_save_deposit(lirf_lirf *l, const char *path, const lirf_deposit_opts *o,
                              int compression, const json_t *extra);
/* The same, signed and/or encrypted (seal: lirf_archive.h; NULL: plain). */
lirf_status lirf_save_deposit_sealed(lirf_lirf *l, const char *path, const lirf_deposit_opts *o,
                                     int compression, const json_t *extra,
                                     const lirf_archive_seal *seal);

/* Withdraw: target checkpoint + deposit archive -> recover checkpoint, no data.
 * Refused, with nothing written: a target that is not a target net
 * (lirf_kind "target" with a split point; LIRF_E_FORMAT); an archive whose
 * manifest describes another network or whose upper-part fingerprint differs
 * (LIRF_E_FORMAT); an archive without "target_binding" (made by a lirf
 * before the binding; LIRF_E_FORMAT, saying to deposit again) or with a
 * malformed one (LIRF_E_FORMAT); an archive made with another target: its
 * bound deposit classes are not the target's "deposit_classes", or its
 * lower_sha256 is not lirf_lower_sha256 of the target's lower part
 * (LIRF_E_INVALID, naming both files and what differs). */
lirf_status lirf_withdraw(lirf_ctx *ctx, const char *target_path, const char *archive_path,
                          const char *recover_path, json_t **report);
/* The same with keys (lirf_archive_read_sealed; NULL: none): keys->verify
 * requires the archive signed by that key, keys->decrypt opens an encrypted
 * deposit. The report adds "signed_by" (key id or null), "signature_verified"
 * and "encrypted_to" (key id or null). */
lirf_status lirf_withdraw_sealed(lirf_ctx *ctx, const char *target_path, const char *archive_path,
                                 const char *recover_path, const lirf_archive_unseal *keys,
                                 json_t **report);

/* A checkpoint of any kind (model, recover) as a logits callback. */
typedef struct lirf_model lirf_model;
lirf_status lirf_model_open(lirf_ctx *ctx, const char *path, lirf_model **out);
void lirf_model_close(lirf_model *m);
const lirf_model_meta *lirf_model_meta_of(const lirf_model *m);
const char *lirf_model_kind(const lirf_model *m); /* "model" or "recover" */
lirf_status lirf_model_logits(void *m, lirf_arena *ws, lirf_buf x, int n, lirf_buf *logits);

#endif
