/* test_kvctl_messages.c — kvctl says what is wrong, with the exit status of its class (2 usage
 * or malformed input, 3 database error): one test per message a user found wrong. */
#include "kvctl_run.h"

TestSuite(kvctl_messages, .init = kvrun_setup, .fini = kvrun_teardown, .timeout = 60);

/* Exit status want, nothing on stdout, and stderr containing `has`. */
static void expect_error(kvrun r, int want, const char *has, const char *what)
{
    cr_expect_eq(r.status, want, "%s: exit status %d, want %d (stderr: %s)", what, r.status, want,
                 r.err);
    cr_expect_not_null(strstr(r.err, has), "%s: stderr lacks '%s': %s", what, has, r.err);
    cr_expect_eq(r.out_len, 0, "%s: unexpected output: %s", what, r.out);
    kvrun_free(&r);
}

Test(kvctl_messages, hex_names_the_bad_digit_not_the_length)
{
    free(kvctl_ok("--db", kvrun_db, "put", "k", "v"));
    kvrun r = kvctl("--db", kvrun_db, "--hex", "get", "xyz1");
    cr_expect_null(strstr(r.err, "even number"), "%s", r.err);
    expect_error(r, 2, "'x' at offset 0 is not a hex digit", "--hex get xyz1");
    expect_error(kvctl("--db", kvrun_db, "--hex", "get", "abc"), 2, "odd number of hex digits",
                 "--hex get abc");
}

Test(kvctl_messages, empty_db_is_a_usage_error)
{
    expect_error(kvctl("--db", "", "get", "k"), 2, "--db needs a directory name", "--db ''");
    expect_error(kvctl("--db=", "put", "k", "v"), 2, "--db needs a directory name", "--db=");
}

Test(kvctl_messages, db_naming_a_file_says_so)
{
    const char *file = kvrun_path("plain-file");
    kvrun_write_file(file, "x", 1);
    kvrun r = kvctl("--db", (char *)file, "get", "k");
    cr_expect_null(strstr(r.err, "does not exist"), "%s", r.err);
    expect_error(r, 2, "is not a directory", "--db FILE get");
    expect_error(kvctl("--db", (char *)file, "put", "k", "v"), 2, "is not a directory",
                 "--db FILE put");
}

Test(kvctl_messages, hex_after_the_command_is_the_global_flag)
{
    free(kvctl_ok("--db", kvrun_db, "--hex", "put", "6b", "76"));
    char *out = kvctl_ok("--db", kvrun_db, "get", "6b", "--hex");
    cr_expect_str_eq(out, "76\n");
    free(out);
    out = kvctl_ok("--db", kvrun_db, "scan", "--prefix=6b", "--hex");
    cr_expect_str_eq(out, "6b\t76\n");
    free(out);
    /* after "--" it is a word like any other */
    kvrun r = kvctl("--db", kvrun_db, "get", "--", "--hex");
    cr_expect_eq(r.status, 1, "get -- --hex: %d %s", r.status, r.err);
    kvrun_free(&r);
}

Test(kvctl_messages, over_limit_key_is_malformed_input_everywhere)
{
    size_t n = 65536;
    char *key = malloc(n + 1);
    cr_assert_not_null(key);
    memset(key, 'k', n);
    key[n] = '\0';
    expect_error(kvctl("--db", kvrun_db, "put", key, "v"), 2,
                 "key of 65536 bytes is longer than the limit of 65535 bytes", "put");
    free(kvctl_ok("--db", kvrun_db, "put", "a", "1"));
    expect_error(kvctl("--db", kvrun_db, "get", key), 2, "longer than the limit", "get");
    expect_error(kvctl("--db", kvrun_db, "del", key), 2, "longer than the limit", "del");
    char *line = malloc(n + 4);
    cr_assert_not_null(line);
    memcpy(line, key, n);
    memcpy(line + n, "\tv\n", 4);
    expect_error(kvctl_text(line, "--db", kvrun_db, "load"), 2,
                 "line 1: key of 65536 bytes is longer than the limit of 65535 bytes", "load");
    free(line);
    line = malloc(n + 8);
    cr_assert_not_null(line);
    memcpy(line, "put ", 4);
    memset(line + 4, 'k', n);
    memcpy(line + 4 + n, " v\n", 4);
    expect_error(kvctl_text(line, "--db", kvrun_db, "batch", "-"), 2,
                 "line 1: key of 65536 bytes is longer than the limit of 65535 bytes", "batch");
    free(line);
    free(key);
}

Test(kvctl_messages, load_drops_the_cr_of_crlf_lines)
{
    kvrun r = kvctl_text("a\t1\r\nb\t2\r\n", "--db", kvrun_db, "load");
    cr_assert_eq(r.status, 0, "%s", r.err);
    kvrun_free(&r);
    char *out = kvctl_ok("--db", kvrun_db, "--hex", "dump");
    cr_expect_str_eq(out, "61\t31\n62\t32\n");
    free(out);
    r = kvctl_text("/x\r\n/y\r\n", "--db", kvrun_db, "load", "--keys");
    cr_assert_eq(r.status, 0, "%s", r.err);
    kvrun_free(&r);
    out = kvctl_ok("--db", kvrun_db, "get", "/y");
    cr_expect_str_eq(out, "2\n");
    free(out);
}

Test(kvctl_messages, load_names_the_line_and_column_of_a_bad_escape)
{
    expect_error(kvctl_text("a\t1\nb\\q\t2\n", "--db", kvrun_db, "load"), 2,
                 "line 2: key: bad escape at column 2: unknown escape", "load \\q");
    expect_error(kvctl_text("a\tv\\x4\n", "--db", kvrun_db, "load"), 2,
                 "line 1: value: bad escape at column 4: \\x needs two hex digits", "load \\x4");
    expect_error(kvctl_text("6g\t00\n", "--db", kvrun_db, "--hex", "load"), 2,
                 "line 1: key is not hex: 'g' at column 2", "--hex load");
}

Test(kvctl_messages, check_passes_with_an_empty_smallest_key)
{
    /* the empty key is the smallest: check walks it in the WAL and then in a table */
    free(kvctl_ok("--db", kvrun_db, "put", "", "empty"));
    free(kvctl_ok("--db", kvrun_db, "put", "a", "1"));
    char *out = kvctl_ok("--db", kvrun_db, "check");
    cr_expect_not_null(strstr(out, "ok: 2 keys"), "%s", out);
    free(out);
    free(kvctl_ok("--db", kvrun_db, "flush"));
    free(kvctl_ok("--db", kvrun_db, "put", "", "again"));
    out = kvctl_ok("--db", kvrun_db, "check");
    cr_expect_not_null(strstr(out, "ok: 2 keys"), "%s", out);
    free(out);
    out = kvctl_ok("--db", kvrun_db, "get", "");
    cr_expect_str_eq(out, "again\n");
    free(out);
}
