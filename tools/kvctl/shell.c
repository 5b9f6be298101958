/* shell.c — kvctl's interactive shell (every command without the `kvctl --db DIR` prefix, on one
 * open database; line editing and history through libedit) and `batch`, which applies a file
 * of put/del lines as one atomic write batch (LevelDB's WriteBatch through lamina_write). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "kvctl.h"

/* ---- words ---------------------------------------------------------------------------- */

int kv_split_words(const char *line, char ***words, int *nwords, const char **why)
{
    /* the words never outgrow the line, and there are at most len / 2 + 1 of them */
    size_t len = strlen(line), nmax = len / 2 + 2;
    char **w = malloc(nmax * sizeof *w + len + 1);
    if (w == NULL) {
        *why = "out of memory";
        return -1;
    }
    char *o = (char *)(w + nmax);
    const char *s = line;
    int n = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            s++;
        if (*s == '\0' || *s == '#') break;
        w[n++] = o;
        char quote = 0;
        for (; *s != '\0'; s++) {
            if (quote == '\'') {
                if (*s == '\'')
                    quote = 0;
                else
                    *o++ = *s;
            } else if (quote == '"') {
                if (*s == '"')
                    quote = 0;
                else if (*s == '\\' && strchr("\\\"$`", s[1]) != NULL && s[1] != '\0')
                    *o++ = *++s;
                else
                    *o++ = *s;
            } else if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
                break;
            } else if (*s == '\'' || *s == '"') {
                quote = *s;
            } else if (*s == '\\' && s[1] != '\0') {
                *o++ = *++s;
            } else {
                *o++ = *s;
            }
        }
        if (quote != 0) {
            free(w);
            *why = quote == '\'' ? "unterminated ' quote" : "unterminated \" quote";
            return -1;
        }
        *o++ = '\0';
    }
    w[n] = NULL;
    *words = w;
    *nwords = n;
    return 0;
}

/* ---- shell ---------------------------------------------------------------------------- */

/* The shell's commands (check, repair and shell excepted), then its own words: what help
 * lists and what tab completes as the first word. */
static const char *const kv_shell_words[] = {"put",   "get",     "del",   "scan",  "load",
                                             "dump",  "count",   "batch", "stats", "sst-dump",
                                             "flush", "compact", "help",  "quit",  NULL};

static char *kv_shell_complete_word(const char *text, int state)
{
    static size_t next;
    if (state == 0) next = 0;
    while (kv_shell_words[next] != NULL) {
        const char *w = kv_shell_words[next++];
        if (strncmp(w, text, strlen(text)) == 0) return strdup(w);
    }
    return NULL;
}

static char **kv_shell_complete(const char *text, int start, int end)
{
    (void)end;
    /* after the first word, no completion (keys are the user's; file names would mislead) */
    rl_attempted_completion_over = 1;
    if ((size_t)start > strspn(rl_line_buffer, " \t")) return NULL;
    return rl_completion_matches(text, kv_shell_complete_word);
}

static void kv_shell_help(void)
{
    printf("Commands (as on the command line, without `kvctl --db DIR`):\n");
    for (size_t i = 0; kv_shell_words[i] != NULL; i++) {
        const kv_command *cmd = kv_command_find(kv_shell_words[i]);
        if (cmd != NULL) printf("  %-13s %s\n", cmd->name, cmd->args);
    }
    printf("  help [COMMAND]    this list, or one command's help\n"
           "  quit              leave (also exit, or end of input)\n"
           "Words split as in sh: quote with '...' or \"...\", or a backslash. --hex and "
           "--escape-all\nmay be given per command. check and repair need the database "
           "closed: run them outside.\n");
}

/* Runs one line of the shell; returns its exit status, or -1 for quit. */
static int kv_shell_line(kv_ctx *c, const char *line)
{
    char **w = NULL;
    int n = 0, status = EXIT_FOUND;
    const char *why = NULL;
    if (kv_split_words(line, &w, &n, &why) != 0) {
        fprintf(stderr, "kvctl: %s\n", why);
        return EXIT_USAGE;
    }
    int hex = c->hex, escape_all = c->escape_all, at = 0;
    while (at < n && (strcmp(w[at], "--hex") == 0 || strcmp(w[at], "--escape-all") == 0)) {
        if (w[at][2] == 'h')
            c->hex = 1;
        else
            c->escape_all = 1;
        at++;
    }
    if (at == n) {
        /* an empty line, or flags alone */
    } else if (strcmp(w[at], "quit") == 0 || strcmp(w[at], "exit") == 0) {
        status = -1;
    } else if (strcmp(w[at], "help") == 0) {
        const kv_command *cmd = at + 1 < n ? kv_command_find(w[at + 1]) : NULL;
        if (at + 1 < n && cmd == NULL)
            status = kv_usage_error(NULL, "unknown command '%s'", w[at + 1]);
        else if (cmd != NULL)
            kv_command_help(cmd, stdout);
        else
            kv_shell_help();
    } else if (strcmp(w[at], "check") == 0 || strcmp(w[at], "repair") == 0 ||
               strcmp(w[at], "shell") == 0) {
        fprintf(stderr, "kvctl: %s does not run in the shell%s\n", w[at],
                w[at][0] == 's' ? "" : " (it needs the database closed): run it outside");
        status = EXIT_USAGE;
    } else {
        status = kv_run_command(c, n - at, w + at);
    }
    c->hex = hex;
    c->escape_all = escape_all;
    free(w);
    fflush(stdout);
    return status;
}

static int kv_cmd_shell(kv_ctx *c, int argc, char **argv)
{
    int status, at = kv_simple_args("shell", argc, argv, 0, &status);
    if (at < 0) return status;
    status = kv_open(c, 1);
    if (status != 0) return status;
    c->session = 1;
    int tty = isatty(STDIN_FILENO), last = EXIT_FOUND;
    char *line = NULL;
    size_t cap = 0;
    if (tty) {
        rl_readline_name = "kvctl"; /* the name ~/.editrc settings apply to */
        rl_attempted_completion_function = kv_shell_complete;
        using_history();
        printf("kvctl %s on %s: help lists the commands, quit leaves.\n", lamina_version(),
               c->db_path);
    }
    for (;;) {
        char *text;
        if (tty) {
            free(line);
            line = readline("kvctl> ");
            if (line == NULL) {
                putchar('\n');
                break;
            }
            if (line[strspn(line, " \t")] != '\0') add_history(line);
            text = line;
        } else {
            errno = 0;
            if (getline(&line, &cap, stdin) < 0) {
                if (ferror(stdin)) {
                    fprintf(stderr, "kvctl shell: reading standard input: %s\n", strerror(errno));
                    last = EXIT_USAGE;
                }
                break;
            }
            text = line;
        }
        int s = kv_shell_line(c, text);
        if (s == -1) break;
        /* a script learns that something failed: the status of the last command that did */
        if (s != EXIT_FOUND) last = s;
    }
    free(line);
    if (tty) clear_history();
    c->session = 0;
    return kv_close(c, last);
}

/* ---- batch ---------------------------------------------------------------------------- */

/* Adds one line (no newline) to the batch. 0; 1 for a blank or comment line; -1 with why. */
static int kv_batch_line(const kv_ctx *c, lamina_batch *b, char *line, size_t n, char *why,
                         size_t cap)
{
    if (n == 0 || line[0] == '#') return 1;
    int mode = c->hex ? KV_LOAD_HEX : KV_LOAD_ESCAPED;
    size_t op_len = strcspn(line, " \t");
    if (op_len == n) {
        snprintf(why, cap, "'%.40s' has no key (lines are put KEY VALUE or del KEY)", line);
        return -1;
    }
    char sep = line[op_len], *key = line + op_len + 1, *val = NULL;
    size_t kn = n - op_len - 1, vn = 0;
    int put = op_len == 3 && memcmp(line, "put", 3) == 0;
    int del = op_len == 3 && memcmp(line, "del", 3) == 0;
    if (!put && !del) {
        snprintf(why, cap, "unknown operation '%.*s' (put or del)",
                 (int)(op_len < 40 ? op_len : 40), line);
        return -1;
    }
    if (put) {
        /* the separator after the operation word separates key and value too */
        char *end = memchr(key, sep, kn);
        if (end == NULL) {
            snprintf(why, cap, "put needs a key and a value, separated by a %s",
                     sep == '\t' ? "tab" : "space");
            return -1;
        }
        val = end + 1;
        vn = kn - (size_t)(end - key) - 1;
        kn = (size_t)(end - key);
        if (kv_decode_field(mode, "value", val, &vn, (size_t)(val - line), why, cap) != 0)
            return -1;
    }
    if (kv_decode_field(mode, "key", key, &kn, op_len + 1, why, cap) != 0) return -1;
    if (kn > LAMINA_MAX_KEY_LEN || vn > LAMINA_MAX_VALUE_LEN) {
        snprintf(why, cap, "%s of %zu bytes is longer than the limit of %u bytes",
                 kn > LAMINA_MAX_KEY_LEN ? "key" : "value", kn > LAMINA_MAX_KEY_LEN ? kn : vn,
                 kn > LAMINA_MAX_KEY_LEN ? (unsigned)LAMINA_MAX_KEY_LEN
                                         : (unsigned)LAMINA_MAX_VALUE_LEN);
        return -1;
    }
    int rc = put ? lamina_batch_put(b, key, kn, val, vn) : lamina_batch_delete(b, key, kn);
    if (rc != LAMINA_OK) {
        snprintf(why, cap, "%s", lamina_strerror(rc));
        return -1;
    }
    return 0;
}

static int kv_cmd_batch(kv_ctx *c, int argc, char **argv)
{
    int status, at = kv_simple_args("batch", argc, argv, 1, &status);
    if (at < 0) return status;
    const char *path = argv[at];
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (in == NULL) {
        fprintf(stderr, "kvctl batch: cannot open '%s': %s\n", path, strerror(errno));
        return EXIT_USAGE;
    }
    lamina_batch *b = NULL;
    char *line = NULL, why[200];
    size_t cap = 0;
    uint64_t line_no = 0;
    int rc = lamina_batch_create(&b);
    if (rc != LAMINA_OK) {
        status = kv_db_error(c, rc);
        goto out;
    }
    /* every line first: a bad one leaves the database untouched */
    for (;;) {
        size_t n;
        int got = kv_next_line(in, &line, &cap, &n, "batch", path);
        if (got < 0) {
            status = EXIT_USAGE;
            goto out;
        }
        if (got == 0) break;
        line_no++;
        if (kv_batch_line(c, b, line, n, why, sizeof why) < 0) {
            fprintf(stderr, "kvctl batch: line %" PRIu64 ": %s; nothing was written\n", line_no,
                    why);
            status = EXIT_USAGE;
            goto out;
        }
    }
    status = kv_open(c, 1);
    if (status != 0) goto out;
    size_t ops = lamina_batch_count(b);
    rc = ops > 0 ? lamina_write(c->db, NULL, b) : LAMINA_OK;
    if (rc != LAMINA_OK) {
        status = kv_db_error(c, rc);
        goto out;
    }
    fprintf(stderr, "applied %zu operations\n", ops);
out:
    lamina_batch_destroy(b);
    free(line);
    if (in != stdin) fclose(in);
    return kv_close(c, status);
}

const kv_command kv_shell_commands[] = {
    {"shell", "",
     "Reads commands from standard input on one open database: line editing and history on a\n"
     "terminal, plain lines from a pipe (kvctl --db DIR with no command on a terminal too).",
     "Each line is a command as on the command line, without `kvctl --db DIR`, its words split\n"
     "as sh does ('...', \"...\", \\); help lists the commands, quit or end of input leaves.\n"
     "The exit status is that of the last command that failed, else 0. Creates the database\n"
     "if missing.\n",
     kv_cmd_shell, 0},
    {"batch", "FILE|-",
     "Applies lines `put KEY VALUE` and `del KEY` from FILE as one atomic write batch.",
     "The character after put or del (a space or a tab) separates the fields; the value is the\n"
     "rest of the line. Keys and values are escaped as dump writes them (\\t \\n \\\\ \\xHH), or\n"
     "hex under --hex; lines starting with # and blank lines are skipped; CRLF is accepted.\n"
     "A bad line changes nothing (exit status 2, naming the line). Creates the database if\n"
     "missing.\n",
     kv_cmd_batch, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
