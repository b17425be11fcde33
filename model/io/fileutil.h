/* Small file-system helpers shared by the writers of outside files
 * (checkpoints, deposit archives). */
#ifndef LIRF_FILEUTIL_H
#define LIRF_FILEUTIL_H

#include <jansson.h>

#include "lirf_runtime.h"

/* fsync the folder holding path, so that a rename into it is durable.
 * File systems that cannot fsync a folder (EINVAL) are not an error. */
lirf_status lirf_fsync_parent(const char *path);

/* A test hook for the crash tests (tests/test_crash.c): when the environment
 * variable LIRF_CRASH_AT is "SITE:N", the Nth call (counted from 1 in this
 * process) with that site kills the process with SIGKILL, as a power cut or
 * `kill -9` would. Sites: "st-write-mid" (a checkpoint's temporary file half
 * written), "st-write-rename" (written and synced, not yet renamed),
 * "archive-write-mid", "archive-write-rename" (the same for deposit archives),
 * "deposit-step" and "train-step" (after a step's update). Without the
 * variable it does nothing. */
void lirf_crash_point(const char *site);

/* A JSON string of outside text (a path, a name): json_string(s), or, when s
 * is not valid UTF-8, the same with every byte outside ASCII as '?' (JSON
 * holds UTF-8 only); json_null() for NULL; NULL only when out of memory. */
json_t *lirf_json_text(const char *s);

/* SHA-256 of a file, as hex (libsodium). */
lirf_status lirf_file_sha256(const char *path, char hex[65]);

#endif
