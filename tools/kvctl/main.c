/* main.c — kvctl's entry: global flags (--db, --hex, the options table's --name=value), help,
 * per-command flag parsing and dispatch to the command groups of data.c, inspect.c, admin.c,
 * shell.c, ops.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvctl.h"

/* Long-option values of the table's options start here, above every short option. */
#define OPT_TABLE_BASE 1000

static const kv_command *const kv_groups[] = {kv_data_commands, kv_inspect_commands,
                                              kv_admin_commands, kv_shell_commands,
                                              kv_ops_commands};
#define KV_NGROUPS (sizeof kv_groups / sizeof kv_groups[0])

/* ---- messages ------------------------------------------------------------------------- */

int kv_usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "kvctl%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'kvctl %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return EXIT_USAGE;
}

int kv_db_error(const kv_ctx *c, int rc)
{
    const char *msg = lamina_errmsg(c->db);
    if (msg == NULL || msg[0] == '\0') msg = c->db_path;
    fprintf(stderr, "kvctl: %s: %s\n", lamina_strerror(rc), msg);
    return EXIT_DBERR;
}

static void kv_format_default(const lamina_option_desc *d, char *out, size_t cap)
{
    if (d->kind == LAMINA_OPT_ENUM) {
        /* the default is the index into "a|b|c" */
        const char *s = d->choices;
        for (int64_t i = 0; i < d->def && s != NULL; i++) {
            s = strchr(s, '|');
            if (s != NULL) s++;
        }
        size_t n = s ? strcspn(s, "|") : 0;
        snprintf(out, cap, "%.*s", (int)n, s ? s : "");
    } else if (d->kind == LAMINA_OPT_SIZE && d->def != 0 && d->def % (1 << 30) == 0) {
        snprintf(out, cap, "%" PRId64 "g", d->def >> 30);
    } else if (d->kind == LAMINA_OPT_SIZE && d->def != 0 && d->def % (1 << 20) == 0) {
        snprintf(out, cap, "%" PRId64 "m", d->def >> 20);
    } else if (d->kind == LAMINA_OPT_SIZE && d->def != 0 && d->def % (1 << 10) == 0) {
        snprintf(out, cap, "%" PRId64 "k", d->def >> 10);
    } else {
        snprintf(out, cap, "%" PRId64, d->def);
    }
}

static void kv_print_options(FILE *f)
{
    fprintf(f, "Database options (from the options table, given as --name=value):\n");
    for (size_t i = 0; i < lamina_options_count(); i++) {
        const lamina_option_desc *d = lamina_options_describe(i);
        if (d == NULL) break;
        char def[32], arg[96];
        kv_format_default(d, def, sizeof def);
        switch (d->kind) {
        case LAMINA_OPT_BOOL:
            snprintf(arg, sizeof arg, "--%s[=0|1]", d->name);
            break;
        case LAMINA_OPT_ENUM:
            snprintf(arg, sizeof arg, "--%s=%s", d->name, d->choices ? d->choices : "NAME");
            break;
        case LAMINA_OPT_SIZE:
            snprintf(arg, sizeof arg, "--%s=BYTES", d->name);
            break;
        default:
            snprintf(arg, sizeof arg, "--%s=N", d->name);
            break;
        }
        /* a long flag gets its description on the next line */
        if (strlen(arg) > 38)
            fprintf(f, "  %s\n  %-38s %s (default %s", arg, "", d->doc, def);
        else
            fprintf(f, "  %-38s %s (default %s", arg, d->doc, def);
        if (d->kind == LAMINA_OPT_INT || d->kind == LAMINA_OPT_SIZE)
            fprintf(f, ", range %" PRId64 "..%" PRId64, d->min, d->max);
        fprintf(f, ")\n");
    }
}

static const char kv_global_help[] =
    "Global options (before COMMAND):\n"
    "  --db=DIR                               the database directory (required)\n"
    "  --hex                                  keys and values are hex, in and out (may also\n"
    "                                         follow COMMAND)\n"
    "  --escape-all                           text output escapes UTF-8 too: \\xHH for every\n"
    "                                         byte outside printable ASCII\n"
    "  --help                                 this help; COMMAND --help for one command\n"
    "  --version                              print the library version\n";

static const char kv_exit_help[] =
    "Exit status: 0 ok, 1 key not found, 2 usage error or malformed input, 3 database error.\n";

/* ---- command option parsing ----------------------------------------------------------- */

void kv_command_help(const kv_command *cmd, FILE *f)
{
    fprintf(f, "Usage: kvctl %s[OPTION...] %s%s%s\n\n%s\n", cmd->no_db ? "" : "--db=DIR ",
            cmd->name, cmd->args[0] ? " " : "", cmd->args, cmd->summary);
    if (cmd->details[0]) fprintf(f, "\n%s", cmd->details);
    fprintf(f, "\n%s\n", kv_global_help);
    kv_print_options(f);
    fprintf(f, "\n%s", kv_exit_help);
}

/* Parses a command's own flags (getopt_long from argv[1]); '?' and 'h' are handled here.
 * Returns the flag value, -1 at the end, or -2 - status when the command must exit. */
int kv_next_flag(const kv_command *cmd, int argc, char **argv, const struct option *lo)
{
    int ch = getopt_long(argc, argv, "+h", lo, NULL);
    if (ch == 'h') {
        kv_command_help(cmd, stdout);
        return -2 - EXIT_FOUND;
    }
    if (ch == '?' || ch == ':') {
        fprintf(stderr, "Try 'kvctl %s --help'.\n", cmd->name);
        return -2 - EXIT_USAGE;
    }
    return ch;
}

/* A non-negative decimal count for a command flag; 0, or EXIT_USAGE (reported). */
int kv_parse_count(const char *cmd, const char *flag, const char *s, uint64_t *out)
{
    char *end, what[160];
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] == '-' || s[0] == '\0' || errno != 0 || *end != '\0') {
        snprintf(what, sizeof what, "%s needs a non-negative number, not '%.60s'", flag, s);
        return kv_usage_error(cmd, "%s", what);
    }
    *out = v;
    return 0;
}

/* Commands without flags of their own: accepts --help, and exactly `want` arguments. */
int kv_simple_args(const char *name, int argc, char **argv, int want, int *status)
{
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const kv_command *cmd = kv_command_find(name);
    int ch;
    while ((ch = kv_next_flag(cmd, argc, argv, lo)) != -1) {
        *status = ch <= -2 ? -2 - ch : EXIT_USAGE;
        return -1;
    }
    if (argc - optind != want) {
        /* the arguments are named as the command's help names them */
        char what[120];
        snprintf(what, sizeof what, "expects %s, %s",
                 want == 1 ? "one argument" : "two arguments", cmd->args);
        *status = kv_usage_error(name, "%s", want == 0 ? "takes no arguments" : what);
        return -1;
    }
    return optind;
}

/* Flags --json and --help only, then `want` arguments (-1: any number). Returns the index of
 * the first argument, or -1 with *status set. */
int kv_json_args(const char *name, int argc, char **argv, int want, int *json, int *status)
{
    static const struct option lo[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const kv_command *cmd = kv_command_find(name);
    int ch;
    *status = 0;
    while ((ch = kv_next_flag(cmd, argc, argv, lo)) != -1) {
        if (ch <= -2) {
            *status = -2 - ch;
            return -1;
        }
        if (ch == 'j') *json = 1;
    }
    if (want >= 0 && argc - optind != want) {
        *status = kv_usage_error(name, "%s", want == 0 ? "takes no arguments" : "expects NAME");
        return -1;
    }
    return optind;
}

/* ---- dispatch ------------------------------------------------------------------------- */

const kv_command *kv_command_find(const char *name)
{
    for (size_t g = 0; g < KV_NGROUPS; g++)
        for (const kv_command *cmd = kv_groups[g]; cmd->name != NULL; cmd++)
            if (strcmp(cmd->name, name) == 0) return cmd;
    return NULL;
}

static void kv_help(FILE *f)
{
    fprintf(f,
            "Usage: kvctl --db=DIR [OPTION...] COMMAND [ARGS]\n"
            "Command-line tool for a Lamina database (library %s).\n\nCommands:\n",
            lamina_version());
    for (size_t g = 0; g < KV_NGROUPS; g++)
        for (const kv_command *cmd = kv_groups[g]; cmd->name != NULL; cmd++)
            fprintf(f, "  %-13s %s\n", cmd->name, cmd->args);
    fprintf(
        f,
        "\nOutput is key<TAB>value per line; tab, newline and backslash print as \\t \\n"
        " \\\\,\nwell-formed UTF-8 as is, other bytes outside printable ASCII as \\xHH"
        " (--hex: all in\nhex); load reads that form back. Arguments on the command line"
        " are raw bytes\n(or hex under --hex). Without COMMAND on a terminal: the shell.\n\n%s\n",
        kv_global_help);
    kv_print_options(f);
    fprintf(f, "\n%s", kv_exit_help);
}

/* --db must name a directory (or nothing yet, for the commands that create one). */
static int kv_check_db_path(const char *path)
{
    struct stat st;
    if (path[0] == '\0') return kv_usage_error(NULL, "%s", "--db needs a directory name, not ''");
    if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode))
        return kv_usage_error(NULL, "--db '%s' is not a directory (a database is a directory)",
                              path);
    return 0;
}

int kv_run_command(kv_ctx *c, int argc, char **argv)
{
    const kv_command *cmd = kv_command_find(argv[0]);
    if (cmd == NULL) return kv_usage_error(NULL, "unknown command '%s'", argv[0]);
    char prog[32];
    snprintf(prog, sizeof prog, "kvctl %s", cmd->name);
    argv[0] = prog; /* getopt's messages then name the command */
    /* help needs no database; --hex and --escape-all are global flags a user may also write
     * after the command: they are taken out of its words (up to a "--") */
    int wants_help = 0, n = 1, end = 0;
    for (int i = 1; i < argc; i++) {
        if (!end && strcmp(argv[i], "--") == 0) end = 1;
        if (!end && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) wants_help = 1;
        if (!end && strcmp(argv[i], "--hex") == 0)
            c->hex = 1;
        else if (!end && strcmp(argv[i], "--escape-all") == 0)
            c->escape_all = 1;
        else
            argv[n++] = argv[i];
    }
    argc = n;
    argv[argc] = NULL;
    if (wants_help) {
        kv_command_help(cmd, stdout);
        return EXIT_FOUND;
    }
    if (!cmd->no_db) {
        if (c->db_path == NULL) return kv_usage_error(NULL, "%s", "--db=DIR is required");
        int status = kv_check_db_path(c->db_path);
        if (status != 0) return status;
    }
    optind = 0; /* glibc: 0 re-initialises getopt for the command's own flags */
    int status = cmd->run(c, argc, argv);
    if (status == EXIT_FOUND && fflush(stdout) != 0) {
        fprintf(stderr, "kvctl: writing output: %s\n", strerror(errno));
        status = EXIT_DBERR;
    }
    return status;
}

int main(int argc, char **argv)
{
    kv_ctx c = {0};
    size_t nopt = lamina_options_count();
    struct option *lo = calloc(nopt + 6, sizeof *lo);
    c.set_names = calloc(argc > 0 ? (size_t)argc : 1, sizeof *c.set_names);
    c.set_values = calloc(argc > 0 ? (size_t)argc : 1, sizeof *c.set_values);
    int status = EXIT_FOUND, ch;
    if (lo == NULL || c.set_names == NULL || c.set_values == NULL) {
        fprintf(stderr, "kvctl: out of memory\n");
        status = EXIT_DBERR;
        goto out;
    }
    if (argc > 0) argv[0] = "kvctl"; /* getopt's messages name the program, not its path */
    lo[0] = (struct option){"db", required_argument, NULL, 'd'};
    lo[1] = (struct option){"hex", no_argument, NULL, 'x'};
    lo[2] = (struct option){"help", no_argument, NULL, 'h'};
    lo[3] = (struct option){"version", no_argument, NULL, 'V'};
    lo[4] = (struct option){"escape-all", no_argument, NULL, 'e'};
    for (size_t i = 0; i < nopt; i++) {
        const lamina_option_desc *d = lamina_options_describe(i);
        int has = d->kind == LAMINA_OPT_BOOL ? optional_argument : required_argument;
        lo[5 + i] = (struct option){d->name, has, NULL, OPT_TABLE_BASE + (int)i};
    }
    while ((ch = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
        if (ch == 'd') {
            c.db_path = optarg;
        } else if (ch == 'x') {
            c.hex = 1;
        } else if (ch == 'e') {
            c.escape_all = 1;
        } else if (ch == 'h') {
            kv_help(stdout);
            goto out;
        } else if (ch == 'V') {
            printf("kvctl (lamina) %s\n", lamina_version());
            goto out;
        } else if (ch >= OPT_TABLE_BASE) {
            const char *name = lamina_options_describe((size_t)(ch - OPT_TABLE_BASE))->name;
            const char *value = optarg ? optarg : "1";
            lamina_options scratch;
            lamina_options_init(&scratch);
            if (lamina_options_set(&scratch, name, value) != LAMINA_OK) {
                const char *msg = lamina_errmsg(NULL);
                fprintf(stderr, "kvctl: bad value '%s' for --%s%s%s\n", value, name,
                        msg && msg[0] ? ": " : "", msg ? msg : "");
                fprintf(stderr, "Try 'kvctl --help'.\n");
                status = EXIT_USAGE;
                goto out;
            }
            c.set_names[c.n_set] = name;
            c.set_values[c.n_set++] = value;
        } else {
            fprintf(stderr, "Try 'kvctl --help'.\n");
            status = EXIT_USAGE;
            goto out;
        }
    }
    if (optind >= argc) {
        /* on a terminal, no command means the interactive shell */
        if (c.db_path != NULL && isatty(STDIN_FILENO)) {
            char shell[] = "shell";
            char *shell_argv[] = {shell, NULL};
            status = kv_run_command(&c, 1, shell_argv);
        } else {
            status = kv_usage_error(NULL, "%s", "missing COMMAND");
        }
        goto out;
    }
    status = kv_run_command(&c, argc - optind, argv + optind);
out:
    free(lo);
    free(c.set_names);
    free(c.set_values);
    return status;
}
