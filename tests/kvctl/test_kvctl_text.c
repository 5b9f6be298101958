/* test_kvctl_text.c — kvctl's text form of bytes: kv_escape and kv_unescape are inverses over
 * random bytes (tools/kvctl/text.c, linked in), and through the built kvctl, `dump | load`
 * into a second database gives back the same bytes (`--hex dump` of both compared), for
 * 100,000 random binary keys and values and for a slice of the real paths in data/. */
#include <stdint.h>

#include "../../tools/kvctl/kvctl.h"
#include "kvctl_run.h"

/* text.c reports bad hex through main.c's kv_usage_error; the test has no main.c. */
int kv_usage_error(const char *cmd, const char *fmt, const char *arg)
{
    (void)cmd;
    (void)fmt;
    (void)arg;
    return EXIT_USAGE;
}

TestSuite(kvctl_text, .init = kvrun_setup, .fini = kvrun_teardown, .timeout = 120);

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Random bytes that hit every branch of the escape: the escaped ASCII bytes, controls, valid
 * and broken UTF-8 (cut sequences, overlong forms, surrogates, C1 controls), plain letters. */
static size_t random_bytes(uint64_t *s, unsigned char *out, size_t max)
{
    static const char *const pieces[] = {"\t",
                                         "\n",
                                         "\\",
                                         "\r",
                                         "\\x41",
                                         "\\t",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80",
                                         "\xc2\x85",
                                         "\xc0\x80",
                                         "\xed\xa0\x80",
                                         "\xf4\x90\x80\x80",
                                         "\xe2\x82",
                                         "\xff",
                                         "\x00",
                                         "a",
                                         "/usr/bin/"};
    size_t n = 0, want = rng(s) % (max + 1);
    while (n < want) {
        uint64_t r = rng(s);
        if (r % 3 == 0) {
            out[n++] = (unsigned char)(r >> 8);
        } else {
            const char *p = pieces[(r >> 8) % (sizeof pieces / sizeof pieces[0])];
            size_t len = p[0] == '\0' ? 1 : strlen(p);
            for (size_t i = 0; i < len && n < want; i++)
                out[n++] = (unsigned char)p[i];
        }
    }
    return n;
}

Test(kvctl_text, unescape_inverts_escape_on_random_bytes)
{
    uint64_t seed = 1;
    unsigned char in[80];
    char esc[4 * 80], back[4 * 80];
    for (int round = 0; round < 200000; round++) {
        size_t n = random_bytes(&seed, in, sizeof in), bn = 0, bad_at = 0;
        int all = round & 1;
        size_t en = kv_escape(in, n, all, esc);
        const char *why = NULL;
        /* the text form is one line without tabs: it fits load's key<TAB>value lines */
        for (size_t i = 0; i < en; i++) {
            unsigned char ch = (unsigned char)esc[i];
            cr_assert(ch >= 0x20 && ch != 0x7f, "round %d: byte 0x%02x in the output", round, ch);
            if (all) cr_assert(ch < 0x7f, "round %d: --escape-all left 0x%02x", round, ch);
        }
        cr_assert_eq(kv_unescape(esc, en, back, &bn, &why, &bad_at), 0, "round %d: %s at %zu",
                     round, why, bad_at);
        cr_assert_eq(bn, n, "round %d: %zu bytes back, want %zu", round, bn, n);
        cr_assert(memcmp(back, in, n) == 0, "round %d: bytes differ", round);
        /* in place, as load decodes */
        cr_assert_eq(kv_unescape(esc, en, esc, &bn, &why, &bad_at), 0);
        cr_assert(bn == n && memcmp(esc, in, n) == 0, "round %d: in place differs", round);
    }
}

static void expect_escape(const char *in, size_t n, int all, const char *want)
{
    char out[256];
    size_t on = kv_escape(in, n, all, out);
    out[on] = '\0';
    cr_expect_str_eq(out, want);
}

Test(kvctl_text, utf8_prints_as_is_and_everything_else_escapes)
{
    expect_escape("a\tb\nc\\", 6, 0, "a\\tb\\nc\\\\");
    expect_escape("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15, 0,
                  "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
    expect_escape("h\xc3\xa9", 3, 1, "h\\xc3\\xa9");
    expect_escape("\r\x7f\x00", 3, 0, "\\x0d\\x7f\\x00");
    /* C1 control, overlong NUL, surrogate, above U+10FFFF, cut sequence, lone continuation */
    expect_escape("\xc2\x85", 2, 0, "\\xc2\\x85");
    expect_escape("\xc0\x80", 2, 0, "\\xc0\\x80");
    expect_escape("\xed\xa0\x80", 3, 0, "\\xed\\xa0\\x80");
    expect_escape("\xf4\x90\x80\x80", 4, 0, "\\xf4\\x90\\x80\\x80");
    expect_escape("\xe2\x82", 2, 0, "\\xe2\\x82");
    expect_escape("\x80z", 2, 0, "\\x80z");
}

static void expect_unescape_error(const char *in, size_t want_at)
{
    char out[64];
    size_t on = 0, at = 99;
    const char *why = NULL;
    cr_expect_eq(kv_unescape(in, strlen(in), out, &on, &why, &at), -1, "'%s' decoded", in);
    cr_expect_eq(at, want_at, "'%s': bad escape at %zu, want %zu", in, at, want_at);
    cr_expect_not_null(why);
}

Test(kvctl_text, unescape_refuses_what_escape_never_writes)
{
    expect_unescape_error("ab\\", 2);
    expect_unescape_error("a\\qb", 1);
    expect_unescape_error("\\x4", 0);
    expect_unescape_error("xy\\xg0", 2);
    char out[8];
    size_t on = 0, at = 0;
    const char *why = NULL;
    cr_expect_eq(kv_unescape("\\x4A\\x4b", 8, out, &on, &why, &at), 0, "capital hex");
    cr_expect(on == 2 && memcmp(out, "JK", 2) == 0);
}

Test(kvctl_text, hex_errors_say_which_digit_or_odd_length)
{
    kv_bytes b;
    size_t at = 0;
    cr_expect_eq(kv_hex_decode("xyz1", 4, &b, &at), KV_HEX_DIGIT);
    cr_expect_eq(at, 0);
    cr_expect_eq(kv_hex_decode("abc", 3, &b, &at), KV_HEX_ODD);
    cr_expect_eq(kv_hex_decode("ab0g", 4, &b, &at), KV_HEX_DIGIT);
    cr_expect_eq(at, 3);
    cr_assert_eq(kv_hex_decode("6A0b", 4, &b, &at), 0);
    cr_expect(b.n == 2 && memcmp(b.p, "j\x0b", 2) == 0);
    free(b.p);
}

/* ---- through the built kvctl ------------------------------------------------------------ */

/* Loads the text file `dump_path` into a second database and expects its `--hex dump` to be
 * the first database's. */
static void expect_dump_load_round_trip(const char *db1)
{
    char db2[160], dump_path[192];
    snprintf(db2, sizeof db2, "%s/db2", kvrun_dir);
    snprintf(dump_path, sizeof dump_path, "%s/dump.txt", kvrun_dir);
    kvrun r = kvctl("--db", (char *)db1, "dump");
    cr_assert_eq(r.status, 0, "dump: %s", r.err);
    kvrun_write_file(dump_path, r.out, r.out_len);
    kvrun_free(&r);
    r = kvrun_argv(dump_path, (char *[]){"--db", db2, "load", "-", NULL});
    cr_assert_eq(r.status, 0, "load of dump's output: %s", r.err);
    kvrun_free(&r);
    char *a = kvctl_ok("--db", (char *)db1, "--hex", "dump");
    r = kvctl("--db", db2, "--hex", "dump");
    cr_assert_eq(r.status, 0, "dump: %s", r.err);
    cr_assert_gt(strlen(a), 0);
    cr_assert(strcmp(a, r.out) == 0, "the databases differ after dump | load");
    kvrun_free(&r);
    free(a);
}

Test(kvctl_text, the_issue_example_round_trips)
{
    char *out = kvctl_ok("--db", kvrun_db, "--hex", "put", "615c62", "7809");
    free(out);
    out = kvctl_ok("--db", kvrun_db, "dump");
    cr_expect_str_eq(out, "a\\\\b\tx\\t\n");
    free(out);
    expect_dump_load_round_trip(kvrun_db);
}

Test(kvctl_text, random_binary_keys_and_values_round_trip_through_dump_and_load)
{
    /* 100,000 random keys and values (empty ones included), loaded as hex */
    enum { N = 100000 };
    uint64_t seed = 7;
    size_t cap = (size_t)N * 2 * (2 * 48 + 2), n = 0;
    char *text = malloc(cap);
    unsigned char b[48];
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < N; i++) {
        for (int f = 0; f < 2; f++) {
            size_t len = random_bytes(&seed, b, f == 0 ? 24 : 48);
            for (size_t j = 0; j < len; j++) {
                text[n++] = digits[b[j] >> 4];
                text[n++] = digits[b[j] & 15];
            }
            text[n++] = f == 0 ? '\t' : '\n';
        }
    }
    const char *hex_path = kvrun_path("hex.txt");
    kvrun_write_file(hex_path, text, n);
    free(text);
    kvrun r =
        kvrun_argv(hex_path, (char *[]){"--db", kvrun_db, "--hex", "load", "--batch=10000", NULL});
    cr_assert_eq(r.status, 0, "hex load: %s", r.err);
    kvrun_free(&r);
    expect_dump_load_round_trip(kvrun_db);
}

Test(kvctl_text, real_paths_with_backslashes_and_utf8_round_trip)
{
    /* data/paths-1m.txt.xz holds 444 paths with a backslash or a byte outside ASCII (the ones
     * the old load changed): all of them, and every 100th path */
    const char *root = getenv("LAMINA_SOURCE_ROOT");
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "xz -dc '%s/data/paths-1m.txt.xz' | LC_ALL=C awk '/[\\\\\\200-\\377]/ || NR %% 100 "
             "== 0' > '%s/paths.txt'",
             root ? root : ".", kvrun_dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    const char *paths = kvrun_path("paths.txt");
    size_t len = 0;
    char *text = kvrun_read_file(paths, &len);
    cr_assert_gt(len, 100000, "the slice of data/paths-1m.txt.xz is missing");
    cr_assert_not_null(strstr(text, "\\x2d"), "no backslash path in the slice");
    free(text);
    kvrun r = kvrun_argv(paths, (char *[]){"--db", kvrun_db, "load", "--keys", NULL});
    cr_assert_eq(r.status, 0, "load --keys: %s", r.err);
    kvrun_free(&r);
    /* --keys takes names byte for byte: the path with a literal \x2d keeps it */
    char *out =
        kvctl_ok("--db", kvrun_db, "--hex", "scan", "--keys-only", "--prefix",
                 "2f6c69622f73797374656d642f73797374656d2f73797374656d2d73797374656d645c7832"
                 "64");
    cr_expect_gt(strlen(out), 0, "the path with \\x2d is not stored as written");
    free(out);
    expect_dump_load_round_trip(kvrun_db);
}

Test(kvctl_text, long_utf8_values_print_whole_across_output_pieces)
{
    /* 300 two-byte characters: the printer's 256-byte pieces must not split one */
    char hex[300 * 4 + 1];
    for (int i = 0; i < 300; i++)
        memcpy(hex + 4 * i, "c3a9", 4);
    hex[1200] = '\0';
    char *out = kvctl_ok("--db", kvrun_db, "--hex", "put", "6b", hex);
    free(out);
    out = kvctl_ok("--db", kvrun_db, "get", "k");
    cr_assert_eq(strlen(out), 601);
    for (int i = 0; i < 300; i++)
        cr_assert(memcmp(out + 2 * i, "\xc3\xa9", 2) == 0, "character %d is escaped", i);
    free(out);
    out = kvctl_ok("--db", kvrun_db, "--escape-all", "get", "k");
    cr_expect_eq(strlen(out), 300 * 8 + 1);
    cr_expect(strncmp(out, "\\xc3\\xa9", 8) == 0);
    free(out);
}

Test(kvctl_text, load_decodes_escapes_and_raw_keeps_them)
{
    char *out;
    kvrun r = kvctl_text("a\\tb\tv\\x00\\\\\n", "--db", kvrun_db, "load");
    cr_assert_eq(r.status, 0, "%s", r.err);
    kvrun_free(&r);
    out = kvctl_ok("--db", kvrun_db, "--hex", "dump");
    cr_expect_str_eq(out, "610962\t76005c\n");
    free(out);
    r = kvctl_text("c\\td\tv\\x00\n", "--db", kvrun_db, "load", "--raw");
    cr_assert_eq(r.status, 0, "%s", r.err);
    kvrun_free(&r);
    out = kvctl_ok("--db", kvrun_db, "get", "c\\td");
    cr_expect_str_eq(out, "v\\\\x00\n");
    free(out);
}
