/*
 * process_support.h: process helpers for executor plugins (Linux).
 *
 * Swift cannot call these directly or safely: syscall() and clone() are
 * variadic, the wait-status macros do not import, and what a child may do
 * between clone and exec is easier to get right in C. Shared by the shell, python and container plugins, so the
 * API knows nothing about any of them.
 *
 * Model: every child is the leader of a NEW process group (pgid == pid), so
 * the whole tree it starts can be signalled at once with ps_kill_group. Watch
 * it with a pidfd (PS_SPAWN_PIDFD or ps_pidfd_open) in the same poll() as its
 * pipes; reap it with ps_wait only after the group has been killed, so the
 * pgid cannot be reused in between.
 */
#ifndef PROCESS_SUPPORT_H
#define PROCESS_SUPPORT_H

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ps_spawn_options.flags */
/* argv[0] without a '/' is looked up in `search_path` (or, when that is NULL,
 * in this process's PATH), like execvp. */
#define PS_SPAWN_SEARCH_PATH 0x1u
/* The child's stderr goes to the stdout pipe; ps_child.stderr_fd is -1. */
#define PS_SPAWN_MERGE_STDERR 0x2u
/* The child's stdin is a pipe whose write end is ps_child.stdin_fd (blocking,
 * close-on-exec). Without it, stdin is /dev/null. */
#define PS_SPAWN_STDIN_PIPE 0x4u
/* ps_child.pidfd is a pidfd for the child (close-on-exec; the caller closes
 * it), made by clone itself, so no ps_pidfd_open is needed. -1 on kernels
 * before 5.2. Without the flag, pidfd is always -1. */
#define PS_SPAWN_PIDFD 0x8u
/* The child leads a new SESSION (setsid) as well as its own process group:
 * for long-lived helpers (executor processes) whose own children make process
 * groups of their own. ps_kill_session then reaches all of them, even after
 * the helper died and they were reparented. */
#define PS_SPAWN_NEW_SESSION 0x10u
/* The child gets SIGKILL when this process dies (PR_SET_PDEATHSIG): for
 * long-lived helpers (python pool workers) that run phases themselves. The
 * kernel sends it when the THREAD that spawned the child exits, and runner
 * and pool threads do exit, so such spawns are handed to one internal thread
 * that lives as long as the process. It reaches only the child, not what the
 * child starts. */
#define PS_SPAWN_DIE_WITH_PARENT 0x20u

typedef struct ps_spawn_options {
    const char *const *argv;   /* NULL-terminated; argv[0] is the program */
    const char *const *envp;   /* NULL-terminated; NULL = this process's environment */
    const char *workdir;       /* NULL = this process's working directory */
    const char *search_path;   /* a PATH value for PS_SPAWN_SEARCH_PATH; NULL = ours */
    uint32_t flags;            /* PS_SPAWN_* */
} ps_spawn_options;

typedef struct ps_child {
    pid_t pid;       /* also the child's process-group id */
    int stdin_fd;    /* write end, or -1 */
    int stdout_fd;   /* read end: close-on-exec, non-blocking */
    int stderr_fd;   /* read end: close-on-exec, non-blocking; -1 if merged */
    int pidfd;       /* with PS_SPAWN_PIDFD: readable once the child has exited; else -1 */
} ps_child;

/* Spawning opens one /dev/null (close-on-exec) on first use and keeps it for
 * every child's stdin: no path lookup between clone and exec. */

/* Starts a process in a new process group with fds 0-2 set up as described
 * above and every other descriptor closed, default signal dispositions and an
 * empty signal mask. Returns 0 and fills *child, or an errno value (ENOENT for
 * a missing program or workdir, EACCES, ...); nothing is left open on error. */
int ps_spawn(const ps_spawn_options *options, ps_child *child);

/* A pidfd for `pid`: close-on-exec, readable once the process has exited (it
 * stays a zombie until reaped). Returns -1 and sets errno on failure, e.g.
 * ENOSYS before Linux 5.3. */
int ps_pidfd_open(pid_t pid);

/* Sends `sig` to every process in group `pgid`. Returns 0 or an errno value;
 * ESRCH (the group is empty) is reported as 0. */
int ps_kill_group(pid_t pgid, int sig);

/* Sends `sig` to every process group of session `sid` (found in /proc) and
 * to every process in it: what a dead session leader left behind. Call it
 * before reaping the leader, so the sid cannot be reused meanwhile. Returns
 * how many processes were signalled, or -1 with errno when /proc is
 * unreadable or shows another pid namespace. Never signals this process's
 * own session, group or self. */
int ps_kill_session(pid_t sid, int sig);

/* Tagging phase processes, for recovery after a crash (leftovers.c). Every
 * process a plugin starts for a phase carries these variables from its exec on
 * (and passes them to what it starts): the Planter that owns it (a random token
 * kept in that Planter's state root), the run, the phase and the attempt. */
#define PS_TAG_OWNER "PLANTER_OWNER"
#define PS_TAG_RUN_ID "PLANTER_RUN_ID"
#define PS_TAG_PHASE_ID "PLANTER_PHASE_ID"
#define PS_TAG_ATTEMPT "PLANTER_ATTEMPT"

typedef struct ps_tagged_process {
    pid_t pid;
    pid_t pgid;
    int pidfd;                     /* pins the process; the caller closes it */
    int leads_group;               /* pid == pgid */
    unsigned long long start_time; /* /proc/PID/stat field 22, clock ticks since boot */
    char run_id[128];              /* the tag's values, truncated to fit */
    char phase[256];
    char attempt[24];
} ps_tagged_process;

/* Finds the live processes whose environment holds PLANTER_OWNER=`owner` and
 * (unless `run_id` is NULL) PLANTER_RUN_ID=`run_id`, skipping this process.
 * Each hit is read twice around opening its pidfd, and kept only if the start
 * time matches and the pidfd's process is still alive after the second read, so
 * what was read is that process's. Fills up to `capacity` entries (each with an
 * open pidfd) and returns how many there are (possibly more than `capacity`),
 * or -1 with errno (EXDEV when /proc shows another pid namespace). */
int ps_find_tagged(const char *owner, const char *run_id, ps_tagged_process *out, int capacity);

/* Sends `sig` to a process from ps_find_tagged, after checking once more (alive,
 * same start time, still tagged) so a pid reused since can never be hit; when it
 * leads its group, to that group first (pidfd_send_signal with
 * PIDFD_SIGNAL_PROCESS_GROUP, or kill(-pgid) before Linux 6.9) and sets
 * *group_killed. Returns 0, ESRCH when it is gone or not the same, or an errno. */
int ps_kill_tagged(const ps_tagged_process *process, const char *owner, const char *run_id, int sig, int *group_killed);

/* Waits up to `timeout_ms` (-1: forever) for a pidfd's process to exit: 1 when it
 * has, 0 on timeout, -1 with errno. */
int ps_wait_pidfd(int pidfd, int timeout_ms);

typedef struct ps_exit_status {
    int exit_code;   /* the process's exit code; -1 if killed by a signal */
    int signal;      /* the signal that killed it; 0 if it exited */
    int core_dumped; /* non-zero if it dumped core */
} ps_exit_status;

/* Reaps `pid` (retrying on EINTR). With `no_hang` it returns 0 at once when
 * the process is still running. Returns 1 and fills *status once reaped, or -1
 * with errno set. */
int ps_wait(pid_t pid, int no_hang, ps_exit_status *status);

/* 1 if `pid` has exited, 0 if it is running, -1 with errno: a check that does
 * NOT reap, for hosts without pidfds. */
int ps_has_exited(pid_t pid);

/* "TERM" for SIGTERM and so on; NULL for unknown numbers. Static storage. */
const char *ps_signal_abbrev(int sig);

/* This process's environment (`environ`, which Swift 6 cannot touch as a
 * mutable C global). Read it, do not keep it across setenv calls. */
char *const *ps_environ(void);

/* A flag for poll() loops: an eventfd (close-on-exec, non-blocking) that is
 * not readable until ps_event_set. Returns -1 with errno on failure. */
int ps_event_open(void);

/* Makes `fd` (from ps_event_open) readable for good. Returns 0 or an errno value. */
int ps_event_set(int fd);

/* CLOCK_MONOTONIC in nanoseconds, for deadlines. */
int64_t ps_monotonic_ns(void);

#ifdef __cplusplus
}
#endif

#endif /* PROCESS_SUPPORT_H */
