/* test_kvctl_options.c — kvctl keeps a database's options: every command loads its OPTIONS
 * file before applying its own flags, so a database loaded with --compaction_policy=tiered
 * stays tiered across plain commands, and `kvctl options` prints what is in force. */
#include <jansson.h>

#include "lamina.h"

#include "run.h"

TestSuite(kvctl_options, .init = kvr_setup, .fini = kvr_teardown, .timeout = 300);

/* The value `kvctl options` prints for name (static buffer), given extra flags before it. */
static const char *option_in_force(const char *name)
{
    static char value[128];
    char *out = kvr_ok("options");
    char key[80];
    snprintf(key, sizeof(key), "\n%s=", name);
    char *at = strstr(out, key);
    if (!at && strncmp(out, key + 1, strlen(key) - 1) == 0) at = out - 1;
    cr_assert_not_null(at, "options prints no %s:\n%s", name, out);
    at += strlen(key);
    snprintf(value, sizeof(value), "%.*s", (int)strcspn(at, "\n"), at);
    free(out);
    return value;
}

/* "k<i>\tv<i>" lines for i in [0, n). */
static const char *keys_file(int n)
{
    size_t cap = (size_t)n * 24 + 1, len = 0;
    char *text = malloc(cap);
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "k%06d\tv%d\n", i, i);
    const char *path = kvr_file("keys.txt", text);
    free(text);
    return path;
}

Test(kvctl_options, a_tiered_load_stays_tiered_across_plain_commands)
{
    free(kvr_ok("--compaction_policy=tiered", "--write_buffer_size=65536", "load",
                keys_file(20000)));
    cr_assert_str_eq(option_in_force("compaction_policy"), "tiered");
    const char *const plain[][4] = {
        {"put", "a", "1", NULL},           {"get", "a", NULL, NULL},
        {"count", NULL, NULL, NULL},       {"del", "a", NULL, NULL},
        {"flush", NULL, NULL, NULL},       {"compact", NULL, NULL, NULL},
        {"scan", "--limit=3", NULL, NULL}, {"stats", NULL, NULL, NULL},
        {"check", NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        kvr_result r =
            kvr((char *)plain[i][0], (char *)plain[i][1], (char *)plain[i][2], (char *)plain[i][3]);
        cr_assert_eq(r.status, 0, "kvctl %s: %s", plain[i][0], r.err);
        kvr_free(&r);
        cr_assert_str_eq(option_in_force("compaction_policy"), "tiered", "after kvctl %s",
                         plain[i][0]);
        cr_assert_str_eq(option_in_force("write_buffer_size"), "65536", "after kvctl %s",
                         plain[i][0]);
    }
    char *count = kvr_ok("count");
    cr_assert_str_eq(count, "20000\n");
    free(count);
}

Test(kvctl_options, a_flag_overrides_the_database_options_and_the_change_persists)
{
    free(kvr_ok("--compaction_policy=tiered", "put", "a", "1"));
    /* A flag of this command only: options shows it in force... */
    kvr_result r = kvr("--size_ratio=5", "options");
    cr_assert_eq(r.status, 0);
    cr_assert_not_null(strstr(r.out, "\nsize_ratio=5\n"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "\ncompaction_policy=tiered\n"), "%s", r.out);
    kvr_free(&r);
    /* ...and an open with it records it. */
    free(kvr_ok("--size_ratio=5", "--compaction_policy=leveled", "put", "b", "2"));
    cr_assert_str_eq(option_in_force("size_ratio"), "5");
    cr_assert_str_eq(option_in_force("compaction_policy"), "leveled");
    char path[200];
    snprintf(path, sizeof(path), "%s/LOG", kvr_db);
    char *log = kvr_read_file(path);
    const char *at = strstr(log, "option compaction_policy changed (structural");
    cr_assert_not_null(at, "the LOG tells of the change:\n%s", log);
    cr_assert_not_null(strstr(at, "tiered in OPTIONS-"), "%s", at);
    cr_assert_not_null(strstr(at, "now leveled"), "%s", at);
    free(log);
}

Test(kvctl_options, options_json_gives_typed_values)
{
    free(kvr_ok("--compaction_policy=dostoevsky", "--bloom_bits=7", "--use_io_uring=0", "put", "a",
                "1"));
    char *out = kvr_ok("options", "--json");
    json_error_t e;
    json_t *root = json_loads(out, 0, &e);
    cr_assert_not_null(root, "not JSON (%s): %s", e.text, out);
    cr_assert_str_eq(json_string_value(json_object_get(root, "compaction_policy")), "dostoevsky");
    cr_assert_eq(json_integer_value(json_object_get(root, "bloom_bits")), 7);
    cr_assert(json_is_false(json_object_get(root, "use_io_uring")));
    cr_assert(json_is_true(json_object_get(root, "paranoid_checks")));
    cr_assert_eq(json_object_size(root), lamina_options_count(), "every option of the table");
    json_decref(root);
    free(out);
}

Test(kvctl_options, options_of_a_missing_database_is_an_error)
{
    kvr_result r = kvr("options");
    cr_assert_eq(r.status, 3, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "no database"), "%s", r.err);
    kvr_free(&r);
    r = kvr("options", "extra");
    cr_assert_eq(r.status, 2);
    kvr_free(&r);
}
