/* open.c — opening and closing the database with the command line's options. */
#include <stdio.h>

#include "kvctl.h"

/* The options of the command line: the command's default for create_if_missing, then the
 * --name=value flags in order. 0, or EXIT_DBERR (reported). */
int kv_options(kv_ctx *c, int create, lamina_options *opts)
{
    lamina_options_init(opts);
    opts->create_if_missing = create;
    for (size_t i = 0; i < c->n_set; i++) {
        int rc = lamina_options_set(opts, c->set_names[i], c->set_values[i]);
        if (rc != LAMINA_OK) return kv_db_error(c, rc);
    }
    return 0;
}

int kv_open(kv_ctx *c, int create)
{
    if (c->session && c->db != NULL) return EXIT_FOUND; /* the shell's handle, opened once */
    lamina_options opts;
    int status = kv_options(c, create, &opts);
    if (status != 0) return status;
    int rc = lamina_open(c->db_path, &opts, &c->db);
    if (rc != LAMINA_OK) {
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
    return EXIT_FOUND;
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
