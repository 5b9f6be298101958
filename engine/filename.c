/* filename.c — the names of a database's files: "NNNNNN.sst", "NNNNNN.log", "MANIFEST-NNNNNN",
 * "OPTIONS-NNNNNN", "NNNNNN.dbtmp", the fixed names and the info log's history
 * ("LOG.old.<microseconds>"), and parsing them back from directory
 * entries (after LevelDB's filename.cc). */
#include "engine/filename.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"
#include "util/file.h"

void db_file_name(char *out, size_t cap, const char *dir, uint64_t number, const char *ext)
{
    snprintf(out, cap, "%s/%06" PRIu64 ".%s", dir, number, ext);
}

int db_parse_number(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 19) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 1;
}

/* "<digits>.<ext>" */
static int parse_numbered(const char *name, size_t n, const char *ext, uint64_t *number)
{
    size_t m = strlen(ext);
    return n > m + 1 && name[n - m - 1] == '.' && strcmp(name + n - m, ext) == 0 &&
           db_parse_number(name, n - m - 1, number);
}

int db_parse_file_name(const char *name, uint64_t *number, char *kind)
{
    size_t n = strlen(name);
    *number = 0;
    if (strncmp(name, "MANIFEST-", 9) == 0 && db_parse_number(name + 9, n - 9, number)) {
        *kind = 'm';
        return 1;
    }
    if (strncmp(name, "OPTIONS-", 8) == 0 && db_parse_number(name + 8, n - 8, number)) {
        *kind = 'o';
        return 1;
    }
    static const struct {
        const char *ext;
        char kind;
    } numbered[] = {{"log", 'l'}, {"sst", 't'}, {DB_TEMP_EXT, 'x'}};
    for (size_t i = 0; i < sizeof(numbered) / sizeof(numbered[0]); i++)
        if (parse_numbered(name, n, numbered[i].ext, number)) {
            *kind = numbered[i].kind;
            return 1;
        }
    *number = 0;
    return 0;
}

int db_parse_old_log(const char *name, uint64_t *micros)
{
    size_t n = strlen(name), m = strlen(DB_OLD_LOG);
    *micros = 0;
    if (strcmp(name, DB_OLD_LOG) == 0) return 1;
    return n > m + 1 && strncmp(name, DB_OLD_LOG ".", m + 1) == 0 &&
           db_parse_number(name + m + 1, n - m - 1, micros);
}

int db_is_fixed_name(const char *name)
{
    uint64_t micros;
    return strcmp(name, "CURRENT") == 0 || strcmp(name, "LOCK") == 0 || strcmp(name, "LOG") == 0 ||
           db_parse_old_log(name, &micros);
}

int db_is_foreign_marker(const char *name)
{
    size_t n = strlen(name);
    return strcmp(name, "IDENTITY") == 0 || (n > 4 && strcmp(name + n - 4, ".ldb") == 0);
}

int db_move_to_lost(const char *dir, const char *name)
{
    char lost[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
    if ((size_t)snprintf(lost, sizeof(lost), "%s/" DB_LOST_DIR, dir) >= sizeof(lost) ||
        (size_t)snprintf(from, sizeof(from), "%s/%s", dir, name) >= sizeof(from))
        return err_set(LAMINA_EINVAL, "%s/%s: path too long", dir, name);
    int rc = dir_create(lost);
    if (rc) return rc;
    for (unsigned i = 0;; i++) {
        int n = i ? snprintf(to, sizeof(to), "%s/%s.%u", lost, name, i)
                  : snprintf(to, sizeof(to), "%s/%s", lost, name);
        if (n < 0 || (size_t)n >= sizeof(to) || i > 9999)
            return err_set(LAMINA_EINVAL, "%s: no free name for it in %s", name, lost);
        if (!file_exists(to)) break;
    }
    rc = file_rename(from, to);
    if (rc == 0) rc = dir_sync(lost);
    if (rc == 0) rc = dir_sync(dir);
    return rc;
}
