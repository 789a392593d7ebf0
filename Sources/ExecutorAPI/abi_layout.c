/* Pins the layout of the version-1 structs on 64-bit targets: a change here
 * is an ABI break, which needs a new PLANTER_EXECUTOR_ABI_VERSION instead. */
#include "planter_executor.h"

#if defined(__LP64__) || defined(_LP64)
_Static_assert(offsetof(planter_host, log) == 32, "planter_host v1 layout");
_Static_assert(sizeof(planter_host) == 40, "planter_host v1 size");
_Static_assert(offsetof(planter_call, cancel_fd) == 40, "planter_call v1 layout");
_Static_assert(sizeof(planter_call) == 48, "planter_call v1 size");
_Static_assert(offsetof(planter_executor_plugin, create) == 40,
               "planter_executor_plugin v1 layout");
_Static_assert(sizeof(planter_executor_plugin) == 72,
               "planter_executor_plugin v1 size");
#endif
