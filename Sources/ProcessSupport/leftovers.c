/* leftovers.c: finding and killing the processes a dead Planter left running,
 * by the tag every phase process carries in its environment from its exec on
 * (contract in include/process_support.h, next to ps_kill_session).
 *
 * Why the environment: it is fixed at exec and inherited by everything a phase
 * starts (sh -c, its background jobs), it costs nothing per phase (no fsync,
 * no journal), and /proc/PID/environ shows it to whoever may signal the
 * process. A pid alone could have been reused since the crash; so each hit is
 * re-read through a pidfd that pins the process: the data read from /proc
 * belongs to it only if the pidfd says it is still alive afterwards (a live
 * process's pid cannot be handed to another one), and its start time (field 22
 * of /proc/PID/stat) must still be the one seen first. The signal then goes
 * through the pidfd, which can never reach another process.
 */
#define _GNU_SOURCE
#include "process_support.h"
#include "proc_stat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PIDFD_SIGNAL_PROCESS_GROUP
/* Linux 6.9: pidfd_send_signal to the process group the pidfd's process leads. */
#define PIDFD_SIGNAL_PROCESS_GROUP (1UL << 2)
#endif

/* Environments larger than this are not read whole; the tag sits wherever the
 * spawner put it, so a huge environment could hide it, but phase environments
 * are the host's plus a few variables. */
#define ENVIRON_LIMIT (1 << 20)

static int send_pidfd_signal(int pidfd, int sig, unsigned int flags) {
#ifdef SYS_pidfd_send_signal
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, flags);
#else
    (void)pidfd; (void)sig; (void)flags;
    errno = ENOSYS;
    return -1;
#endif
}

/* 1 once the pidfd's process has exited (it may still be a zombie). */
static int pidfd_exited(int pidfd) {
    struct pollfd fd = {.fd = pidfd, .events = POLLIN, .revents = 0};
    int rc;
    do {
        rc = poll(&fd, 1, 0);
    } while (rc < 0 && errno == EINTR);
    return rc > 0;
}

/* The whole /proc/PID/environ into a malloc'd buffer (NUL-separated entries);
 * NULL when unreadable or empty (a zombie, a kernel thread). */
static char *read_environ(const char *pid_name, size_t *length) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/environ", pid_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t capacity = 16384, used = 0;
    char *buffer = malloc(capacity + 1);
    while (buffer != NULL) {
        if (used == capacity) {
            if (capacity >= ENVIRON_LIMIT) break;
            char *grown = realloc(buffer, capacity * 2 + 1);
            if (grown == NULL) break;
            buffer = grown;
            capacity *= 2;
        }
        ssize_t n = read(fd, buffer + used, capacity - used);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        used += (size_t)n;
    }
    close(fd);
    if (buffer == NULL || used == 0) {
        free(buffer);
        return NULL;
    }
    buffer[used] = '\0';
    *length = used;
    return buffer;
}

/* The value of NAME in an environ buffer, or NULL. */
static const char *environ_value(const char *env, size_t length, const char *name) {
    size_t name_length = strlen(name);
    for (size_t at = 0; at < length;) {
        const char *entry = env + at;
        size_t entry_length = strnlen(entry, length - at);
        if (entry_length > name_length && memcmp(entry, name, name_length) == 0 && entry[name_length] == '=') {
            return entry + name_length + 1;
        }
        at += entry_length + 1;
    }
    return NULL;
}

/* pgrp and start time of a live process (not a zombie). */
static int read_stat(const char *pid_name, pid_t *pgrp, unsigned long long *start_time) {
    struct ps_proc_stat stat;
    if (ps_read_proc_stat(pid_name, &stat) != 0 || stat.state == 'Z' || stat.state == 'X') return -1;
    *pgrp = stat.pgrp;
    *start_time = stat.start_time;
    return 0;
}

/* Whether `env` carries the tag: PLANTER_OWNER=owner and, with a run id, PLANTER_RUN_ID=run_id. */
static int carries_tag(const char *env, size_t length, const char *owner, const char *run_id) {
    const char *value = environ_value(env, length, PS_TAG_OWNER);
    if (value == NULL || strcmp(value, owner) != 0) return 0;
    if (run_id == NULL) return 1;
    value = environ_value(env, length, PS_TAG_RUN_ID);
    return value != NULL && strcmp(value, run_id) == 0;
}

static void copy_value(char *out, size_t size, const char *value) {
    snprintf(out, size, "%s", value != NULL ? value : "");
}

/* Reads pid_name's tag, stat and run id; 0 when it carries the tag. */
static int inspect(const char *pid_name, const char *owner, const char *run_id, ps_tagged_process *found) {
    size_t length = 0;
    char *env = read_environ(pid_name, &length);
    if (env == NULL) return -1;
    int rc = -1;
    if (carries_tag(env, length, owner, run_id) && read_stat(pid_name, &found->pgid, &found->start_time) == 0) {
        copy_value(found->run_id, sizeof found->run_id, environ_value(env, length, PS_TAG_RUN_ID));
        copy_value(found->phase, sizeof found->phase, environ_value(env, length, PS_TAG_PHASE_ID));
        copy_value(found->attempt, sizeof found->attempt, environ_value(env, length, PS_TAG_ATTEMPT));
        rc = 0;
    }
    free(env);
    return rc;
}

/* Refuses a /proc of another pid namespace, whose numbers would name other processes. */
static int proc_is_ours(void) {
    char self[32];
    ssize_t length = readlink("/proc/self", self, sizeof self - 1);
    if (length <= 0) return 0;
    self[length] = '\0';
    return atoi(self) == getpid();
}

int ps_find_tagged(const char *owner, const char *run_id, ps_tagged_process *out, int capacity) {
    if (owner == NULL || owner[0] == '\0' || capacity < 0 || (capacity > 0 && out == NULL)) {
        errno = EINVAL;
        return -1;
    }
    if (!proc_is_ours()) {
        errno = EXDEV;
        return -1;
    }
    DIR *proc = opendir("/proc");
    if (proc == NULL) return -1;
    const pid_t own_pid = getpid();
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(proc)) != NULL) {
        if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
        pid_t pid = (pid_t)atoi(entry->d_name);
        if (pid == own_pid) continue;
        ps_tagged_process first;
        memset(&first, 0, sizeof first);
        /* A cheap first look, then the look that counts, with the process pinned. */
        if (inspect(entry->d_name, owner, run_id, &first) != 0) continue;
        int pidfd = ps_pidfd_open(pid);
        if (pidfd < 0) continue;
        ps_tagged_process checked;
        memset(&checked, 0, sizeof checked);
        int same = inspect(entry->d_name, owner, run_id, &checked) == 0 && checked.start_time == first.start_time;
        if (!same || pidfd_exited(pidfd)) {
            close(pidfd);
            continue;
        }
        checked.pid = pid;
        checked.pidfd = pidfd;
        checked.leads_group = checked.pgid == pid;
        if (count < capacity) {
            out[count] = checked;
        } else {
            close(pidfd);
        }
        count++;
    }
    closedir(proc);
    return count;
}

int ps_kill_tagged(const ps_tagged_process *process, const char *owner, const char *run_id, int sig, int *group_killed) {
    if (process == NULL || process->pidfd < 0 || owner == NULL) return EINVAL;
    if (group_killed != NULL) *group_killed = 0;
    /* Still the process that was found (same start time, same tag, alive)? */
    char pid_name[24];
    snprintf(pid_name, sizeof pid_name, "%d", (int)process->pid);
    ps_tagged_process now;
    memset(&now, 0, sizeof now);
    if (inspect(pid_name, owner, run_id, &now) != 0 || now.start_time != process->start_time || pidfd_exited(process->pidfd)) {
        return ESRCH;
    }
    if (process->leads_group && now.pgid == process->pid) {
        /* The group it leads: what it started (sh -c's background jobs) is there too. */
        if (send_pidfd_signal(process->pidfd, sig, PIDFD_SIGNAL_PROCESS_GROUP) == 0) {
            if (group_killed != NULL) *group_killed = 1;
        } else if (errno == EINVAL || errno == ENOSYS) {
            /* Before Linux 6.9. The leader is alive (checked above, pinned by the
             * pidfd), so its pid is still this group's and nobody else's. */
            if (!pidfd_exited(process->pidfd) && kill(-process->pid, sig) == 0 && group_killed != NULL) *group_killed = 1;
        }
    }
    if (send_pidfd_signal(process->pidfd, sig, 0) != 0 && errno != ESRCH) return errno;
    return 0;
}

int ps_wait_pidfd(int pidfd, int timeout_ms) {
    struct pollfd fd = {.fd = pidfd, .events = POLLIN, .revents = 0};
    int rc;
    do {
        rc = poll(&fd, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) return -1;
    return rc > 0 ? 1 : 0;
}
