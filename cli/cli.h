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

#include <jansson.h>
#include <stdint.h>

#include "experiments.h"

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

int parse_long(const char *s, long lo, long hi, const char *what, long *out);
/* a seed: an integer in [0, 2^31) */
int parse_seed(const char *s, const char *what, uint32_t *out);
int parse_arch(const char *s, lirf_arch *out);
int parse_sched(const char *s, lirf_sched *out);
/* s is a or b (*is_b tells which); else a message naming `what` */
/* 1 when a library parser said LIRF_OK; else prints its message, 0. */
int parse_status(lirf_status st);
int parse_choice(const char *s, const char *what, const char *a, const char *b, int *is_b);
/* prints "lirf CMD: unknown option ARG (see lirf CMD --help)"; returns 1 */
int unknown_option(const char *cmd, const char *arg);
/* prints j (indented, keys in order) on stdout and releases it; 0, or 2
 * with a message when j is NULL (out of memory) */
int print_json(json_t *j);
/* the same on one line (LIRF_JSON_DUMP_FLAGS) */
int print_json_line(json_t *j);

int cmd_train(const char *device, int argc, char **argv);
int cmd_eval(const char *device, int argc, char **argv);
int cmd_deposit(const char *device, int argc, char **argv);
int cmd_withdraw(const char *device, int argc, char **argv);
int cmd_unlearn(const char *device, int argc, char **argv); /* cmd_unlearn.c */
int cmd_keygen(const char *device, int argc, char **argv); /* cmd_keygen.c */
int cmd_demo(const char *device, int argc, char **argv);
int cmd_verify(const char *device, int argc, char **argv); /* cmd_verify.c */
int cmd_import(const char *device, int argc, char **argv); /* cmd_import.c */
int cmd_reproduce(const char *device, int argc, char **argv); /* cmd_reproduce.c */

/* ---- LIRF commands ---- */
/* One method option of lirf deposit (cmd_deposit.c; lirf demo takes them
 * too): 1 if argv[*i] was one (*bad set on a bad value), else 0. */
int parse_deposit_opts(int argc, char **argv, int *i, lirf_deposit_opts *o, int *bad);
/* Loads the key file at path (NULL: *out = NULL, nothing to do) of the kind
 * wanted; errors are printed naming flag. 0 on success, else 2. */
int load_key_cli(const char *path, lirf_key_kind kind, const char *flag, lirf_key **out);
#endif
