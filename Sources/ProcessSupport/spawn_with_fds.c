/* spawn_with_fds.c: see include/process_support_fds.h for the contract. */
#define _GNU_SOURCE
#include "process_support_fds.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#define MAX_EXTRA 16

static void close_quietly(int fd) {
    if (fd >= 0) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
}

/* A close-on-exec pipe whose ends sit at or above `floor`, so they can never be
 * one of the child's target descriptors (0-2 and 3...3+extra-1). */
static int pipe_above(int fds[2], int floor) {
    int raw[2];
    if (pipe2(raw, O_CLOEXEC) != 0) return errno;
    for (int i = 0; i < 2; i++) {
        if (raw[i] >= floor) {
            fds[i] = raw[i];
        } else {
            fds[i] = fcntl(raw[i], F_DUPFD_CLOEXEC, floor);
            close_quietly(raw[i]);
        }
    }
    if (fds[0] < 0 || fds[1] < 0) {
        int err = errno;
        close_quietly(fds[0]);
        close_quietly(fds[1]);
        fds[0] = fds[1] = -1;
        return err ? err : EMFILE;
    }
    return 0;
}

int ps_spawn_with_fds(const ps_spawn_options *options, const int *extra_fds, int extra_count, ps_child *child) {
    if (options == NULL || child == NULL || options->argv == NULL || options->argv[0] == NULL) return EINVAL;
    if (options->argv[0][0] == '\0') return ENOENT;
    if (options->search_path != NULL || extra_count < 0 || extra_count > MAX_EXTRA) return EINVAL;
    if (extra_count > 0 && extra_fds == NULL) return EINVAL;
    const uint32_t flags = options->flags;
    const int floor = 3 + extra_count;

    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    int copies[MAX_EXTRA];
    int copied = 0;
    int err = 0;
    /* Copies of the extra fds above the target range: dup2(copy, 3+i) can then
     * never clobber a source that a later action still needs. */
    for (; copied < extra_count; copied++) {
        copies[copied] = fcntl(extra_fds[copied], F_DUPFD_CLOEXEC, floor);
        if (copies[copied] < 0) {
            err = errno;
            goto fail;
        }
    }
    if ((flags & PS_SPAWN_STDIN_PIPE) && (err = pipe_above(in_pipe, floor)) != 0) goto fail;
    if ((err = pipe_above(out_pipe, floor)) != 0) goto fail;
    if (!(flags & PS_SPAWN_MERGE_STDERR) && (err = pipe_above(err_pipe, floor)) != 0) goto fail;

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    if ((err = posix_spawn_file_actions_init(&actions)) != 0) goto fail;
    if ((err = posix_spawnattr_init(&attr)) != 0) {
        posix_spawn_file_actions_destroy(&actions);
        goto fail;
    }
    if (in_pipe[0] >= 0)
        err = posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
    else
        err = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (!err) err = posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    if (!err) err = posix_spawn_file_actions_adddup2(&actions, err_pipe[1] >= 0 ? err_pipe[1] : out_pipe[1], 2);
    for (int i = 0; !err && i < extra_count; i++) err = posix_spawn_file_actions_adddup2(&actions, copies[i], 3 + i);
    if (!err) err = posix_spawn_file_actions_addclosefrom_np(&actions, floor);
    if (!err && options->workdir != NULL) err = posix_spawn_file_actions_addchdir_np(&actions, options->workdir);

    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    if (!err) err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (!err) err = posix_spawnattr_setpgroup(&attr, 0);
    if (!err) err = posix_spawnattr_setsigmask(&attr, &empty);
    if (!err) err = posix_spawnattr_setsigdefault(&attr, &all);

    pid_t pid = -1;
    if (!err) {
        char *const *argv = (char *const *)options->argv;
        char *const *envp = options->envp != NULL ? (char *const *)options->envp : environ;
        err = (flags & PS_SPAWN_SEARCH_PATH) ? posix_spawnp(&pid, argv[0], &actions, &attr, argv, envp)
                                             : posix_spawn(&pid, argv[0], &actions, &attr, argv, envp);
    }
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (err) goto fail;

    for (int i = 0; i < copied; i++) close_quietly(copies[i]);
    close_quietly(in_pipe[0]);
    close_quietly(out_pipe[1]);
    close_quietly(err_pipe[1]);
    fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
    if (err_pipe[0] >= 0) fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
    child->pid = pid;
    child->stdin_fd = in_pipe[1];
    child->stdout_fd = out_pipe[0];
    child->stderr_fd = err_pipe[0];
    return 0;

fail:
    for (int i = 0; i < copied; i++) close_quietly(copies[i]);
    close_quietly(in_pipe[0]);
    close_quietly(in_pipe[1]);
    close_quietly(out_pipe[0]);
    close_quietly(out_pipe[1]);
    close_quietly(err_pipe[0]);
    close_quietly(err_pipe[1]);
    return err;
}
