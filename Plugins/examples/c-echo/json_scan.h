/*
 * json_scan.h: a tiny JSON scanner for the c-echo example, kept apart so that
 * c_echo.c shows the executor ABI and little else. Internal to the plugin:
 * hidden from the shared library's exports (only planter_executor_entry is
 * exported), so two plugins with a scanner of this name never clash.
 */
#ifndef C_ECHO_JSON_SCAN_H
#define C_ECHO_JSON_SCAN_H

#include <stddef.h>

#if defined(__GNUC__)
#define JSON_SCAN_INTERNAL __attribute__((visibility("hidden")))
#else
#define JSON_SCAN_INTERNAL
#endif

/* Whether [json, json+len) is one whole object: it opens with '{', its brackets
 * close (counted outside strings), and only whitespace follows. A truncated
 * request fails this; it is not a full validation. */
JSON_SCAN_INTERNAL int json_scan_is_object(const char *json, size_t len);

/* Finds `key` among the members of the top-level object in [json, json+len).
 * On success returns 1 and sets [*value, *value_end) to the raw text of its
 * value; keys are compared raw (the host never escapes plain ASCII keys). */
JSON_SCAN_INTERNAL int json_scan_find_member(const char *json, size_t len, const char *key,
                                             const char **value, const char **value_end);

/* Does [p, end) contain "fail" followed by optional blanks, ':', blanks and
 * true? A substring check, deliberately: it is a test switch, not a schema. */
JSON_SCAN_INTERNAL int json_scan_contains_fail_true(const char *p, const char *end);

/* Decodes the body of a JSON string (between the quotes) into `out`, which
 * must hold `end - p` bytes: decoding never makes a string longer. Returns the
 * decoded length. Bad escapes become U+FFFD or are copied as they are. */
JSON_SCAN_INTERNAL size_t json_scan_decode_string(const char *p, const char *end, char *out);

#endif /* C_ECHO_JSON_SCAN_H */
