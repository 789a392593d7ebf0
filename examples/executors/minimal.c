/* A minimal executor in C: succeeds, echoing its payload as its outputs.
 * Build:  cc -shared -fPIC -I Sources/ExecutorAPI/include -o libplanter-minimal.so examples/executors/minimal.c
 * Use:    PLANTER_PLUGIN_PATH=. planter run examples/executors/minimal.json */
#include <stdlib.h>
#include <string.h>
#include "planter_executor.h"

static void *create(const char *config_json, const planter_host *host, char **error) {
    (void)config_json; (void)host; (void)error;
    static int instance;
    return &instance;
}

static char *execute(void *instance, const char *request, size_t length, const planter_call *call) {
    (void)instance; (void)length;
    static const char said[] = "minimal executor ran\n";
    call->output(call, PLANTER_STREAM_STDOUT, said, sizeof said - 1);
    /* A real executor parses the request; this one only checks that it has a payload. */
    const char *result = strstr(request, "\"payload\":{}")
        ? "{\"status\":\"invalid\",\"message\":\"payload is empty\"}"
        : "{\"status\":\"succeeded\",\"message\":\"done\",\"outputs\":{\"ran\":true}}";
    char *copy = malloc(strlen(result) + 1);
    if (copy) strcpy(copy, result);
    return copy;
}

static void destroy(void *instance) { (void)instance; }
static void free_string(char *string) { free(string); }

static const planter_executor_plugin plugin = {
    PLANTER_EXECUTOR_ABI_VERSION, sizeof(planter_executor_plugin),
    "minimal", "1.0.0", "Example: the smallest executor", PLANTER_CAP_CONCURRENT_EXECUTE,
    create, execute, destroy, free_string,
};

const planter_executor_plugin *planter_executor_entry(uint32_t host_abi_version) {
    return host_abi_version >= 1 ? &plugin : NULL;
}
