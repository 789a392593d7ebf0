#ifndef PLANTER_PROC_STAT_H
#define PLANTER_PROC_STAT_H
/* Private to ProcessSupport: one reader of /proc/PID/stat for the session kill and the
 * crash-leftovers scan. */
#include <sys/types.h>

struct ps_proc_stat {
    char state;                     /* R, S, D, Z, X, ... */
    pid_t pgrp;
    pid_t session;
    unsigned long long start_time;  /* clock ticks after boot (field 22) */
};

/* 0 and *out filled, or -1 when the process is gone or the file is not as expected. */
int ps_read_proc_stat(const char *pid_name, struct ps_proc_stat *out);

#endif
