/*
 * planter_executor.h: the Planter executor ABI, version 1.
 *
 * This header is all a plugin author needs. A plugin is a shared library that
 * exports one symbol, `planter_executor_entry`, which returns a descriptor of
 * function pointers. Requests and results cross the boundary as UTF-8 JSON;
 * their shapes are documented in README.md beside this header.
 *
 * Rules that hold everywhere below:
 *  - Versioning: every struct starts with `abi_version` and `struct_size`.
 *    Structs only ever grow at the end; a reader must check `struct_size`
 *    before touching a field added after version 1.
 *  - Strings are NUL-terminated UTF-8 unless a length is given.
 *  - Ownership is stated next to every pointer: "host-owned" memory is never
 *    freed or kept by the plugin past the stated lifetime; "plugin-owned"
 *    memory handed to the host is released by the host with the plugin's
 *    `free_string`, and by nothing else.
 *  - Thread tags (there is no "main" thread: the host calls a plugin from
 *    whatever thread runs the work, a different one from call to call):
 *      [serialised]   the host calls it from any thread, never concurrently
 *                     with another call on the same instance.
 *      [any-thread]   may be called from any thread, concurrently.
 *      [during-call]  valid only while the execute() call it belongs to has
 *                     not returned; from any thread, concurrently.
 *  - An instance is an opaque `void *` made by create(), owned by the plugin
 *    and released by destroy(); the host only passes it back.
 *
 * Plain C99; only <stdint.h> and <stddef.h>.
 */
#ifndef PLANTER_EXECUTOR_H
#define PLANTER_EXECUTOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. */
#define PLANTER_EXECUTOR_ABI_VERSION 1u

/* The name of the one symbol a plugin exports (see planter_executor_entry). */
#define PLANTER_EXECUTOR_ENTRY_SYMBOL "planter_executor_entry"

/* Output streams, for planter_call.output. */
typedef int32_t planter_stream;
#define PLANTER_STREAM_STDOUT ((planter_stream)1)
#define PLANTER_STREAM_STDERR ((planter_stream)2)

/* Log levels, for planter_host.log and planter_call.log. */
typedef int32_t planter_log_level;
#define PLANTER_LOG_DEBUG ((planter_log_level)0)
#define PLANTER_LOG_INFO ((planter_log_level)1)
#define PLANTER_LOG_WARNING ((planter_log_level)2)
#define PLANTER_LOG_ERROR ((planter_log_level)3)

/* Capability bits, for planter_executor_plugin.capabilities. */
/* execute() may run concurrently on one instance. Without this bit the host
 * serialises calls per instance. */
#define PLANTER_CAP_CONCURRENT_EXECUTE ((uint64_t)1u << 0)

/*
 * What the host offers an instance for its whole life.
 * Host-owned; valid from create() until destroy() returns.
 */
typedef struct planter_host {
    uint32_t abi_version;  /* the host's PLANTER_EXECUTOR_ABI_VERSION */
    uint32_t struct_size;  /* sizeof(planter_host) as the host built it */
    void *host_data;       /* opaque to the plugin; pass back unchanged */
    const char *host_name;     /* "planter"; host-owned, static */
    const char *host_version;  /* e.g. "0.1.0"; host-owned, static */

    /* [any-thread] A log line from the instance, outside any call (start-up,
     * background work). `message` is host-read only during the call; the host
     * copies it. */
    void (*log)(const struct planter_host *host, planter_log_level level,
                const char *message);
} planter_host;

/*
 * What the host offers one execute() call.
 * Host-owned; valid until that execute() returns. Do not keep the pointer.
 */
typedef struct planter_call {
    uint32_t abi_version;  /* the host's PLANTER_EXECUTOR_ABI_VERSION */
    uint32_t struct_size;  /* sizeof(planter_call) as the host built it */
    void *host_data;       /* opaque to the plugin; pass back unchanged */

    /* [during-call] Streams a chunk of the phase's output as it happens.
     * `data` (need not be NUL-terminated, need not end on a line break) is
     * host-read only during the call; the host copies what it keeps. */
    void (*output)(const struct planter_call *call, planter_stream stream,
                   const char *data, size_t length);

    /* [during-call] A log line about this call. The host copies `message`. */
    void (*log)(const struct planter_call *call, planter_log_level level,
                const char *message);

    /* [during-call] Non-zero once the host has cancelled this call: user
     * cancel, run abort, or the attempt's time limit. An atomic load; cheap
     * enough to poll. A cancelled call should stop its work and return a
     * result with status "cancelled" soon. */
    int32_t (*is_cancelled)(const struct planter_call *call);

    /* [during-call] A file descriptor that becomes readable once the call is
     * cancelled, for poll()/select() loops that must not spin. Host-owned:
     * never read, write or close it. -1 when the host cannot provide one.
     * Created on first use; calls that never ask pay nothing. */
    int32_t (*cancel_fd)(const struct planter_call *call);
} planter_call;

/*
 * The plugin's descriptor, returned by planter_executor_entry.
 * Plugin-owned and static: it must stay valid and unchanged for the life of
 * the process (the host never unloads a plugin).
 */
typedef struct planter_executor_plugin {
    uint32_t abi_version;  /* the PLANTER_EXECUTOR_ABI_VERSION the plugin was
                            * built against; the host refuses versions it does
                            * not speak, naming both */
    uint32_t struct_size;  /* sizeof(planter_executor_plugin) as built */

    const char *name;         /* "shell": [a-z0-9_-]+, static, plugin-owned */
    const char *version;      /* the plugin's own version, e.g. "1.2.0" */
    const char *description;  /* one line for `planter plugins`; may be NULL */
    uint64_t capabilities;    /* PLANTER_CAP_* bits */

    /* [serialised] Creates an instance (plugin-owned; opaque to the host). `config_json` is the executor's
     * `config` object from the deployment (at least "{}"), host-owned, valid
     * during the call only. `host` is valid until destroy() returns.
     * Success: returns a non-NULL instance and leaves *error untouched.
     * Failure: returns NULL and sets *error to a plugin-owned message that the
     * host releases with free_string. */
    void *(*create)(const char *config_json, const planter_host *host,
                    char **error);

    /* [serialised], or [any-thread] when capabilities has
     * PLANTER_CAP_CONCURRENT_EXECUTE: then the host may run several calls on
     * one instance at once. Without the bit it holds a lock per instance, so
     * calls on one instance run one after another (on different threads);
     * calls on different instances may always overlap.
     * Runs one attempt of one phase and blocks until it has finished. The host
     * never calls it on an event loop: blocking here is expected.
     * `request_json` (`request_length` bytes, also NUL-terminated) and `call`
     * are host-owned, valid until this function returns.
     * Returns the result JSON (NUL-terminated UTF-8), plugin-owned: the host
     * releases it with free_string. NULL means "failed" with no message. */
    char *(*execute)(void *instance, const char *request_json,
                     size_t request_length, const planter_call *call);

    /* [serialised] Destroys an instance after its last execute() returned;
     * the host never passes that pointer again. */
    void (*destroy)(void *instance);

    /* [any-thread] Releases a string this plugin handed to the host
     * (create's *error, execute's result). NULL is allowed and ignored. */
    void (*free_string)(char *string);
} planter_executor_plugin;

/*
 * The one exported entry point. `host_abi_version` is the ABI version the host
 * speaks (PLANTER_EXECUTOR_ABI_VERSION as the host was built). The host
 * accepts only a descriptor whose abi_version equals it exactly, and refuses
 * the plugin otherwise, naming both versions; so return the descriptor of
 * that version (static: see above), or NULL when the plugin has none for it
 * (the host then says the plugin declined).
 * [any-thread] Cheap and side-effect free: the host may call it more than once.
 */
typedef const planter_executor_plugin *(*planter_executor_entry_fn)(
    uint32_t host_abi_version);

const planter_executor_plugin *planter_executor_entry(uint32_t host_abi_version);

#ifdef __cplusplus
}
#endif

#endif /* PLANTER_EXECUTOR_H */
