/* text.c — keys and values in and out of kvctl: hex under --hex, C-style escapes otherwise. */
#include <stdlib.h>
#include <string.h>

#include "kvctl.h"

static int kv_hex_digit(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Decodes n hex digits at s into a new buffer. 0, or -1 for odd length / a non-hex digit. */
int kv_hex_decode(const char *s, size_t n, kv_bytes *out)
{
    out->p = NULL;
    out->n = 0;
    if (n % 2 != 0) return -1;
    char *p = malloc(n / 2 + 1);
    if (p == NULL) return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = kv_hex_digit((unsigned char)s[i]), lo = kv_hex_digit((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0) {
            free(p);
            return -1;
        }
        p[i / 2] = (char)(hi << 4 | lo);
    }
    out->p = p;
    out->n = n / 2;
    return 0;
}

/* A command-line key or value: raw bytes, or hex under --hex. 0, or EXIT_USAGE (reported). */
int kv_arg_bytes(const kv_ctx *c, const char *cmd, const char *s, kv_bytes *out)
{
    size_t n = strlen(s);
    if (c->hex) {
        if (kv_hex_decode(s, n, out) != 0)
            return kv_usage_error(cmd, "'%s' is not an even number of hex digits", s);
        return 0;
    }
    out->p = malloc(n + 1);
    if (out->p == NULL) return kv_usage_error(cmd, "%s", "out of memory");
    memcpy(out->p, s, n + 1);
    out->n = n;
    return 0;
}

/* Writes bytes as hex (under --hex) or escaped: \t \n \\ and \xHH for other non-printables. */
void kv_print_bytes(const kv_ctx *c, const void *data, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        unsigned ch = p[i];
        if (c->hex) {
            putchar_unlocked(digits[ch >> 4]);
            putchar_unlocked(digits[ch & 15]);
        } else if (ch == '\t') {
            fputs_unlocked("\\t", stdout);
        } else if (ch == '\n') {
            fputs_unlocked("\\n", stdout);
        } else if (ch == '\\') {
            fputs_unlocked("\\\\", stdout);
        } else if (ch < 0x20 || ch > 0x7e) {
            putchar_unlocked('\\');
            putchar_unlocked('x');
            putchar_unlocked(digits[ch >> 4]);
            putchar_unlocked(digits[ch & 15]);
        } else {
            putchar_unlocked((int)ch);
        }
    }
}

int kv_compare(const void *a, size_t an, const void *b, size_t bn)
{
    int r = memcmp(a, b, an < bn ? an : bn);
    if (r != 0) return r;
    return an < bn ? -1 : an > bn ? 1 : 0;
}
