/* open.c — opening and closing the database with the options in force: the database's own
 * (its OPTIONS file) overridden by the command line's; read-only for the commands that only read.
 */
#include <stdio.h>

#include "kvctl.h"

/* The options in force: the defaults, the command's create_if_missing, the database's own
 * from its newest OPTIONS file (so a database keeps what it was built with, its compaction
 * policy among them), then the --name=value flags in order. 0, or EXIT_DBERR (reported). */
int kv_options(kv_ctx *c, int create, lamina_options *opts)
{
    lamina_options_init(opts);
    opts->create_if_missing = create;
    /* No OPTIONS file (no database yet, or a command without --db such as sst-write): the
     * defaults; the open says whether one is needed.
     * A damaged one must not stop check or repair: they go on with the defaults, saying so. */
    int rc = c->db_path ? lamina_options_load(c->db_path, opts) : LAMINA_ENOENT;
    if (rc == LAMINA_ECORRUPT)
        fprintf(stderr,
                "kvctl: warning: %s; the database's options are not loaded (the "
                "defaults and the flags apply)\n",
                lamina_errmsg(NULL));
    else if (rc != LAMINA_OK && rc != LAMINA_ENOENT)
        return kv_db_error(c, rc);
    for (size_t i = 0; i < c->n_set; i++) {
        rc = lamina_options_set(opts, c->set_names[i], c->set_values[i]);
        if (rc != LAMINA_OK) return kv_db_error(c, rc);
    }
    return 0;
}

/* Reports a failed open; a missing database gets the hint of which commands create one. */
static int kv_open_error(kv_ctx *c, int rc, int create)
{
    c->db = NULL;
    if (rc == LAMINA_ENOENT && !create) {
        const char *msg = lamina_errmsg(NULL);
        if (msg != NULL && msg[0] != '\0') return kv_db_error(c, rc);
        fprintf(stderr, "kvctl: %s: no database in '%s' (only put and load create one)\n",
                lamina_strerror(rc), c->db_path);
        return EXIT_DBERR;
    }
    return kv_db_error(c, rc);
}

int kv_open(kv_ctx *c, int create)
{
    if (c->session && c->db != NULL) return EXIT_FOUND; /* the shell's handle, opened once */
    lamina_options opts;
    int status = kv_options(c, create, &opts);
    if (status != 0) return status;
    int rc = lamina_open(c->db_path, &opts, &c->db);
    return rc == LAMINA_OK ? EXIT_FOUND : kv_open_error(c, rc, create);
}

int kv_open_read_only(kv_ctx *c)
{
    /* In the shell, reads go through the session's own handle: it sees the session's writes. */
    if (c->session && c->db != NULL) return EXIT_FOUND;
    lamina_options opts;
    int status = kv_options(c, 0, &opts);
    if (status != 0) return status;
    int rc = lamina_open_read_only(c->db_path, &opts, &c->db);
    return rc == LAMINA_OK ? EXIT_FOUND : kv_open_error(c, rc, 0);
}

/* Closes the database; a close error turns a successful status into EXIT_DBERR. */
int kv_close(kv_ctx *c, int status)
{
    if (c->db == NULL || c->session) return status;
    int rc = lamina_close(c->db);
    c->db = NULL;
    if (rc != LAMINA_OK) {
        fprintf(stderr, "kvctl: %s: %s\n", lamina_strerror(rc), lamina_errmsg(NULL));
        return status == EXIT_FOUND ? EXIT_DBERR : status;
    }
    return status;
}
