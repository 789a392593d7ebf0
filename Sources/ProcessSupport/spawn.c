/* spawn.c: ps_spawn and ps_spawn_with_fds (contracts in the headers).
 *
 * Why not posix_spawn: glibc's posix_spawn maps and unmaps a fresh stack for
 * every child (in a multi-threaded host the unmap costs a TLB shootdown on
 * every core), checks every file action against getrlimit, and cannot hand
 * back a pidfd. Spawning `true` in a chain of phases pays all of that on the
 * critical path. So we do what it does, minus those: clone(CLONE_VM |
 * CLONE_VFORK) onto a stack that lives in this function's frame (the calling
 * thread is suspended until the child has exec'd or exited, so nothing else
 * touches it), with CLONE_PIDFD when asked for.
 *
 * The child shares our memory until exec: it only makes system calls, writes
 * nothing but `plan->error`, and runs with every signal blocked until their
 * dispositions are back to default (a handler of ours must never run there).
 */
#define _GNU_SOURCE
#include "process_support.h"
#include "process_support_fds.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

extern char **environ;

#define MAX_EXTRA 16
/* The child makes system calls only (plus lazy symbol binding on first use,
 * which saves the register file on the stack): 32 KiB is ample. */
#define CHILD_STACK_SIZE (32 * 1024)
/* The kernel's sigset_t: 64 signals, 8 bytes (not glibc's 128-byte one). */
#define KERNEL_SIGSET_SIZE (NSIG / 8)

/* What the child does between clone and exec. Targets: fd 0 from `stdin_fd`
 * (a pipe or the shared /dev/null; dup'ed first, so it may be below
 * `close_from`), 1 and 2, then 3...3+extra_count-1. The other sources are at
 * or above `close_from`, so no dup2 can clobber a source still needed. */
typedef struct spawn_plan {
    const char *program;
    char *const *argv;
    char *const *envp;
    const char *workdir;
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    const int *extra_fds;
    int extra_count;
    int close_from;
    int new_session;
    int die_with_parent;
    pid_t parent;        /* getpid() of the host, for the PDEATHSIG race check */
    volatile int error;  /* written by the child when it cannot exec */
} spawn_plan;

static void close_quietly(int fd) {
    if (fd >= 0) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
}

static int child_main(void *arg) {
    spawn_plan *plan = arg;

    /* A new group led by the child: the unit we kill. setsid makes one too,
     * inside a new session. */
    if (plan->new_session ? setsid() < 0 : setpgid(0, 0) != 0) goto fail;
    if (plan->die_with_parent) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) goto fail;
        /* The host may have died before the prctl: then nobody would send it. */
        if (getppid() != plan->parent) _exit(127);
    }

    /* Default dispositions: ignored ones (SIGPIPE above all) would survive
     * exec, and caught ones must not run in a child that shares our memory.
     * The raw system call, because glibc's sigaction refuses its internal
     * signals 32 and 33, and a host started by posix_spawn has them ignored
     * (glibc sets them so in its children), which exec would pass on. The
     * kernel's struct: handler (SIG_DFL is 0), flags, restorer, mask: all 0. */
    unsigned long default_action[4] = {0, 0, 0, 0};
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, default_action, NULL, KERNEL_SIGSET_SIZE);
    }

    /* stdin: the pipe, or the host's shared /dev/null (no path lookup here). */
    if (dup2(plan->stdin_fd, 0) < 0) goto fail;
    if (dup2(plan->stdout_fd, 1) < 0) goto fail;
    if (dup2(plan->stderr_fd, 2) < 0) goto fail;
    for (int i = 0; i < plan->extra_count; i++) {
        if (dup2(plan->extra_fds[i], 3 + i) < 0) goto fail;
    }
    /* The host may hold sockets, databases, other phases' pipes: none of it is
     * the child's business, and an inherited pipe end would keep another
     * phase's reader from ever seeing EOF. O_CLOEXEC alone misses fds that a
     * library opened without it. */
    if (syscall(SYS_close_range, (unsigned)plan->close_from, ~0U, 0) != 0) {
        /* Before Linux 5.9: one by one, up to the descriptor limit. */
        struct rlimit limit;
        long max = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY ? (long)limit.rlim_cur : 1L << 20;
        for (long fd = plan->close_from; fd < max; fd++) syscall(SYS_close, (int)fd);
    }
    if (plan->workdir != NULL && chdir(plan->workdir) != 0) goto fail;

    /* An empty mask, internal signals included (glibc's wrapper would skip them). */
    unsigned long empty_mask = 0;
    if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty_mask, NULL, KERNEL_SIGSET_SIZE) != 0) goto fail;
    execve(plan->program, plan->argv, plan->envp);
fail:
    plan->error = errno != 0 ? errno : ECHILD;
    _exit(127);
}

/* If the host runs with fd 0, 1 or 2 closed, pipe2 can hand out one of them,
 * or a number in the child's target range: move such fds up. */
static int lift_fd(int fd, int floor) {
    if (fd >= floor) return fd;
    int lifted = fcntl(fd, F_DUPFD_CLOEXEC, floor);
    close_quietly(fd);
    return lifted;
}

/* Both ends close-on-exec, so a concurrent spawn on another thread never
 * inherits them; the child gets its ends through dup2, which clears the flag. */
static int make_pipe(int fds[2], int floor) {
    if (pipe2(fds, O_CLOEXEC) != 0) return errno;
    fds[0] = lift_fd(fds[0], floor);
    fds[1] = lift_fd(fds[1], floor);
    if (fds[0] < 0 || fds[1] < 0) {
        int err = errno ? errno : EMFILE;
        close_quietly(fds[0]);
        close_quietly(fds[1]);
        fds[0] = fds[1] = -1;
        return err;
    }
    return 0;
}

/* One read-only /dev/null for every child's stdin, opened on first use (and
 * tried again by the next spawn if that failed, say on EMFILE). */
static pthread_mutex_t null_lock = PTHREAD_MUTEX_INITIALIZER;
static int null_fd = -1;

static int shared_null(void) {
    pthread_mutex_lock(&null_lock);
    if (null_fd < 0) null_fd = lift_fd(open("/dev/null", O_RDONLY | O_CLOEXEC), 3);
    int fd = null_fd;
    int err = errno;
    pthread_mutex_unlock(&null_lock);
    errno = err;
    return fd;
}

/* execvp-style lookup in an explicit PATH (the child's, which may differ from
 * ours). Returns 0 with the program in `out`, or ENOENT/EACCES. */
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

/* Clones the child and waits (CLONE_VFORK) until it has exec'd or failed.
 * Returns 0 with *pid (and *pidfd when asked for), or the child's errno. */
static int clone_child(spawn_plan *plan, int want_pidfd, pid_t *pid, int *pidfd) {
    /* Aligned for any ABI; the child's stack grows down from its end. */
    _Alignas(64) char stack[CHILD_STACK_SIZE];

    /* Every signal blocked across the clone, so none is handled in the child
     * before it has reset the dispositions. Restored for us right after. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);

    plan->error = 0;
    int fd = -1;
    int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
    pid_t child = clone(child_main, stack + sizeof stack, flags | (want_pidfd ? CLONE_PIDFD : 0), plan, &fd);
    if (child < 0 && want_pidfd && (errno == EINVAL || errno == EPERM || errno == ENOSYS)) {
        /* CLONE_PIDFD refused (a seccomp filter, say). Kernels before 5.2 ignore the
         * bit instead and leave fd at -1. Either way the caller can try pidfd_open. */
        fd = -1;
        child = clone(child_main, stack + sizeof stack, flags, plan, NULL);
    }
    int err = child < 0 ? errno : 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) return err;

    if (plan->error != 0) {
        /* The child never exec'd: reap it here, the caller never sees it. */
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
        close_quietly(fd);
        return plan->error;
    }
    *pid = child;
    *pidfd = fd;
    return 0;
}

static int spawn_here(const ps_spawn_options *options, const int *extra_fds, int extra_count, ps_child *child);

/* PS_SPAWN_DIE_WITH_PARENT spawns happen on this thread, which never exits: the
 * kernel sends PR_SET_PDEATHSIG when the spawning THREAD ends, and the threads
 * that ask (runner workers, pool threads) do end. Callers hand it one request at
 * a time and wait for the answer. */
typedef struct spawn_request {
    const ps_spawn_options *options;
    const int *extra_fds;
    int extra_count;
    ps_child *child;
    int result;
    int done;
} spawn_request;

static pthread_mutex_t spawner_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t spawner_wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t spawner_done = PTHREAD_COND_INITIALIZER;
static spawn_request *spawner_request = NULL;
static int spawner_started = 0;

static void *spawner_main(void *unused) {
    (void)unused;
    /* No signal handler of the host may run here (nor in the vfork'ed child). */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&spawner_lock);
    for (;;) {
        while (spawner_request == NULL || spawner_request->done) pthread_cond_wait(&spawner_wake, &spawner_lock);
        spawn_request *request = spawner_request;
        pthread_mutex_unlock(&spawner_lock);
        int result = spawn_here(request->options, request->extra_fds, request->extra_count, request->child);
        pthread_mutex_lock(&spawner_lock);
        request->result = result;
        request->done = 1;
        pthread_cond_broadcast(&spawner_done);
    }
    return NULL;
}

static int spawn_on_spawner(const ps_spawn_options *options, const int *extra_fds, int extra_count, ps_child *child) {
    spawn_request request = {options, extra_fds, extra_count, child, 0, 0};
    pthread_mutex_lock(&spawner_lock);
    if (!spawner_started) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        int err = pthread_create(&thread, &attributes, spawner_main, NULL);
        pthread_attr_destroy(&attributes);
        if (err != 0) {
            pthread_mutex_unlock(&spawner_lock);
            return err;
        }
        spawner_started = 1;
    }
    /* One request at a time: wait for the slot, post, wait for the answer. */
    while (spawner_request != NULL) pthread_cond_wait(&spawner_done, &spawner_lock);
    spawner_request = &request;
    pthread_cond_signal(&spawner_wake);
    while (!request.done) pthread_cond_wait(&spawner_done, &spawner_lock);
    spawner_request = NULL;
    pthread_cond_broadcast(&spawner_done);
    pthread_mutex_unlock(&spawner_lock);
    return request.result;
}

int ps_spawn_with_fds(const ps_spawn_options *options, const int *extra_fds, int extra_count, ps_child *child) {
    if (options != NULL && (options->flags & PS_SPAWN_DIE_WITH_PARENT)) {
        return spawn_on_spawner(options, extra_fds, extra_count, child);
    }
    return spawn_here(options, extra_fds, extra_count, child);
}

static int spawn_here(const ps_spawn_options *options, const int *extra_fds, int extra_count, ps_child *child) {
    if (options == NULL || child == NULL || options->argv == NULL || options->argv[0] == NULL) return EINVAL;
    if (extra_count < 0 || extra_count > MAX_EXTRA || (extra_count > 0 && extra_fds == NULL)) return EINVAL;
    const uint32_t flags = options->flags;
    const char *program = options->argv[0];
    if (program[0] == '\0') return ENOENT;

    char found[PATH_MAX];
    if ((flags & PS_SPAWN_SEARCH_PATH) && strchr(program, '/') == NULL) {
        const char *path = options->search_path;
        if (path == NULL) path = getenv("PATH");
        if (path == NULL) path = "/bin:/usr/bin";
        int err = search_program(program, path, found);
        if (err != 0) return err;
        program = found;
    }

    const int floor = 3 + extra_count;
    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    int copies[MAX_EXTRA];
    int copied = 0;
    int err = 0;
    /* Copies of the extra fds above the target range: dup2(copy, 3+i) can then
     * never clobber a source that a later dup2 still needs. */
    for (; copied < extra_count; copied++) {
        copies[copied] = fcntl(extra_fds[copied], F_DUPFD_CLOEXEC, floor);
        if (copies[copied] < 0) {
            err = errno;
            goto done;
        }
    }
    if ((flags & PS_SPAWN_STDIN_PIPE) && (err = make_pipe(in_pipe, floor)) != 0) goto done;
    if ((err = make_pipe(out_pipe, floor)) != 0) goto done;
    if (!(flags & PS_SPAWN_MERGE_STDERR) && (err = make_pipe(err_pipe, floor)) != 0) goto done;
    int stdin_fd = in_pipe[0];
    if (stdin_fd < 0 && (stdin_fd = shared_null()) < 0) {
        err = errno ? errno : EMFILE;
        goto done;
    }

    spawn_plan plan = {
        .program = program,
        .argv = (char *const *)options->argv,
        .envp = options->envp != NULL ? (char *const *)options->envp : environ,
        .workdir = options->workdir,
        .stdin_fd = stdin_fd,
        .stdout_fd = out_pipe[1],
        .stderr_fd = err_pipe[1] >= 0 ? err_pipe[1] : out_pipe[1],
        .extra_fds = copies,
        .extra_count = extra_count,
        .close_from = floor,
        .new_session = (flags & PS_SPAWN_NEW_SESSION) != 0,
        .die_with_parent = (flags & PS_SPAWN_DIE_WITH_PARENT) != 0,
        .parent = getpid(),
        .error = 0,
    };
    pid_t pid = -1;
    int pidfd = -1;
    err = clone_child(&plan, (flags & PS_SPAWN_PIDFD) != 0, &pid, &pidfd);

done:
    for (int i = 0; i < copied; i++) close_quietly(copies[i]);
    /* Our copies of the child's ends must go, or we never see EOF. */
    close_quietly(in_pipe[0]);
    close_quietly(out_pipe[1]);
    close_quietly(err_pipe[1]);
    if (err) {
        close_quietly(in_pipe[1]);
        close_quietly(out_pipe[0]);
        close_quietly(err_pipe[0]);
        return err;
    }
    /* Non-blocking reads let the caller drain a pipe that a grandchild still
     * holds open without getting stuck once it is empty. */
    fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
    if (err_pipe[0] >= 0) fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
    child->pid = pid;
    child->stdin_fd = in_pipe[1];
    child->stdout_fd = out_pipe[0];
    child->stderr_fd = err_pipe[0];
    child->pidfd = pidfd;
    return 0;
}

int ps_spawn(const ps_spawn_options *options, ps_child *child) {
    return ps_spawn_with_fds(options, NULL, 0, child);
}
