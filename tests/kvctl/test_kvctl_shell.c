/* test_kvctl_shell.c — `kvctl shell` fed from a pipe (commands as on the command line, words
 * split as sh does, one open database for the session) and `kvctl batch` (one atomic write
 * batch: a bad line changes nothing). */
#include <dirent.h>

#include "kvctl_run.h"

TestSuite(kvctl_shell, .init = kvrun_setup, .fini = kvrun_teardown, .timeout = 60);

/* Files in the database directory whose name ends in suffix. */
static int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "opendir %s", dir);
    struct dirent *de;
    int n = 0;
    size_t sl = strlen(suffix);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l >= sl && strcmp(de->d_name + l - sl, suffix) == 0) n++;
    }
    closedir(d);
    return n;
}

Test(kvctl_shell, commands_from_a_pipe_run_without_the_prefix)
{
    kvrun r = kvctl_text("put apple red\n"
                         "put pear green\n"
                         "get apple\n"
                         "\n"
                         "# a comment\n"
                         "scan --keys-only\n"
                         "count\n"
                         "del pear\n"
                         "dump\n",
                         "--db", kvrun_db, "shell");
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "red\napple\npear\n2\napple\tred\n");
    kvrun_free(&r);
}

Test(kvctl_shell, words_split_as_sh_does)
{
    kvrun r = kvctl_text("put 'two words' \"say \\\"hi\\\"\"\n"
                         "put a\\ b 'it''s'\n"
                         "get \"two words\"\n"
                         "get 'a b'\n"
                         "--hex get 612062\n"
                         "get 612062 --hex\n"
                         "get a\\ b # the comment is not a word\n",
                         "--db", kvrun_db, "shell");
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "say \"hi\"\nits\n697473\n697473\nits\n");
    kvrun_free(&r);
}

Test(kvctl_shell, the_database_is_opened_once_per_session)
{
    /* Every open of a database with a WAL writes that WAL into a level-0 table and rotates
     * LOG: a shell that reopened per command would leave tables and a LOG.old behind. */
    kvrun r =
        kvctl_text("put a 1\nput b 2\nget a\nput c 3\nget b\ncount\n", "--db", kvrun_db, "shell");
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "1\n2\n3\n");
    kvrun_free(&r);
    cr_expect_eq(count_files(kvrun_db, ".sst"), 0, "the shell reopened the database");
    cr_expect_eq(count_files(kvrun_db, "LOG.old"), 0, "the shell reopened the database");
    /* the same commands one process each do reopen it */
    free(kvctl_ok("--db", kvrun_db, "put", "d", "4"));
    cr_expect_eq(count_files(kvrun_db, ".sst"), 1);
}

Test(kvctl_shell, a_failed_command_is_reported_and_the_session_goes_on)
{
    kvrun r = kvctl_text("put a 1\nbogus\nget missing\nput 'unterminated\ncheck\nget a\n", "--db",
                         kvrun_db, "shell");
    cr_expect_str_eq(r.out, "1\n");
    cr_expect_not_null(strstr(r.err, "unknown command 'bogus'"), "%s", r.err);
    cr_expect_not_null(strstr(r.err, "key not found"), "%s", r.err);
    cr_expect_not_null(strstr(r.err, "unterminated ' quote"), "%s", r.err);
    cr_expect_not_null(strstr(r.err, "check does not run in the shell"), "%s", r.err);
    /* the status of the last command that failed: check's usage error */
    cr_expect_eq(r.status, 2);
    kvrun_free(&r);
}

Test(kvctl_shell, quit_ends_the_session_and_help_lists_the_commands)
{
    kvrun r = kvctl_text("help\nhelp get\nput a 1\nquit\nput b 2\n", "--db", kvrun_db, "shell");
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_not_null(strstr(r.out, "quit"), "%s", r.out);
    cr_expect_not_null(strstr(r.out, "Usage: kvctl --db=DIR [OPTION...] get KEY"), "%s", r.out);
    kvrun_free(&r);
    char *out = kvctl_ok("--db", kvrun_db, "dump");
    cr_expect_str_eq(out, "a\t1\n");
    free(out);
}

Test(kvctl_shell, batch_applies_every_line_at_once)
{
    free(kvctl_ok("--db", kvrun_db, "put", "old", "x"));
    kvrun r = kvctl_text("# escaped as dump writes them\n"
                         "put a\\tb 1\n"
                         "put\tkey with spaces\tvalue\twith tab\r\n"
                         "put e \n"
                         "put nul\\x00 two words\n"
                         "del old\n",
                         "--db", kvrun_db, "batch", "-");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_not_null(strstr(r.err, "applied 5 operations"), "%s", r.err);
    kvrun_free(&r);
    char *out = kvctl_ok("--db", kvrun_db, "dump");
    cr_expect_str_eq(out, "a\\tb\t1\n"
                          "e\t\n"
                          "key with spaces\tvalue\\twith tab\n"
                          "nul\\x00\ttwo words\n");
    free(out);
}

Test(kvctl_shell, a_bad_batch_line_changes_nothing)
{
    free(kvctl_ok("--db", kvrun_db, "put", "a", "1"));
    static const char *const bad[] = {"put b 2\ndel a\nput c\n", "put b 2\nmove a b\n",
                                      "put b 2\nput c\\q 3\n", "put b 2\ndel\n"};
    static const char *const why[] = {
        "line 3: put needs a key and a value", "line 2: unknown operation 'move'",
        "line 2: key: bad escape at column 6", "line 2: 'del' has no key"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kvrun r = kvctl_text(bad[i], "--db", kvrun_db, "batch", "-");
        cr_expect_eq(r.status, 2, "case %zu: %d %s", i, r.status, r.err);
        cr_expect_not_null(strstr(r.err, why[i]), "case %zu: %s", i, r.err);
        cr_expect_not_null(strstr(r.err, "nothing was written"), "case %zu: %s", i, r.err);
        kvrun_free(&r);
        char *out = kvctl_ok("--db", kvrun_db, "dump");
        cr_expect_str_eq(out, "a\t1\n", "case %zu changed the database", i);
        free(out);
    }
}

Test(kvctl_shell, batch_reads_hex_under_hex_and_runs_in_the_shell)
{
    const char *file = kvrun_path("ops.txt");
    kvrun_write_file(file, "put 00ff 0a\n", 12);
    free(kvctl_ok("--db", kvrun_db, "--hex", "batch", (char *)file));
    char line[256];
    /* in the shell --hex is per command: this batch reads the same file as text */
    snprintf(line, sizeof line, "batch %s\n--hex dump\n", file);
    kvrun r = kvctl_text(line, "--db", kvrun_db, "shell");
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "00ff\t0a\n30306666\t3061\n");
    kvrun_free(&r);
}
