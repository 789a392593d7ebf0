/*
 * c-echo: a Planter executor plugin in plain C99, with no dependency beyond
 * libc and planter_executor.h. It proves the executor ABI is language-neutral
 * and doubles as the cheapest possible plugin for benchmarks.
 *
 *  - create(): fails with "c-echo: configured to fail" when the config holds
 *    "fail": true; otherwise returns an instance (nothing is configurable).
 *  - execute(): streams the request's "description" plus "\n" to stdout
 *    (nothing when it is empty), then
 *    returns {"status":"succeeded","message":"echoed","outputs":{"echo":P}},
 *    P being the raw JSON text of the request's "payload" ({} when absent).
 *    When the payload holds "fail": true the status is "failed", exitCode 3.
 *    With "dryRun": true nothing is streamed: {"status":"succeeded",
 *    "message":"dry run: would echo"}. A request that is not one whole JSON
 *    object is "invalid"; a call cancelled before it starts is "cancelled".
 *
 * The request is scanned, not parsed into a tree (json_scan.c: one pass over
 * the top-level object finds a key, the payload is copied as it is). Only
 * planter_executor_entry is exported; everything else is static or hidden.
 */
#include "planter_executor.h"
#include "json_scan.h"

#include <stdlib.h>
#include <string.h>

#define C_ECHO_VERSION "1.0.0"

typedef struct c_echo_instance {
    const planter_host *host;
} c_echo_instance;

static char *copy_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *r = (char *)malloc(n);
    if (r) memcpy(r, s, n);
    return r;
}

static void *c_echo_create(const char *config_json, const planter_host *host,
                           char **error) {
    c_echo_instance *instance;
    if (config_json &&
        json_scan_contains_fail_true(config_json, config_json + strlen(config_json))) {
        if (error) *error = copy_string("c-echo: configured to fail");
        return NULL;
    }
    instance = (c_echo_instance *)malloc(sizeof *instance);
    if (!instance) {
        if (error) *error = copy_string("c-echo: out of memory");
        return NULL;
    }
    instance->host = host;
    return instance;
}

static char *c_echo_execute(void *instance, const char *request_json,
                            size_t request_length, const planter_call *call) {
    static const char head_ok[] =
        "{\"status\":\"succeeded\",\"message\":\"echoed\",\"outputs\":{\"echo\":";
    static const char head_failed[] =
        "{\"status\":\"failed\",\"exitCode\":3,\"message\":\"payload asked to fail\","
        "\"outputs\":{\"echo\":";
    static const char tail[] = "}}";
    const char *value, *value_end;
    const char *payload = "{}", *payload_end = payload + 2;
    const char *head;
    size_t head_len, payload_len;
    char *result;
    (void)instance;

    if (!json_scan_is_object(request_json, request_length))
        return copy_string("{\"status\":\"invalid\","
                           "\"message\":\"c-echo: the request is not a JSON object\"}");
    if (call && call->is_cancelled && call->is_cancelled(call))
        return copy_string("{\"status\":\"cancelled\",\"message\":\"cancelled\"}");
    if (json_scan_find_member(request_json, request_length, "dryRun", &value, &value_end) &&
        value_end - value == 4 && memcmp(value, "true", 4) == 0)
        return copy_string("{\"status\":\"succeeded\",\"message\":\"dry run: would echo\"}");

    if (call && call->output &&
        json_scan_find_member(request_json, request_length, "description", &value,
                       &value_end) &&
        *value == '"' && value_end - value > 2) { /* "" streams nothing */
        /* Decode into a stack buffer when it fits; the newline rides along so
         * the host sees one chunk. */
        char small[256];
        size_t raw = (size_t)(value_end - value - 2);
        char *buf = raw + 1 <= sizeof small ? small : (char *)malloc(raw + 1);
        if (buf) {
            size_t n = json_scan_decode_string(value + 1, value_end - 1, buf);
            buf[n++] = '\n';
            call->output(call, PLANTER_STREAM_STDOUT, buf, n);
            if (buf != small) free(buf);
        }
    }

    if (json_scan_find_member(request_json, request_length, "payload", &value,
                       &value_end)) {
        payload = value;
        payload_end = value_end;
    }
    payload_len = (size_t)(payload_end - payload);
    if (json_scan_contains_fail_true(payload, payload_end)) {
        head = head_failed;
        head_len = sizeof head_failed - 1;
    } else {
        head = head_ok;
        head_len = sizeof head_ok - 1;
    }

    result = (char *)malloc(head_len + payload_len + sizeof tail);
    if (!result) return NULL;
    memcpy(result, head, head_len);
    memcpy(result + head_len, payload, payload_len);
    memcpy(result + head_len + payload_len, tail, sizeof tail); /* with NUL */
    return result;
}

static void c_echo_destroy(void *instance) { free(instance); }

static void c_echo_free_string(char *string) { free(string); }

static const planter_executor_plugin c_echo_plugin = {
    PLANTER_EXECUTOR_ABI_VERSION,
    (uint32_t)sizeof(planter_executor_plugin),
    "c-echo",
    C_ECHO_VERSION,
    "Echoes the phase description to stdout and the payload to outputs (C example)",
    PLANTER_CAP_CONCURRENT_EXECUTE,
    c_echo_create,
    c_echo_execute,
    c_echo_destroy,
    c_echo_free_string,
};

#if defined(__GNUC__)
__attribute__((visibility("default")))
#endif
const planter_executor_plugin *planter_executor_entry(uint32_t host_abi_version) {
    /* The host passes the newest version it speaks; this plugin only has v1. */
    if (host_abi_version < 1u) return NULL;
    return &c_echo_plugin;
}
