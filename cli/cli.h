#ifndef LIRF_CLI_H
#define LIRF_CLI_H
#include "lirf_runtime.h"

/* Each returns the process exit status: 0 ok, 1 check failed, 2 error/usage. */
int cmd_devices(const char *device, int argc, char **argv);
int cmd_selftest(const char *device, int argc, char **argv);

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
