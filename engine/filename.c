/* filename.c — the names of a database's files: "NNNNNN.sst", "NNNNNN.log", "MANIFEST-NNNNNN",
 * "OPTIONS-NNNNNN", and parsing them back from directory entries. */
#include "engine/filename.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

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

int db_parse_file_name(const char *name, uint64_t *number, char *kind)
{
    size_t n = strlen(name);
    *number = 0;
    if (n > 4 && strcmp(name + n - 4, ".tmp") == 0) {
        *kind = 'x';
        return 1;
    }
    if (strncmp(name, "MANIFEST-", 9) == 0 && db_parse_number(name + 9, n - 9, number)) {
        *kind = 'm';
        return 1;
    }
    if (strncmp(name, "OPTIONS-", 8) == 0 && db_parse_number(name + 8, n - 8, number)) {
        *kind = 'o';
        return 1;
    }
    if (n > 4 && strcmp(name + n - 4, ".log") == 0 && db_parse_number(name, n - 4, number)) {
        *kind = 'l';
        return 1;
    }
    if (n > 4 && strcmp(name + n - 4, ".sst") == 0 && db_parse_number(name, n - 4, number)) {
        *kind = 't';
        return 1;
    }
    return 0;
}

