// planter: the command people type, a launcher. A one-phase `planter run` is mostly start-up,
// and a Swift program's start-up is mostly the dynamic loader and the runtime's type lookups,
// which grow with what it links. So the commands live in two programs next to this one:
//
//   planter-run    `run` and `validate`: the engine only (no HTTP server, NATS, Redis, TLS)
//   planter-full   every command, help, version and completions included
//
// This program links nothing but libc: it picks one by the first argument and replaces itself
// with it (execv: same process id, arguments and environment, so signals, exit codes and
// `kill` work as if there were one program).
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *program_for(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "run") == 0 || strcmp(argv[1], "validate") == 0)) return "planter-run";
    return "planter-full";
}

int main(int argc, char **argv) {
    // The folder of this program's own file (/proc/self/exe: a symlink to planter still works).
    char path[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
    if (length <= 0) {
        fprintf(stderr, "planter: cannot find its own folder: %s\n", strerror(errno));
        return 127;
    }
    path[length] = '\0';
    char *slash = strrchr(path, '/');
    const char *name = program_for(argc, argv);
    if (slash == NULL || (size_t)(slash + 1 - path) + strlen(name) + 1 > sizeof path) {
        fprintf(stderr, "planter: cannot place %s next to %s\n", name, path);
        return 127;
    }
    strcpy(slash + 1, name);
    execv(path, argv);
    fprintf(stderr, "planter: cannot start %s: %s\n", path, strerror(errno));
    return 127;
}
