/* test_options.c — the options table: defaults, the string setter for every option (valid and
 * invalid values), validation rules, the OPTIONS file text round trip, and the struct_size
 * rules of the read and write options. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "engine/options.h"
#include "util/err.h"

/* Reads a field by name, generated from the same table (independently of options.c). */
static int64_t get(const lamina_options *o, const char *n)
{
#define GET_(kind, ctype, name, def, lo, hi, names, doc)                                           \
    if (strcmp(n, #name) == 0) return (int64_t)o->name;
    LAMINA_OPTIONS_TABLE(GET_)
#undef GET_
    cr_assert_fail("no option %s", n);
    return 0;
}

Test(options, defaults_equal_the_table)
{
    lamina_options o;
    memset(&o, 0xab, sizeof(o));
    lamina_options_init(&o);
    cr_assert_eq(o.struct_size, sizeof(o));
    size_t n = 0;
#define CHECK_(kind, ctype, name, def, lo, hi, names, doc)                                         \
    cr_assert_eq((int64_t)o.name, (int64_t)(def), #name);                                          \
    n++;
    LAMINA_OPTIONS_TABLE(CHECK_)
#undef CHECK_
    cr_assert_eq(lamina_options_count(), n);
    cr_assert_null(lamina_options_describe(n));
    for (size_t i = 0; i < n; i++) {
        const lamina_option_desc *d = lamina_options_describe(i);
        cr_assert_not_null(d);
        cr_assert_eq(get(&o, d->name), d->def, "%s", d->name);
        cr_assert(d->min <= d->def && d->def <= d->max, "%s default out of its range", d->name);
        cr_assert_eq(d->choices != NULL, d->kind == LAMINA_OPT_ENUM, "%s", d->name);
        cr_assert_not_null(d->doc);
    }
    cr_assert_eq(options_validate(&o), 0, "%s", err_message());
    cr_assert_eq(o.write_buffer_size, 64ll << 20);
    cr_assert_eq(o.compression_type, LAMINA_COMPRESSION_ZSTD);
}

Test(options, read_and_write_option_defaults)
{
    lamina_read_options ro;
    lamina_write_options wo;
    lamina_read_options_init(&ro);
    lamina_write_options_init(&wo);
    cr_assert_eq(ro.struct_size, sizeof(ro));
    cr_assert_null(ro.snapshot);
    cr_assert_eq(ro.verify_checksums, 1);
    cr_assert_eq(ro.fill_cache, 1);
    cr_assert_null(ro.lower_bound);
    cr_assert_null(ro.upper_bound);
    cr_assert_eq(wo.struct_size, sizeof(wo));
    cr_assert_eq(wo.sync, 0);
    cr_assert_eq(wo.disable_wal, 0);
}

static void set_ok(lamina_options *o, const char *name, const char *value, int64_t want)
{
    int rc = lamina_options_set(o, name, value);
    cr_assert_eq(rc, 0, "%s=%s: %s", name, value, err_message());
    cr_assert_eq(get(o, name), want, "%s=%s gave %" PRId64, name, value, get(o, name));
}

static void set_bad(lamina_options *o, const char *name, const char *value, const char *says)
{
    lamina_options before = *o;
    cr_assert_eq(lamina_options_set(o, name, value), LAMINA_EINVAL, "%s=%s accepted", name, value);
    cr_assert_not_null(strstr(err_message(), name), "message: %s", err_message());
    if (says) cr_assert_not_null(strstr(err_message(), says), "message: %s", err_message());
    cr_assert_eq(memcmp(&before, o, sizeof(before)), 0, "%s changed by a bad value", name);
}

Test(options, read_options_copy_takes_only_fields_within_struct_size)
{
    lamina_read_options src, dst;
    memset(&src, 0x5a, sizeof(src));
    src.verify_checksums = 0;
    src.fill_cache = 0;
    src.snapshot = NULL;
    /* A struct_size cutting fill_cache in two: fill_cache keeps its default. */
    src.struct_size = offsetof(lamina_read_options, fill_cache) + 2;
    cr_assert_eq(options_read_copy(&dst, &src, "t"), 0, "%s", err_message());
    cr_assert_eq(dst.struct_size, sizeof(dst));
    cr_assert_eq(dst.verify_checksums, 0);
    cr_assert_eq(dst.fill_cache, 1);
    cr_assert_null(dst.lower_bound);
    cr_assert_null(dst.upper_bound);
    /* The whole struct, and a larger one, copy every field. */
    src.struct_size = sizeof(src);
    cr_assert_eq(options_read_copy(&dst, &src, "t"), 0);
    cr_assert_eq(memcmp(&dst, &src, sizeof(dst)), 0);
    src.struct_size = sizeof(src) + 64;
    cr_assert_eq(options_read_copy(&dst, &src, "t"), 0);
    cr_assert_eq(dst.struct_size, sizeof(dst));
    cr_assert_eq(dst.lower_bound, src.lower_bound);
    cr_assert_eq(dst.upper_bound_len, src.upper_bound_len);
    /* NULL: the defaults. 0 or cut before snapshot: refused, naming the caller. */
    cr_assert_eq(options_read_copy(&dst, NULL, "t"), 0);
    cr_assert_eq(dst.verify_checksums, 1);
    src.struct_size = 0;
    cr_assert_eq(options_read_copy(&dst, &src, "lamina_get"), LAMINA_EINVAL);
    cr_assert_not_null(strstr(err_message(), "lamina_get"), "%s", err_message());
    cr_assert_not_null(strstr(err_message(), "struct_size 0"), "%s", err_message());
    src.struct_size = offsetof(lamina_read_options, snapshot) + sizeof(src.snapshot) - 1;
    cr_assert_eq(options_read_copy(&dst, &src, "t"), LAMINA_EINVAL);
}

Test(options, write_options_copy_takes_only_fields_within_struct_size)
{
    lamina_write_options src, dst;
    memset(&src, 0x5a, sizeof(src));
    src.sync = 1;
    src.struct_size = offsetof(lamina_write_options, disable_wal);
    cr_assert_eq(options_write_copy(&dst, &src, "t"), 0, "%s", err_message());
    cr_assert_eq(dst.struct_size, sizeof(dst));
    cr_assert_eq(dst.sync, 1);
    cr_assert_eq(dst.disable_wal, 0);
    src.struct_size = sizeof(src) + 8;
    cr_assert_eq(options_write_copy(&dst, &src, "t"), 0);
    cr_assert_eq(dst.disable_wal, src.disable_wal);
    src.struct_size = 0;
    cr_assert_eq(options_write_copy(&dst, &src, "lamina_put"), LAMINA_EINVAL);
    cr_assert_not_null(strstr(err_message(), "lamina_write_options"), "%s", err_message());
    src.struct_size = offsetof(lamina_write_options, sync) + sizeof(int) - 1;
    cr_assert_eq(options_write_copy(&dst, &src, "t"), LAMINA_EINVAL);
}

Test(options, every_option_is_settable_by_name)
{
    lamina_options o;
    lamina_options_init(&o);
    for (size_t i = 0; i < lamina_options_count(); i++) {
        const lamina_option_desc *d = lamina_options_describe(i);
        char v[64], range[96];
        if (d->kind == LAMINA_OPT_BOOL) {
            static const char *const yes[] = {"1", "true", "TRUE", "yes", "on"};
            static const char *const no[] = {"0", "false", "False", "no", "off"};
            for (size_t k = 0; k < 5; k++) {
                set_ok(&o, d->name, yes[k], 1);
                set_ok(&o, d->name, no[k], 0);
            }
            set_bad(&o, d->name, "2", "boolean");
            set_bad(&o, d->name, "maybe", "boolean");
            set_bad(&o, d->name, "", NULL);
        } else if (d->kind == LAMINA_OPT_ENUM) {
            const char *c = d->choices;
            for (int64_t k = d->min; k <= d->max; k++) {
                const char *bar = strchr(c, '|');
                size_t n = bar ? (size_t)(bar - c) : strlen(c);
                snprintf(v, sizeof(v), "%.*s", (int)n, c);
                set_ok(&o, d->name, v, k);
                snprintf(v, sizeof(v), "%" PRId64, k);
                set_ok(&o, d->name, v, k);
                c = bar ? bar + 1 : c + n;
            }
            set_bad(&o, d->name, "bogus", d->choices);
            snprintf(v, sizeof(v), "%" PRId64, d->max + 1);
            set_bad(&o, d->name, v, d->choices);
        } else {
            snprintf(range, sizeof(range), "%" PRId64 "..%" PRId64, d->min, d->max);
            snprintf(v, sizeof(v), "%" PRId64, d->min);
            set_ok(&o, d->name, v, d->min);
            snprintf(v, sizeof(v), "%" PRId64, d->max);
            set_ok(&o, d->name, v, d->max);
            snprintf(v, sizeof(v), "%" PRId64, d->min - 1);
            set_bad(&o, d->name, v, range);
            snprintf(v, sizeof(v), "%" PRId64, d->max + 1);
            set_bad(&o, d->name, v, range);
            set_bad(&o, d->name, "abc", range);
            set_bad(&o, d->name, "12x", NULL);
            set_bad(&o, d->name, "", NULL);
            set_bad(&o, d->name, "1 ", NULL);
            set_bad(&o, d->name, "99999999999999999999999", NULL);
        }
        /* Back to the default, by its text. */
        lamina_options def;
        lamina_options_init(&def);
        cr_assert_eq(get(&def, d->name), d->def);
    }
}

Test(options, sizes_take_binary_suffixes_and_negative_ints_where_allowed)
{
    lamina_options o;
    lamina_options_init(&o);
    set_ok(&o, "write_buffer_size", "64k", 64 << 10);
    set_ok(&o, "write_buffer_size", "3M", 3 << 20);
    set_ok(&o, "write_buffer_size", "1g", 1 << 30);
    set_bad(&o, "write_buffer_size", "2G", "65536..1073741824");
    set_bad(&o, "write_buffer_size", "64kb", NULL);
    set_bad(&o, "write_buffer_size", "k", NULL);
    set_ok(&o, "cache_size", "0", 0);
    set_ok(&o, "target_file_size_base", "4G", 4ll << 30);
    set_ok(&o, "zstd_level", "-7", -7);
    set_ok(&o, "zstd_level", "+3", 3);
    set_bad(&o, "zstd_level", "-8", "-7..22");
    set_bad(&o, "size_ratio", "-5", "2..100");
    set_bad(&o, "size_ratio", "9223372036854775807k", NULL);
    set_ok(&o, "compaction_policy", "Tiered", LAMINA_COMPACTION_TIERED);
    set_ok(&o, "compression_type", "none", LAMINA_COMPRESSION_NONE);
}

Test(options, unknown_names_are_refused)
{
    lamina_options o;
    lamina_options_init(&o);
    cr_assert_eq(lamina_options_set(&o, "no_such_option", "1"), LAMINA_EINVAL);
    cr_assert_not_null(strstr(err_message(), "no_such_option"));
    cr_assert_eq(lamina_options_set(&o, "write_buffer", "1"), LAMINA_EINVAL);
    cr_assert_eq(lamina_options_set(&o, "write_buffer_size_", "1"), LAMINA_EINVAL);
    cr_assert_eq(lamina_options_set(&o, "", "1"), LAMINA_EINVAL);
    cr_assert_eq(lamina_options_set(&o, NULL, "1"), LAMINA_EINVAL);
    cr_assert_eq(lamina_options_set(&o, "num_levels", NULL), LAMINA_EINVAL);
    /* Command-line spelling with dashes names the same option. */
    cr_assert_eq(lamina_options_set(&o, "num-levels", "5"), 0);
    cr_assert_eq(o.num_levels, 5);
}

Test(options, validation_checks_ranges_and_cross_field_rules)
{
    lamina_options o;
    lamina_options_init(&o);
    cr_assert_eq(options_validate(&o), 0);
    o.level0_slowdown_writes_trigger = 3; /* below the compaction trigger (4) */
    cr_assert_eq(options_validate(&o), LAMINA_EINVAL);
    cr_assert_not_null(strstr(err_message(), "level0_slowdown_writes_trigger"));
    lamina_options_init(&o);
    o.level0_stop_writes_trigger = 7; /* below the slowdown trigger (8) */
    cr_assert_eq(options_validate(&o), LAMINA_EINVAL);
    lamina_options_init(&o);
    o.level0_file_num_compaction_trigger = 12;
    o.level0_slowdown_writes_trigger = 12;
    cr_assert_eq(options_validate(&o), 0);
    lamina_options_init(&o);
    o.num_levels = 1;
    cr_assert_eq(options_validate(&o), LAMINA_EINVAL);
    cr_assert_not_null(strstr(err_message(), "num_levels"));
    lamina_options_init(&o);
    o.paranoid_checks = 2;
    cr_assert_eq(options_validate(&o), LAMINA_EINVAL);
    lamina_options_init(&o);
    o.compaction_policy = 4;
    cr_assert_eq(options_validate(&o), LAMINA_EINVAL);
    lamina_options_init(&o);
    o.struct_size = sizeof(o) - 8;
    cr_assert_eq(options_validate(&o), LAMINA_EINVAL);
    cr_assert_not_null(strstr(err_message(), "struct_size"));
}

Test(options, copy_fills_defaults_and_validates)
{
    lamina_options o, src;
    cr_assert_eq(options_copy(&o, NULL), 0);
    lamina_options_init(&src);
    cr_assert_eq(memcmp(&o, &src, sizeof(o)), 0);
    src.bloom_bits = 20;
    cr_assert_eq(options_copy(&o, &src), 0);
    cr_assert_eq(o.bloom_bits, 20);
    src.struct_size = 4;
    cr_assert_eq(options_copy(&o, &src), LAMINA_EINVAL);
    lamina_options_init(&src);
    src.size_ratio = 1;
    cr_assert_eq(options_copy(&o, &src), LAMINA_EINVAL);
}

Test(options, format_then_parse_round_trips)
{
    lamina_options o, back;
    lamina_options_init(&o);
    /* Every option away from its default where its range allows. */
    for (size_t i = 0; i < lamina_options_count(); i++) {
        const lamina_option_desc *d = lamina_options_describe(i);
        char v[32];
        snprintf(v, sizeof(v), "%" PRId64, d->def < d->max ? d->max : d->min);
        cr_assert_eq(lamina_options_set(&o, d->name, v), 0, "%s", err_message());
    }
    o.zstd_level = -3;
    buf text = {0};
    cr_assert_eq(options_format(&o, &text), 0);
    cr_assert_not_null(memmem(text.data, text.len, "compaction_policy=none\n", 23));
    cr_assert_not_null(memmem(text.data, text.len, "zstd_level=-3\n", 14));
    cr_assert_not_null(memmem(text.data, text.len, "create_if_missing=true\n", 23));
    lamina_options_init(&back);
    cr_assert_eq(options_parse_text(&back, text.data, text.len), 0, "%s", err_message());
    cr_assert_eq(memcmp(&o, &back, sizeof(o)), 0);

    /* Comments, blank lines, CRLF and spaces around '=' are accepted. */
    const char *hand = "# written by hand\r\n\n  num_levels = 4\r\n#zstd_level=bogus\nbloom_bits=7";
    lamina_options_init(&back);
    cr_assert_eq(options_parse_text(&back, (const uint8_t *)hand, strlen(hand)), 0, "%s",
                 err_message());
    cr_assert_eq(back.num_levels, 4);
    cr_assert_eq(back.bloom_bits, 7);
    cr_assert_eq(back.zstd_level, 1);
    buf_free(&text);
}

Test(options, bad_options_text_is_refused_naming_the_line)
{
    lamina_options o;
    lamina_options_init(&o);
    const char *unknown = "num_levels=4\nwarp_speed=9\n";
    cr_assert_eq(options_parse_text(&o, (const uint8_t *)unknown, strlen(unknown)), LAMINA_EINVAL);
    cr_assert_not_null(strstr(err_message(), "line 2"), "%s", err_message());
    cr_assert_not_null(strstr(err_message(), "warp_speed"));
    const char *noeq = "num_levels 4\n";
    cr_assert_eq(options_parse_text(&o, (const uint8_t *)noeq, strlen(noeq)), LAMINA_EINVAL);
    const char *badval = "\n\nbloom_bits=65\n";
    cr_assert_eq(options_parse_text(&o, (const uint8_t *)badval, strlen(badval)), LAMINA_EINVAL);
    cr_assert_not_null(strstr(err_message(), "line 3"), "%s", err_message());
    cr_assert_not_null(strstr(err_message(), "bloom_bits"));
    const char nul[] = "bloom_bits=6\0\n";
    cr_assert_eq(options_parse_text(&o, (const uint8_t *)nul, sizeof(nul) - 1), LAMINA_EINVAL);
}
