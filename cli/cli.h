#ifndef LIRF_CLI_H
#define LIRF_CLI_H
#include "lirf_runtime.h"

/* Each returns the process exit status: 0 ok, 1 check failed, 2 error/usage. */
int cmd_devices(const char *device, int argc, char **argv);
int cmd_selftest(const char *device, int argc, char **argv);
int cmd_tune(const char *device, int argc, char **argv); /* cmd_tune.c */

/* Prints "lirf: <status>: <message>" for a failed call; returns 2. */
int cli_error(lirf_status st, const char *what);
/* Opens the context for a command (device spec or NULL); prints errors. */
int cli_open(const char *device, lirf_ctx **ctx);
#endif

#include <stdint.h>
#include "data.h"

/* ---- argument helpers (cli/args.c) ---- */
/* If argv[*i] is --name (with the value in the next argument) or --name=value,
 * stores the value, advances *i and returns 1; a missing value prints an error
 * and sets *bad. */
int arg_value(int argc, char **argv, int *i, const char *name, const char **out, int *bad);
int arg_flag(char **argv, int i, const char *name);
int parse_int(const char *s, long lo, long hi, const char *what, int *out);
int parse_float(const char *s, double lo, double hi, const char *what, float *out);
/* "0,1,2" -> sorted unique list (malloc'ed) of ints in [0, max) */
int parse_class_list(const char *s, int max, int32_t **out, int *n);
int parse_data_kind(const char *s, lirf_data_kind *out);

int cmd_train(const char *device, int argc, char **argv);
int cmd_eval(const char *device, int argc, char **argv);
int load_dataset_cli(const char *path, lirf_data_kind kind, int train, int image_size,
                     const int32_t *classes, int nclasses, size_t limit, lirf_dataset *ds);
int cmd_deposit(const char *device, int argc, char **argv);
int cmd_withdraw(const char *device, int argc, char **argv);
int cmd_unlearn(const char *device, int argc, char **argv); /* cmd_unlearn.c */
int cmd_keygen(const char *device, int argc, char **argv); /* cmd_keygen.c */
int cmd_demo(const char *device, int argc, char **argv);
int cmd_verify(const char *device, int argc, char **argv); /* cmd_verify.c */

#include <jansson.h>
#include "train.h"
typedef struct {
    const char *data, *test_data, *out;
    lirf_data_kind kind;
    lirf_arch arch;
    int width, image_size, quiet, resume, limit, json;
    const int32_t *classes;
    int nclasses;
    lirf_train_opts o;
} train_args;
/* Trains, saves a.out, evaluates on the test split; 0 on success. */
int train_model(lirf_ctx *ctx, const train_args *a, double *acc_out, json_t **summary);

/* ---- LIRF commands (cli/cmd_lirf.c, cli/cmd_eval.c) ---- */
#include "lirf.h"
#include "protocol.h"
/* Evaluates each column's checkpoint (cols[i].path), fills its Pre / Dep / Avg
 * Acc and the target columns' F and H-Mean (against the LIRF_COL_ORIGINAL
 * column), and prints Table 1 to out (Markdown, or JSON; out NULL: no
 * printing), with an Independent column first when ipre and idep are given.
 * 1 on success. */
int eval_table(lirf_ctx *ctx, const char *data, lirf_data_kind kind, int train, int batch,
               const int32_t *dep, int ndep, lirf_table1_col *cols, int ncols, const char *ipre,
               const char *idep, FILE *out, int json);
/* Formats scored columns as Table 1 (Markdown, or one line of JSON); 1 on
 * success, else 0 with the error printed. */
int print_table1(FILE *out, const lirf_table1_col *cols, int ncols, int json);
int parse_deposit_opts(int argc, char **argv, int *i, lirf_deposit_opts *o, int *bad);
int run_deposit(lirf_ctx *ctx, const char *model, const char *data, lirf_data_kind kind,
                int image_size, size_t limit, const int32_t *dep, int ndep,
                const lirf_deposit_opts *o,
                const char *target_out, const char *archive_out, const char *exact_archive_out,
                int compression, const lirf_archive_seal *seal, const lirf_deposit_io *io,
                int quiet, json_t **summary);
/* Loads the key file at path (NULL: *out = NULL, nothing to do) of the kind
 * wanted; errors are printed naming flag. 0 on success, else 2. */
int load_key_cli(const char *path, lirf_key_kind kind, const char *flag, lirf_key **out);
