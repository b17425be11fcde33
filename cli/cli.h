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
