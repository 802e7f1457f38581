/*
 * JSON for the metrics bus: a writer that appends to a metrics_buf and a
 * small parser for query requests.
 *
 * The parser builds a tree of nodes in one allocation (mbus_json_parse ->
 * mbus_json_free). It accepts RFC 8259 JSON, refuses nesting deeper than
 * MBUS_JSON_MAX_DEPTH and documents larger than the caller's limit, and
 * decodes strings (\uXXXX escapes included, surrogate pairs joined) to
 * UTF-8. Objects keep their members in order; lookups are linear.
 */
#ifndef ZKPLUG_METRICS_MBUS_JSON_H
#define ZKPLUG_METRICS_MBUS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics_buf.h"

#define MBUS_JSON_MAX_DEPTH 32

/* ---- writer ---- */
void mbus_json_string(struct metrics_buf *b, const char *s);
void mbus_json_string_n(struct metrics_buf *b, const char *s, size_t n);
/* Doubles as JSON numbers (shortest text that reads back exactly; NaN and
 * infinities, which JSON lacks, as null). */
void mbus_json_double(struct metrics_buf *b, double d);
void mbus_json_int(struct metrics_buf *b, int64_t v);

/* ---- parser ---- */
enum mbus_json_type {
    MBUS_JSON_NULL,
    MBUS_JSON_BOOL,
    MBUS_JSON_NUMBER,
    MBUS_JSON_STRING,
    MBUS_JSON_ARRAY,
    MBUS_JSON_OBJECT,
};

struct mbus_json {
    enum mbus_json_type type;
    bool b;
    double num;
    bool is_int; /* the number was an integer that fits int64 */
    int64_t i;
    char *s;     /* STRING: decoded, NUL-terminated (may hold NULs; see len) */
    size_t len;
    char *key;   /* member name when inside an object */
    struct mbus_json *child, *next; /* ARRAY/OBJECT: first element; siblings */
    size_t count;
};

/* Parse text[0..len). Returns the root, or NULL with a message in err. */
struct mbus_json *mbus_json_parse(const char *text, size_t len, char *err, size_t errlen);
void mbus_json_free(struct mbus_json *root);
/* Object member by name, or NULL. */
const struct mbus_json *mbus_json_get(const struct mbus_json *obj, const char *key);
/* Member as a string, or NULL when absent or not a string. */
const char *mbus_json_get_string(const struct mbus_json *obj, const char *key);

#endif
