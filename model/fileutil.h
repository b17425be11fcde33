/* Small file-system helpers shared by the writers of outside files
 * (checkpoints, deposit archives). */
#ifndef LIRF_FILEUTIL_H
#define LIRF_FILEUTIL_H

#include "lirf_runtime.h"

/* fsync the folder holding path, so that a rename into it is durable.
 * File systems that cannot fsync a folder (EINVAL) are not an error. */
lirf_status lirf_fsync_parent(const char *path);

#endif
