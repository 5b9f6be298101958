/* options.c — everything about options generated from LAMINA_OPTIONS_TABLE (lamina.h): defaults,
 * the string setter, descriptions, validation and the OPTIONS file text ("name=value" lines, as
 * RocksDB's OPTIONS file). No per-option code: each option is a row of the table. */
#include "engine/options.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/err.h"
#include "util/file.h"

#define OPTIONS_DESC_(kind, ctype, name, def, lo, hi, names, doc)                                  \
    {#name, kind, names, (int64_t)(def), (int64_t)(lo), (int64_t)(hi), doc},
static const lamina_option_desc options_desc[] = {LAMINA_OPTIONS_TABLE(OPTIONS_DESC_)};

/* Where each option lives in the struct, and how wide its field is. */
struct options_field {
    size_t offset, size;
};
#define OPTIONS_FIELD_(kind, ctype, name, def, lo, hi, names, doc)                                 \
    {offsetof(lamina_options, name), sizeof(ctype)},
static const struct options_field options_fields[] = {LAMINA_OPTIONS_TABLE(OPTIONS_FIELD_)};

#define OPTIONS_COUNT (sizeof(options_desc) / sizeof(options_desc[0]))

/* Longest name or value text accepted (names are far shorter; values are numbers or choices). */
#define OPTIONS_TEXT_MAX 128

static int64_t options_get(const lamina_options *o, size_t i)
{
    const uint8_t *p = (const uint8_t *)o + options_fields[i].offset;
    if (options_fields[i].size == sizeof(int64_t)) {
        int64_t v;
        memcpy(&v, p, sizeof(v));
        return v;
    }
    int v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static void options_put(lamina_options *o, size_t i, int64_t v)
{
    uint8_t *p = (uint8_t *)o + options_fields[i].offset;
    if (options_fields[i].size == sizeof(int64_t)) {
        memcpy(p, &v, sizeof(v));
    } else {
        int n = (int)v;
        memcpy(p, &n, sizeof(n));
    }
}

LAMINA_API void lamina_options_init(lamina_options *opts)
{
    if (!opts) return;
    memset(opts, 0, sizeof(*opts));
    opts->struct_size = sizeof(*opts);
    for (size_t i = 0; i < OPTIONS_COUNT; i++)
        options_put(opts, i, options_desc[i].def);
}

LAMINA_API size_t lamina_options_count(void)
{
    return OPTIONS_COUNT;
}

LAMINA_API const lamina_option_desc *lamina_options_describe(size_t i)
{
    return i < OPTIONS_COUNT ? &options_desc[i] : NULL;
}

LAMINA_API void lamina_read_options_init(lamina_read_options *ro)
{
    if (!ro) return;
    memset(ro, 0, sizeof(*ro));
    ro->struct_size = sizeof(*ro);
    ro->verify_checksums = 1;
    ro->fill_cache = 1;
}

LAMINA_API void lamina_write_options_init(lamina_write_options *wo)
{
    if (!wo) return;
    memset(wo, 0, sizeof(*wo));
    wo->struct_size = sizeof(*wo);
}

/* ---- Read and write options: struct_size ------------------------------------------------ */

/* The fields after struct_size, in declaration order: a caller built against an older header
 * passes a smaller struct, holding only the fields that lie wholly within its struct_size. */
struct options_member {
    size_t offset, size;
};
#define OPTIONS_MEMBER_(type, field)                                                               \
    {                                                                                              \
        offsetof(type, field), sizeof(((type *)0)->field)                                          \
    }
static const struct options_member read_members[] = {
    OPTIONS_MEMBER_(lamina_read_options, snapshot),
    OPTIONS_MEMBER_(lamina_read_options, verify_checksums),
    OPTIONS_MEMBER_(lamina_read_options, fill_cache),
    OPTIONS_MEMBER_(lamina_read_options, lower_bound),
    OPTIONS_MEMBER_(lamina_read_options, lower_bound_len),
    OPTIONS_MEMBER_(lamina_read_options, upper_bound),
    OPTIONS_MEMBER_(lamina_read_options, upper_bound_len),
    OPTIONS_MEMBER_(lamina_read_options, prefix),
    OPTIONS_MEMBER_(lamina_read_options, prefix_len),
};
static const struct options_member write_members[] = {
    OPTIONS_MEMBER_(lamina_write_options, sync),
    OPTIONS_MEMBER_(lamina_write_options, disable_wal),
};

/* Copies the members of src that its struct_size covers over dst (already holding the
 * defaults, dst_size bytes). The first member must be there: a struct_size of 0 or one cut
 * before it is a struct the caller never filled. */
static int options_copy_members(void *dst, size_t dst_size, const void *src,
                                const struct options_member *m, size_t nm, const char *what,
                                const char *fn)
{
    size_t n;
    memcpy(&n, src, sizeof(n));
    size_t min = m[0].offset + m[0].size;
    if (n < min)
        return err_set(LAMINA_EINVAL,
                       "%s: %s struct_size %zu is smaller than %zu (fill the struct with "
                       "%s_init)",
                       fn, what, n, min, what);
    if (n == dst_size) {
        memcpy(dst, src, dst_size);
        return 0;
    }
    for (size_t i = 0; i < nm && m[i].offset + m[i].size <= n; i++)
        memcpy((uint8_t *)dst + m[i].offset, (const uint8_t *)src + m[i].offset, m[i].size);
    memcpy(dst, &dst_size, sizeof(dst_size));
    return 0;
}

int options_read_copy(lamina_read_options *dst, const lamina_read_options *src, const char *fn)
{
    lamina_read_options_init(dst);
    if (!src) return 0;
    return options_copy_members(dst, sizeof(*dst), src, read_members,
                                sizeof(read_members) / sizeof(read_members[0]),
                                "lamina_read_options", fn);
}

int options_write_copy(lamina_write_options *dst, const lamina_write_options *src, const char *fn)
{
    lamina_write_options_init(dst);
    if (!src) return 0;
    return options_copy_members(dst, sizeof(*dst), src, write_members,
                                sizeof(write_members) / sizeof(write_members[0]),
                                "lamina_write_options", fn);
}

/* Option index by name; '-' matches '_' so command-line spellings (--write-buffer-size) work. */
static int options_find(const char *name, size_t n, size_t *index)
{
    for (size_t i = 0; i < OPTIONS_COUNT; i++) {
        const char *t = options_desc[i].name;
        size_t j = 0;
        for (; j < n && t[j]; j++)
            if (t[j] != name[j] && !(t[j] == '_' && name[j] == '-')) break;
        if (j == n && !t[j]) {
            *index = i;
            return 1;
        }
    }
    return 0;
}

/* The k-th choice of "a|b|c": its start and length; 0 if there is none. */
static int options_choice(const char *choices, int64_t k, const char **s, size_t *n)
{
    const char *p = choices;
    for (int64_t i = 0; p; i++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (i == k) {
            *s = p;
            *n = len;
            return 1;
        }
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

static int options_eq_nocase(const char *a, const char *b, size_t bn)
{
    size_t i = 0;
    for (; i < bn && a[i]; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i])) return 0;
    return i == bn && !a[i];
}

/* Decimal with an optional k/m/g (binary) suffix; 0 or -1 for malformed / overflowing text. */
static int options_parse_int(const char *s, int64_t *out)
{
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    if (!isdigit((unsigned char)*p)) return -1;
    uint64_t v = 0;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    int shift = 0;
    switch (*p) {
    case 'k':
    case 'K':
        shift = 10;
        p++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        p++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        p++;
        break;
    default:
        break;
    }
    if (*p) return -1;
    if (shift && v > (UINT64_MAX >> shift)) return -1;
    v <<= shift;
    if (v > (uint64_t)INT64_MAX + (uint64_t)neg) return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static int options_parse_bool(const char *s, int64_t *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (options_eq_nocase(yes[i], s, strlen(s))) {
            *out = 1;
            return 0;
        }
        if (options_eq_nocase(no[i], s, strlen(s))) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int options_parse_enum(const lamina_option_desc *d, const char *s, int64_t *out)
{
    const char *c;
    size_t n;
    for (int64_t k = d->min; k <= d->max && options_choice(d->choices, k, &c, &n); k++) {
        if (n == strlen(s) && options_eq_nocase(s, c, n)) {
            *out = k;
            return 0;
        }
    }
    return options_parse_int(s, out);
}

/* Sets option i from text; the message says which option, what was given and what is allowed. */
static int options_set_index(lamina_options *o, size_t i, const char *value)
{
    const lamina_option_desc *d = &options_desc[i];
    int64_t v = 0;
    int bad;
    switch (d->kind) {
    case LAMINA_OPT_BOOL:
        bad = options_parse_bool(value, &v);
        break;
    case LAMINA_OPT_ENUM:
        bad = options_parse_enum(d, value, &v);
        break;
    default:
        bad = options_parse_int(value, &v);
        break;
    }
    if (!bad && v >= d->min && v <= d->max) {
        options_put(o, i, v);
        return 0;
    }
    switch (d->kind) {
    case LAMINA_OPT_BOOL:
        return err_set(LAMINA_EINVAL,
                       "option %s: \"%s\" is not a boolean (0/1, true/false, "
                       "yes/no, on/off)",
                       d->name, value);
    case LAMINA_OPT_ENUM:
        return err_set(LAMINA_EINVAL, "option %s: \"%s\" is not one of %s", d->name, value,
                       d->choices);
    default:
        return err_set(LAMINA_EINVAL, "option %s: \"%s\" is %s; allowed %" PRId64 "..%" PRId64 "%s",
                       d->name, value, bad ? "not a number" : "out of range", d->min, d->max,
                       d->kind == LAMINA_OPT_SIZE ? " (suffix k/m/g for KiB/MiB/GiB)" : "");
    }
}

LAMINA_API int lamina_options_set(lamina_options *opts, const char *name, const char *value)
{
    size_t i;
    if (!opts || !name || !value)
        return err_set(LAMINA_EINVAL, "lamina_options_set: NULL argument");
    if (!options_find(name, strlen(name), &i))
        return err_set(LAMINA_EINVAL, "unknown option \"%s\"", name);
    return options_set_index(opts, i, value);
}

int options_validate(const lamina_options *o)
{
    if (!o) return err_set(LAMINA_EINVAL, "options: NULL");
    if (o->struct_size < OPTIONS_MIN_STRUCT_SIZE)
        return err_set(LAMINA_EINVAL,
                       "options: struct_size %zu is smaller than %zu (fill the "
                       "struct with lamina_options_init)",
                       o->struct_size, (size_t)OPTIONS_MIN_STRUCT_SIZE);
    for (size_t i = 0; i < OPTIONS_COUNT; i++) {
        const lamina_option_desc *d = &options_desc[i];
        int64_t v = options_get(o, i);
        if (v < d->min || v > d->max)
            return err_set(LAMINA_EINVAL,
                           "option %s: %" PRId64 " is out of range; allowed %" PRId64 "..%" PRId64,
                           d->name, v, d->min, d->max);
    }
    if (o->level0_file_num_compaction_trigger > o->level0_slowdown_writes_trigger ||
        o->level0_slowdown_writes_trigger > o->level0_stop_writes_trigger)
        return err_set(LAMINA_EINVAL,
                       "options: level-0 triggers must be ordered "
                       "level0_file_num_compaction_trigger (%" PRId64 ") <= "
                       "level0_slowdown_writes_trigger (%" PRId64 ") <= "
                       "level0_stop_writes_trigger (%" PRId64 ")",
                       o->level0_file_num_compaction_trigger, o->level0_slowdown_writes_trigger,
                       o->level0_stop_writes_trigger);
    if (o->index_type == LAMINA_INDEX_FST && o->format_version < 2)
        return err_set(LAMINA_EINVAL, "options: index_type=fst needs format_version=2 (an FST "
                                      "orders its separators bytewise, as only format 2 writes "
                                      "them)");
    return 0;
}

int options_copy(lamina_options *dst, const lamina_options *src)
{
    lamina_options_init(dst);
    if (!src) return 0;
    if (src->struct_size < OPTIONS_MIN_STRUCT_SIZE) return options_validate(src);
    size_t n = src->struct_size < sizeof(*dst) ? src->struct_size : sizeof(*dst);
    memcpy(dst, src, n);
    dst->struct_size = sizeof(*dst);
    return options_validate(dst);
}

int options_value_text(const lamina_options *o, size_t i, char *out, size_t cap)
{
    const lamina_option_desc *d = &options_desc[i];
    int64_t v = options_get(o, i);
    const char *c;
    size_t n;
    int len;
    if (d->kind == LAMINA_OPT_ENUM && options_choice(d->choices, v, &c, &n))
        len = snprintf(out, cap, "%.*s", (int)n, c);
    else if (d->kind == LAMINA_OPT_BOOL)
        len = snprintf(out, cap, "%s", v ? "true" : "false");
    else
        len = snprintf(out, cap, "%" PRId64, v);
    return len < 0 ? 0 : len;
}

int options_format(const lamina_options *o, buf *out)
{
    for (size_t i = 0; i < OPTIONS_COUNT; i++) {
        char value[OPTIONS_TEXT_MAX], line[OPTIONS_TEXT_MAX * 2];
        options_value_text(o, i, value, sizeof(value));
        int len = snprintf(line, sizeof(line), "%s=%s\n", options_desc[i].name, value);
        if (buf_append(out, line, (size_t)len))
            return err_set(LAMINA_ENOMEM, "options: no memory to format");
    }
    return 0;
}

LAMINA_API int lamina_options_get(const lamina_options *opts, const char *name, char *out,
                                  size_t cap)
{
    size_t i;
    if (!opts || !name || !out || !cap)
        return err_set(LAMINA_EINVAL, "lamina_options_get: NULL argument");
    if (!options_find(name, strlen(name), &i))
        return err_set(LAMINA_EINVAL, "unknown option \"%s\"", name);
    if (opts->struct_size < options_fields[i].offset + options_fields[i].size)
        return err_set(LAMINA_EINVAL, "lamina_options_get: struct_size %zu does not hold %s",
                       opts->struct_size, name);
    if ((size_t)options_value_text(opts, i, out, cap) >= cap)
        return err_set(LAMINA_EINVAL, "lamina_options_get: %zu bytes cannot hold the value of %s",
                       cap, name);
    return 0;
}

/* Options that describe one open call, not the database: never loaded from its OPTIONS file. */
static const char *const options_per_open[] = {"create_if_missing", "error_if_exists"};
/* Options that change the shape of the tree or of new tables: a change is worth a LOG line
 * that says so, since the tree reshapes itself from then on. */
static const char *const options_structural[] = {
    "compaction_policy",        "size_ratio", "runs_per_level", "runs_last_level",
    "max_bytes_for_level_base", "num_levels", "index_type",     "memtable_type",
    "format_version",
};

static int options_in(const char *const *list, size_t n, size_t i)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(list[k], options_desc[i].name) == 0) return 1;
    return 0;
}

int options_is_per_open(size_t i)
{
    return options_in(options_per_open, sizeof(options_per_open) / sizeof(options_per_open[0]), i);
}

int options_is_structural(size_t i)
{
    return options_in(options_structural,
                      sizeof(options_structural) / sizeof(options_structural[0]), i);
}

int options_differ(const lamina_options *a, const lamina_options *b, size_t i)
{
    return options_get(a, i) != options_get(b, i);
}

int options_load_file(const char *file, lamina_options *o)
{
    uint8_t *text = NULL;
    size_t len = 0, hlen = sizeof(OPTIONS_FILE_HEADER) - 1;
    char why[400];
    lamina_options read;
    int rc = file_read_all(file, &text, &len);
    if (rc) return rc;
    if (len < hlen || memcmp(text, OPTIONS_FILE_HEADER, hlen) != 0) {
        mem_free(text);
        return err_set(LAMINA_ECORRUPT, "%s: not a Lamina OPTIONS file (no header line)", file);
    }
    /* Parsed over a copy, so that *o changes only when the whole file reads. */
    lamina_options_init(&read);
    memcpy(&read, o, sizeof(read));
    rc = options_parse_text(&read, text, len);
    mem_free(text);
    if (rc == 0) rc = options_validate(&read);
    if (rc) {
        snprintf(why, sizeof(why), "%s", err_message());
        return err_set(LAMINA_ECORRUPT, "%s: %s", file, why);
    }
    for (size_t i = 0; i < OPTIONS_COUNT; i++)
        if (!options_is_per_open(i)) options_put(o, i, options_get(&read, i));
    return 0;
}

/* [s, e) without surrounding blanks. */
static void options_trim(const uint8_t **s, const uint8_t **e)
{
    while (*s < *e && isspace(**s))
        (*s)++;
    while (*e > *s && isspace((*e)[-1]))
        (*e)--;
}

int options_parse_text(lamina_options *o, const uint8_t *text, size_t len)
{
    const uint8_t *p = text, *end = text + len;
    for (size_t line = 1; p < end; line++) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *s = p, *e = nl ? nl : end;
        p = nl ? nl + 1 : end;
        options_trim(&s, &e);
        if (s == e || *s == '#') continue;
        const uint8_t *eq = memchr(s, '=', (size_t)(e - s));
        if (!eq)
            return err_set(LAMINA_EINVAL, "options text line %zu: no '=' in \"%.*s\"", line,
                           (int)(e - s < OPTIONS_TEXT_MAX ? e - s : OPTIONS_TEXT_MAX), s);
        const uint8_t *ns = s, *ne = eq, *vs = eq + 1, *ve = e;
        options_trim(&ns, &ne);
        options_trim(&vs, &ve);
        size_t i;
        if (!options_find((const char *)ns, (size_t)(ne - ns), &i))
            return err_set(LAMINA_EINVAL, "options text line %zu: unknown option \"%.*s\"", line,
                           (int)(ne - ns < OPTIONS_TEXT_MAX ? ne - ns : OPTIONS_TEXT_MAX), ns);
        if (ve - vs >= OPTIONS_TEXT_MAX || memchr(vs, '\0', (size_t)(ve - vs)))
            return err_set(LAMINA_EINVAL, "options text line %zu: bad value of %s", line,
                           options_desc[i].name);
        char value[OPTIONS_TEXT_MAX];
        memcpy(value, vs, (size_t)(ve - vs));
        value[ve - vs] = '\0';
        int rc = options_set_index(o, i, value);
        if (rc) {
            char why[256];
            snprintf(why, sizeof(why), "%s", err_message());
            return err_set(rc, "options text line %zu: %s", line, why);
        }
    }
    return 0;
}
