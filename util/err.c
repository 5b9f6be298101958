/* err.c — LAMINA_* code names and the per-thread detail message behind lamina_errmsg(),
 * plus the small public helpers lamina_version() and lamina_free(). */
#include "util/err.h"
#include "util/alloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_MSG_CAP 512

/* Per thread: a lamina_db handle is shared between threads, so a per-handle message would race. */
static _Thread_local char err_msg[ERR_MSG_CAP];

static void err_vformat(const char *fmt, va_list ap)
{
    int n = vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
    if (n < 0) err_msg[0] = '\0';
}

int err_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vformat(fmt, ap);
    va_end(ap);
    return code;
}

int err_errno(int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vformat(fmt, ap);
    va_end(ap);
    char ebuf[128];
    /* GNU strerror_r (we build with _GNU_SOURCE) may return a static string instead of ebuf. */
    const char *etext = strerror_r(errnum, ebuf, sizeof(ebuf));
    size_t len = strlen(err_msg);
    if (len < sizeof(err_msg) - 1) snprintf(err_msg + len, sizeof(err_msg) - len, ": %s", etext);
    switch (errnum) {
    case ENOSPC:
        return LAMINA_ENOSPC;
    case ENOMEM:
        return LAMINA_ENOMEM;
    default:
        return LAMINA_EIO;
    }
}

const char *err_message(void)
{
    return err_msg;
}

void err_clear(void)
{
    err_msg[0] = '\0';
}

LAMINA_API const char *lamina_strerror(int code)
{
    switch (code) {
    case LAMINA_OK:
        return "LAMINA_OK: success";
    case LAMINA_NOTFOUND:
        return "LAMINA_NOTFOUND: key not found";
    case LAMINA_EINVAL:
        return "LAMINA_EINVAL: invalid argument";
    case LAMINA_EIO:
        return "LAMINA_EIO: I/O error";
    case LAMINA_ECORRUPT:
        return "LAMINA_ECORRUPT: corruption";
    case LAMINA_ENOSPC:
        return "LAMINA_ENOSPC: no space left on device";
    case LAMINA_ENOMEM:
        return "LAMINA_ENOMEM: out of memory";
    case LAMINA_EBUSY:
        return "LAMINA_EBUSY: busy";
    case LAMINA_EREADONLY:
        return "LAMINA_EREADONLY: database is read-only";
    case LAMINA_EEXIST:
        return "LAMINA_EEXIST: database exists";
    case LAMINA_ENOENT:
        return "LAMINA_ENOENT: database does not exist";
    default:
        return "unknown error";
    }
}

LAMINA_API const char *lamina_errmsg(const lamina_db *db)
{
    (void)db;
    return err_msg;
}

#define ERR_STR_(x) #x
#define ERR_STR(x) ERR_STR_(x)

LAMINA_API const char *lamina_version(void)
{
    return ERR_STR(LAMINA_VERSION_MAJOR) "." ERR_STR(LAMINA_VERSION_MINOR) "." ERR_STR(
        LAMINA_VERSION_PATCH);
}

LAMINA_API void lamina_free(void *p)
{
    mem_free(p);
}
