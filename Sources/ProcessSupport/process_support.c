/* process_support.c: see include/process_support.h for the contract; spawning
 * is in spawn.c. */
#define _GNU_SOURCE
#include "process_support.h"
#include "proc_stat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

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

/* /proc/PID/stat ("pid (comm) S ppid pgrp session ... starttime ..."): the fields are read
 * after the last ')', since comm may hold spaces and parentheses. Shared with leftovers.c. */
int ps_read_proc_stat(const char *pid_name, struct ps_proc_stat *out) {
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%s/stat", pid_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return -1;
    text[n] = '\0';
    char *paren = strrchr(text, ')');
    if (paren == NULL) return -1;
    char state;
    int ppid, group, sid;
    unsigned long long start;
    /* state(3) ppid(4) pgrp(5) session(6) tty_nr(7) tpgid(8) flags(9) minflt..cstime(10-17)
     * priority(18) nice(19) num_threads(20) itrealvalue(21) starttime(22) */
    if (sscanf(paren + 1, " %c %d %d %d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
               &state, &ppid, &group, &sid, &start) != 5) {
        return -1;
    }
    out->state = state;
    out->pgrp = group;
    out->session = sid;
    out->start_time = start;
    return 0;
}

int ps_kill_session(pid_t sid, int sig) {
    if (sid <= 1 || sid == getsid(0)) {
        errno = EINVAL;
        return -1;
    }
    /* A /proc of another pid namespace would name other processes: refuse it. */
    char self[32];
    ssize_t length = readlink("/proc/self", self, sizeof self - 1);
    if (length <= 0) return -1;
    self[length] = '\0';
    if (atoi(self) != getpid()) {
        errno = EXDEV;
        return -1;
    }
    const pid_t own_pid = getpid(), own_group = getpgrp();
    int signalled = 0;
    /* Twice: a process may have made a new group while the first pass ran. */
    for (int pass = 0; pass < 2; pass++) {
        DIR *proc = opendir("/proc");
        if (proc == NULL) return -1;
        struct dirent *entry;
        while ((entry = readdir(proc)) != NULL) {
            if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
            struct ps_proc_stat stat;
            if (ps_read_proc_stat(entry->d_name, &stat) != 0 || stat.session != sid) continue;
            pid_t group = stat.pgrp;
            pid_t pid = (pid_t)atoi(entry->d_name);
            if (pid == own_pid || group == own_group) continue;
            if (group > 1) kill(-group, sig);
            if (kill(pid, sig) == 0 && pass == 0) signalled++;
        }
        closedir(proc);
    }
    return signalled;
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

int ps_event_open(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

int ps_event_set(int fd) {
    uint64_t one = 1;
    ssize_t n;
    do {
        n = write(fd, &one, sizeof one);
    } while (n < 0 && errno == EINTR);
    /* EAGAIN: the counter is at its maximum, which is readable too. */
    return n == (ssize_t)sizeof one || errno == EAGAIN ? 0 : errno;
}

int64_t ps_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
