/* nats.c 3.4.1 (Debian's libnats-dev), for the NATS client (Sources/Messaging). */
#include <nats/nats.h>
