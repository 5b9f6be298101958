/* kvctl.h — what kvctl's files share: the command context, the command table entry, the exit
 * statuses and the helpers for arguments, bytes and opening the database. kvctl is a program
 * over the public API only (include/lamina.h). Each file holds one group of commands and
 * exports its table (kv_*_commands, ended by an entry with a NULL name); main.c dispatches. */
#ifndef KVCTL_H
#define KVCTL_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lamina.h"

enum { EXIT_FOUND = 0, EXIT_NOTFOUND = 1, EXIT_USAGE = 2, EXIT_DBERR = 3 };

/* A byte string: from the command line a malloc'd copy its holder frees; in load, a view into
 * the current input line. */
typedef struct kv_bytes {
    char *p;
    size_t n;
} kv_bytes;

typedef struct kv_ctx {
    const char *db_path;
    int hex;
    /* --name=value pairs of the options table, applied in order after the command's defaults */
    const char **set_names;
    const char **set_values;
    size_t n_set;
    lamina_db *db;
    /* --escape-all: text output escapes every byte outside printable ASCII, UTF-8 included */
    int escape_all;
    /* shell: c->db stays open across commands; kv_open reuses it and kv_close leaves it open */
    int session;
} kv_ctx;

typedef struct kv_command {
    const char *name;
    const char *args;
    const char *summary;
    const char *details;
    int (*run)(kv_ctx *c, int argc, char **argv);
    int no_db; /* works on a file given as argument: --db is not needed */
} kv_command;

/* The command groups, each ended by an entry whose name is NULL. */
extern const kv_command kv_data_commands[];    /* data.c: put get del scan load dump count */
extern const kv_command kv_inspect_commands[]; /* inspect.c: stats files property approx-size
                                                  manifest-dump wal-dump sst-dump */
extern const kv_command kv_admin_commands[];   /* admin.c: flush compact check repair options */
extern const kv_command kv_shell_commands[];   /* shell.c: shell batch */
extern const kv_command kv_ops_commands[];     /* ops.c: checkpoint ingest sst-write */

/* main.c: messages, the command table, per-command flags */
const kv_command *kv_command_find(const char *name);
/* Prints "kvctl CMD: <fmt with arg>" and a hint on stderr; returns EXIT_USAGE. */
int kv_usage_error(const char *cmd, const char *fmt, const char *arg);
/* Prints the engine's error for rc (its message, else the database path); returns EXIT_DBERR. */
int kv_db_error(const kv_ctx *c, int rc);
void kv_command_help(const kv_command *cmd, FILE *f);
/* Parses a command's own flags (getopt_long from argv[1]); '?' and 'h' are handled here.
 * Returns the flag value, -1 at the end, or -2 - status when the command must exit. */
int kv_next_flag(const kv_command *cmd, int argc, char **argv, const struct option *lo);
/* A non-negative decimal count for a command flag; 0, or EXIT_USAGE (reported). */
int kv_parse_count(const char *cmd, const char *flag, const char *s, uint64_t *out);
/* Commands without flags of their own: accepts --help, and exactly `want` arguments. Returns
 * the index of the first argument, or -1 with *status set. */
int kv_simple_args(const char *name, int argc, char **argv, int want, int *status);
/* Commands whose only flag is --json (and --help): sets *json, then wants `want` arguments
 * (-1: any number). Returns the index of the first argument, or -1 with *status set. */
int kv_json_args(const char *name, int argc, char **argv, int want, int *json, int *status);

/* text.c: bytes in and out */
enum { KV_HEX_ODD = -1, KV_HEX_DIGIT = -2, KV_HEX_NOMEM = -3 };
/* Decodes n hex digits at s into a new buffer (out->p, freed by the caller). 0, or KV_HEX_ODD
 * (odd length), KV_HEX_DIGIT (a non-hex digit; *bad_at, if not NULL, gets its offset) or
 * KV_HEX_NOMEM. */
int kv_hex_decode(const char *s, size_t n, kv_bytes *out, size_t *bad_at);
/* Reports a failed kv_hex_decode of the NUL-terminated s, named `what` ("argument", ...), for
 * command cmd. Returns EXIT_USAGE. */
int kv_hex_error(const char *cmd, const char *what, const char *s, int rc, size_t bad_at);
/* A command-line key or value: raw bytes, or hex under --hex, into a malloc'd out->p the
 * caller frees. 0, or EXIT_USAGE (reported). */
int kv_arg_bytes(const kv_ctx *c, const char *cmd, const char *s, kv_bytes *out);
/* Writes bytes to stdout as hex (under --hex) or escaped (kv_escape, c->escape_all). */
void kv_print_bytes(const kv_ctx *c, const void *data, size_t n);
/* memcmp order, a shorter prefix first. */
int kv_compare(const void *a, size_t an, const void *b, size_t bn);

/* How load (and sst-write) read the fields of a line: dump's escapes, bytes as they are, or
 * hex. */
enum { KV_LOAD_ESCAPED, KV_LOAD_RAW, KV_LOAD_HEX };
/* text.c: decodes one field of an input line in place per mode (KV_LOAD_*: dump's escapes,
 * hex, or raw, which stays); name ("key", "value") and col0 (its offset in the line) go into
 * the message. 0, or -1 with the reason in why (cap bytes). load, sst-write and batch share it. */
int kv_decode_field(int mode, const char *name, char *s, size_t *n, size_t col0, char *why,
                    size_t cap);
/* data.c: reads the next line of in (getline into *line, *cap) without its newline and the CR
 * of a CRLF line, NUL-terminated, *n bytes. 1: a line; 0: end of input; -1: a read error,
 * reported on stderr as "kvctl CMD: reading 'PATH': ..." (load, sst-write and batch). */
int kv_next_line(FILE *in, char **line, size_t *cap, size_t *n, const char *cmd, const char *path);
/* data.c: load's input line (key<TAB>value, or a bare key with --keys whose value is its line
 * number, written to numbuf), split and decoded in place per mode; 0, or EXIT_USAGE (reported
 * with the line). */
int kv_load_line(int mode, char *line, size_t n, uint64_t line_no, int keys_mode, kv_bytes *k,
                 kv_bytes *v, char *numbuf, size_t numcap);

/* open.c: the database */
/* The options in force: the defaults, the command's create_if_missing, the database's OPTIONS
 * file (lamina_options_load), then the --name=value flags in order. 0, or EXIT_DBERR
 * (reported). */
int kv_options(kv_ctx *c, int create, lamina_options *opts);
/* Opens c->db_path into c->db; create: create it if missing. 0 or the exit status (reported). */
int kv_open(kv_ctx *c, int create);
/* Opens c->db_path read-only into c->db (lamina_open_read_only: no LOCK, writes nothing, so
 * it runs beside a writer and other readers). 0 or the exit status (reported). */
int kv_open_read_only(kv_ctx *c);
/* Closes the database; a close error turns a successful status into EXIT_DBERR. */
int kv_close(kv_ctx *c, int status);

/* The text form of bytes: \t \n \\ for tab, newline, backslash; printable ASCII and (unless
 * escape_all) well-formed UTF-8 other than C1 controls as is; every other byte as \xHH.
 * Writes into out, which must hold 4 * n bytes; returns the length written. */
size_t kv_escape(const void *data, size_t n, int escape_all, char *out);
/* The inverse of kv_escape (also accepts \xHH in capitals and for any byte): decodes n bytes at
 * s into out, which may be s itself (the result is never longer). 0 with *out_n set, or -1 with
 * *why (a static message) and *bad_at (offset of the bad backslash in s). */
int kv_unescape(const char *s, size_t n, char *out, size_t *out_n, const char **why,
                size_t *bad_at);
/* A key (is_key) or value over the engine's limit: EXIT_USAGE, reported for cmd; else 0. */
int kv_check_size(const char *cmd, int is_key, size_t n);

/* main.c: runs one command line (argv[0] is the command's name) as main does after the
 * global flags: --help, --hex and --escape-all among the command's words, then the command. */
int kv_run_command(kv_ctx *c, int argc, char **argv);

/* shell.c: splits a line into words as sh does (blanks separate; '...' literal; "..." with \
 * before \ " $ `; \ outside quotes takes the next character literally; # at a word's start
 * begins a comment). *words (NULL-terminated, *nwords of them) and the words are one malloc'd
 * block the caller frees. 0, or -1 with *why set (unterminated quote; out of memory). */
int kv_split_words(const char *line, char ***words, int *nwords, const char **why);

#endif
