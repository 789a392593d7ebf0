/*
 * process_support_fds.h: ps_spawn plus extra descriptors for the child (Linux).
 *
 * For plugins that talk to their child over a dedicated channel (the python
 * plugin's warm workers use fd 3), so the child's stdout and stderr stay plain
 * output. Same model as ps_spawn in process_support.h: a new process group,
 * pipes for stdout/stderr, everything else closed.
 */
#ifndef PROCESS_SUPPORT_FDS_H
#define PROCESS_SUPPORT_FDS_H

#include "process_support.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Like ps_spawn, and the child also gets `extra_count` (0...16) descriptors:
 * extra_fds[i] becomes the child's fd 3+i (close-on-exec cleared); every fd
 * above those is closed. The caller keeps (and eventually closes) its own
 * copies of extra_fds. Returns 0 or an errno value, as ps_spawn. */
int ps_spawn_with_fds(const ps_spawn_options *options, const int *extra_fds, int extra_count, ps_child *child);

#ifdef __cplusplus
}
#endif

#endif /* PROCESS_SUPPORT_FDS_H */
