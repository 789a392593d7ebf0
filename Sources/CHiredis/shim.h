/* hiredis 0.14.1 (Debian's libhiredis-dev), for PlanterRedis (Sources/Redis). The old API: blocking
 * contexts, RESP2, no TLS. Variadic redisCommand does not import; PlanterRedis only uses the argv forms. */
#include <hiredis/hiredis.h>
