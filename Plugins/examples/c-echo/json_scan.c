/*
 * json_scan.c: the few JSON chores c-echo needs, without a parser or a tree.
 * See json_scan.h. Values are skipped by counting brackets outside strings
 * (aware of escapes), which is enough to find where a valid value ends; the
 * host only ever sends valid JSON.
 */
#include "json_scan.h"

#include <string.h>

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

int json_scan_find_member(const char *json, size_t len, const char *key,
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

int json_scan_contains_fail_true(const char *p, const char *end) {
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

size_t json_scan_decode_string(const char *p, const char *end, char *out) {
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

int json_scan_is_object(const char *json, size_t len) {
    scan s;
    s.p = json;
    s.end = json + len;
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{') return 0;
    if (!skip_value(&s)) return 0; /* a truncated object never closes */
    skip_ws(&s);
    return s.p == s.end;
}
