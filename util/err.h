/* err.h — error reporting: LAMINA_* codes plus a per-thread detail message, read by
 * lamina_errmsg(). Functions that fail set the message and return the code in one step:
 *     return err_set(LAMINA_EIO, "read %s at %llu: %s", path, off, strerror(errno)); */
#ifndef UTIL_ERR_H
#define UTIL_ERR_H

#include "lamina.h"

/* Formats the thread's message and returns code. */
int err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* err_set with ": <strerror(errnum)>" appended, and the code chosen from errnum
 * (ENOSPC -> LAMINA_ENOSPC, ENOMEM -> LAMINA_ENOMEM, else LAMINA_EIO). */
int err_errno(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The calling thread's last message ("" if none). */
const char *err_message(void);
void err_clear(void);

#endif
