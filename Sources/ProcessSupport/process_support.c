/* process_support.c: see include/process_support.h for the contract. */
#define _GNU_SOURCE
#include "process_support.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void close_quietly(int fd) {
    if (fd >= 0) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
}

/* If the host runs with fd 0, 1 or 2 closed, pipe2 can hand out one of them,
 * and the dup2 file actions would then clobber each other. Move such fds up. */
static int lift_fd(int fd) {
    if (fd >= 3) return fd;
    int lifted = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close_quietly(fd);
    return lifted;
}

/* Both ends close-on-exec, so a concurrent spawn on another thread never
 * inherits them; the child gets its ends through dup2, which clears the flag. */
static int make_pipe(int fds[2]) {
    if (pipe2(fds, O_CLOEXEC) != 0) return errno;
    fds[0] = lift_fd(fds[0]);
    fds[1] = lift_fd(fds[1]);
    if (fds[0] < 0 || fds[1] < 0) {
        int err = errno;
        close_quietly(fds[0]);
        close_quietly(fds[1]);
        fds[0] = fds[1] = -1;
        return err;
    }
    return 0;
}

/* execvp-style lookup in an explicit PATH (the child's, which may differ from
 * ours: glibc's posix_spawnp only ever searches the parent's). Returns 0 with
 * the program in `out`, or ENOENT/EACCES. */
static int search_program(const char *file, const char *path, char out[PATH_MAX]) {
    size_t file_len = strlen(file);
    int err = ENOENT;
    const char *dir = path;
    for (;;) {
        const char *end = strchrnul(dir, ':');
        size_t dir_len = (size_t)(end - dir);
        if (dir_len == 0) {  /* an empty entry means the working directory */
            dir = ".";
            dir_len = 1;
        }
        if (dir_len + 1 + file_len < PATH_MAX) {
            memcpy(out, dir, dir_len);
            out[dir_len] = '/';
            memcpy(out + dir_len + 1, file, file_len + 1);
            struct stat st;
            if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
                if (access(out, X_OK) == 0) return 0;
                err = EACCES;
            }
        }
        if (*end == '\0') break;
        dir = end + 1;
    }
    return err;
}

int ps_spawn(const ps_spawn_options *options, ps_child *child) {
    if (options == NULL || child == NULL || options->argv == NULL || options->argv[0] == NULL) return EINVAL;
    const uint32_t flags = options->flags;
    const char *program = options->argv[0];
    if (program[0] == '\0') return ENOENT;

    char found[PATH_MAX];
    int use_spawnp = 0;
    if ((flags & PS_SPAWN_SEARCH_PATH) && strchr(program, '/') == NULL) {
        if (options->search_path == NULL) {
            use_spawnp = 1;
        } else {
            int err = search_program(program, options->search_path, found);
            if (err != 0) return err;
            program = found;
        }
    }

    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    int err = 0;
    if ((flags & PS_SPAWN_STDIN_PIPE) && (err = make_pipe(in_pipe)) != 0) goto fail;
    if ((err = make_pipe(out_pipe)) != 0) goto fail;
    if (!(flags & PS_SPAWN_MERGE_STDERR) && (err = make_pipe(err_pipe)) != 0) goto fail;

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
    /* The host may hold sockets, databases, other phases' pipes: none of it is
     * the child's business, and an inherited pipe end would keep another
     * phase's reader from ever seeing EOF. O_CLOEXEC alone misses fds that a
     * library opened without it. */
    if (!err) err = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (!err && options->workdir != NULL) err = posix_spawn_file_actions_addchdir_np(&actions, options->workdir);

    /* pgroup 0 = a new group led by the child: the unit we kill. Reset the mask
     * and dispositions because hosts block or ignore signals (SIGPIPE above
     * all), and ignored dispositions survive exec. */
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
        /* glibc reports exec and file-action failures here (the child runs
         * with CLONE_VFORK and hands back errno), and reaps that child. */
        err = use_spawnp ? posix_spawnp(&pid, program, &actions, &attr, argv, envp)
                         : posix_spawn(&pid, program, &actions, &attr, argv, envp);
    }
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (err) goto fail;

    /* Our copies of the child's ends must go, or we never see EOF. */
    close_quietly(in_pipe[0]);
    close_quietly(out_pipe[1]);
    close_quietly(err_pipe[1]);
    /* Non-blocking reads let the caller drain a pipe that a grandchild still
     * holds open without getting stuck once it is empty. */
    fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
    if (err_pipe[0] >= 0) fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);

    child->pid = pid;
    child->stdin_fd = in_pipe[1];
    child->stdout_fd = out_pipe[0];
    child->stderr_fd = err_pipe[0];
    return 0;

fail:
    close_quietly(in_pipe[0]);
    close_quietly(in_pipe[1]);
    close_quietly(out_pipe[0]);
    close_quietly(out_pipe[1]);
    close_quietly(err_pipe[0]);
    close_quietly(err_pipe[1]);
    return err;
}

int ps_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    /* pidfds are close-on-exec by definition. */
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

int ps_kill_group(pid_t pgid, int sig) {
    if (pgid <= 1) return EINVAL;  /* never kill(-1) or kill(0): that is everyone / ourselves */
    if (kill(-pgid, sig) == 0 || errno == ESRCH) return 0;
    return errno;
}

int ps_wait(pid_t pid, int no_hang, ps_exit_status *status) {
    int raw = 0;
    pid_t got;
    do {
        got = waitpid(pid, &raw, no_hang ? WNOHANG : 0);
    } while (got < 0 && errno == EINTR);
    if (got < 0) return -1;
    if (got == 0) return 0;
    if (status != NULL) {
        if (WIFSIGNALED(raw)) {
            status->exit_code = -1;
            status->signal = WTERMSIG(raw);
            status->core_dumped = WCOREDUMP(raw) ? 1 : 0;
        } else {
            status->exit_code = WEXITSTATUS(raw);
            status->signal = 0;
            status->core_dumped = 0;
        }
    }
    return 1;
}

int ps_has_exited(pid_t pid) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int rc;
    do {
        rc = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) return -1;
    return info.si_pid == pid ? 1 : 0;
}

const char *ps_signal_abbrev(int sig) { return sigabbrev_np(sig); }

char *const *ps_environ(void) { return environ; }

int64_t ps_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
