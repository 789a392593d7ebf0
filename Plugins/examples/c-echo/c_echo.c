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
 *
 * The request is scanned, not parsed into a tree: one pass over the top-level
 * object finds the two keys, a second copies what is needed. Only
 * planter_executor_entry is exported; everything else is static.
 */
#include "planter_executor.h"

#include <stdlib.h>
#include <string.h>

#define C_ECHO_VERSION "1.0.0"

typedef struct c_echo_instance {
    const planter_host *host;
} c_echo_instance;

/* ---- a tiny JSON scanner ------------------------------------------------ */

/* A byte range [p, end) that the scanner walks. `p` is NULL after an error. */
typedef struct scan {
    const char *p;
    const char *end;
} scan;

static void skip_ws(scan *s) {
    while (s->p < s->end &&
           (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* Skips a string whose opening quote is at s->p; leaves s->p past the closing
 * quote. Escapes are skipped, not checked. */
static int skip_string(scan *s) {
    s->p++; /* the opening quote */
    while (s->p < s->end) {
        char c = *s->p++;
        if (c == '"') return 1;
        if (c == '\\') {
            if (s->p >= s->end) return 0;
            s->p++;
        }
    }
    return 0;
}

/* Skips one value of any kind at s->p (after whitespace). Objects and arrays
 * are skipped by counting brackets outside strings, which is enough to find
 * where a valid value ends. */
static int skip_value(scan *s) {
    skip_ws(s);
    if (s->p >= s->end) return 0;
    if (*s->p == '"') return skip_string(s);
    if (*s->p == '{' || *s->p == '[') {
        size_t depth = 0;
        while (s->p < s->end) {
            char c = *s->p;
            if (c == '"') {
                if (!skip_string(s)) return 0;
                continue;
            }
            s->p++;
            if (c == '{' || c == '[') depth++;
            else if (c == '}' || c == ']') {
                if (--depth == 0) return 1;
            }
        }
        return 0;
    }
    /* number, true, false, null: up to the next delimiter */
    {
        const char *start = s->p;
        while (s->p < s->end && *s->p != ',' && *s->p != '}' && *s->p != ']' &&
               *s->p != ' ' && *s->p != '\t' && *s->p != '\n' && *s->p != '\r')
            s->p++;
        return s->p > start;
    }
}

/* Finds `key` among the members of the top-level object in [json, json+len).
 * On success sets [*value, *value_end) to the raw text of its value. */
static int find_top_level(const char *json, size_t len, const char *key,
                          const char **value, const char **value_end) {
    size_t key_len = strlen(key);
    scan s;
    s.p = json;
    s.end = json + len;
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{') return 0;
    s.p++;
    for (;;) {
        const char *name;
        size_t name_len;
        skip_ws(&s);
        if (s.p >= s.end || *s.p != '"') return 0; /* also "}" of {} */
        name = s.p + 1;
        if (!skip_string(&s)) return 0;
        name_len = (size_t)(s.p - 1 - name);
        skip_ws(&s);
        if (s.p >= s.end || *s.p != ':') return 0;
        s.p++;
        skip_ws(&s);
        {
            const char *start = s.p;
            if (!skip_value(&s)) return 0;
            /* Keys are compared raw: the host never escapes plain ASCII keys. */
            if (name_len == key_len && memcmp(name, key, key_len) == 0) {
                *value = start;
                *value_end = s.p;
                return 1;
            }
        }
        skip_ws(&s);
        if (s.p < s.end && *s.p == ',') {
            s.p++;
            continue;
        }
        return 0;
    }
}

/* Does [p, end) contain "fail" followed by optional blanks, ':', blanks and
 * true? A substring check, deliberately: it is a test switch, not a schema. */
static int contains_fail_true(const char *p, const char *end) {
    static const char needle[] = "\"fail\"";
    const size_t needle_len = sizeof needle - 1;
    for (; (size_t)(end - p) >= needle_len; p++) {
        scan s;
        if (memcmp(p, needle, needle_len) != 0) continue;
        s.p = p + needle_len;
        s.end = end;
        skip_ws(&s);
        if (s.p >= s.end || *s.p != ':') continue;
        s.p++;
        skip_ws(&s);
        if ((size_t)(s.end - s.p) >= 4 && memcmp(s.p, "true", 4) == 0) return 1;
    }
    return 0;
}

static unsigned hex_value(const char *p) {
    unsigned v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0xFFFFFFFFu;
    }
    return v;
}

static size_t put_utf8(char *out, unsigned cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the body of a JSON string (between the quotes) into `out`, which
 * must hold `end - p` bytes: decoding never makes a string longer. Returns the
 * decoded length. Bad escapes become U+FFFD or are copied as they are. */
static size_t decode_string(const char *p, const char *end, char *out) {
    size_t n = 0;
    while (p < end) {
        char c = *p++;
        if (c != '\\' || p >= end) {
            out[n++] = c;
            continue;
        }
        c = *p++;
        switch (c) {
        case 'n': out[n++] = '\n'; break;
        case 't': out[n++] = '\t'; break;
        case 'r': out[n++] = '\r'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'u': {
            unsigned cp = end - p >= 4 ? hex_value(p) : 0xFFFFFFFFu;
            if (cp == 0xFFFFFFFFu) {
                out[n++] = '\\';
                out[n++] = 'u';
                break;
            }
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' &&
                p[1] == 'u') {
                unsigned lo = hex_value(p + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD; /* lone surrogate */
            n += put_utf8(out + n, cp);
            break;
        }
        default: out[n++] = c; break; /* \" \\ \/ and anything else */
        }
    }
    return n;
}

/* ---- the ABI ------------------------------------------------------------ */

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
        contains_fail_true(config_json, config_json + strlen(config_json))) {
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
    const char *end = request_json + request_length;
    const char *value, *value_end;
    const char *payload = "{}", *payload_end = payload + 2;
    const char *head;
    size_t head_len, payload_len;
    char *result;
    (void)instance;

    {
        scan s;
        s.p = request_json;
        s.end = end;
        skip_ws(&s);
        if (s.p >= s.end || *s.p != '{')
            return copy_string("{\"status\":\"invalid\","
                               "\"message\":\"c-echo: the request is not a JSON object\"}");
    }
    if (call && call->is_cancelled && call->is_cancelled(call))
        return copy_string("{\"status\":\"cancelled\",\"message\":\"cancelled\"}");

    if (call && call->output &&
        find_top_level(request_json, request_length, "description", &value,
                       &value_end) &&
        *value == '"' && value_end - value > 2) { /* "" streams nothing */
        /* Decode into a stack buffer when it fits; the newline rides along so
         * the host sees one chunk. */
        char small[256];
        size_t raw = (size_t)(value_end - value - 2);
        char *buf = raw + 1 <= sizeof small ? small : (char *)malloc(raw + 1);
        if (buf) {
            size_t n = decode_string(value + 1, value_end - 1, buf);
            buf[n++] = '\n';
            call->output(call, PLANTER_STREAM_STDOUT, buf, n);
            if (buf != small) free(buf);
        }
    }

    if (find_top_level(request_json, request_length, "payload", &value,
                       &value_end)) {
        payload = value;
        payload_end = value_end;
    }
    payload_len = (size_t)(payload_end - payload);
    if (contains_fail_true(payload, payload_end)) {
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
