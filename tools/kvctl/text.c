/* text.c — keys and values in and out of kvctl: hex under --hex, otherwise one escape and its
 * inverse (\t \n \\ \xHH; valid UTF-8 as is), so what dump writes, load reads back byte for byte.
 * Our own pair, not strvis(3): its output depends on the locale, and the format predates it. */
#include <stdlib.h>
#include <string.h>

#include "kvctl.h"

static const char kv_digits[] = "0123456789abcdef";

static int kv_hex_digit(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Decodes n hex digits at s into a new buffer. 0, or KV_HEX_ODD / KV_HEX_DIGIT (*bad_at: the
 * offending digit's offset) / KV_HEX_NOMEM. */
int kv_hex_decode(const char *s, size_t n, kv_bytes *out, size_t *bad_at)
{
    out->p = NULL;
    out->n = 0;
    for (size_t i = 0; i < n; i++)
        if (kv_hex_digit((unsigned char)s[i]) < 0) {
            if (bad_at != NULL) *bad_at = i;
            return KV_HEX_DIGIT;
        }
    if (n % 2 != 0) return KV_HEX_ODD;
    char *p = malloc(n / 2 + 1);
    if (p == NULL) return KV_HEX_NOMEM;
    for (size_t i = 0; i < n; i += 2)
        p[i / 2] =
            (char)(kv_hex_digit((unsigned char)s[i]) << 4 | kv_hex_digit((unsigned char)s[i + 1]));
    out->p = p;
    out->n = n / 2;
    return 0;
}

/* Reports a failed kv_hex_decode of s (what names it: "key", "value", ...); EXIT_USAGE. */
int kv_hex_error(const char *cmd, const char *what, const char *s, int rc, size_t bad_at)
{
    char msg[200];
    if (rc == KV_HEX_DIGIT)
        snprintf(msg, sizeof msg, "%s '%.60s' is not hex: '%c' at offset %zu is not a hex digit",
                 what, s, s[bad_at], bad_at);
    else if (rc == KV_HEX_ODD)
        snprintf(msg, sizeof msg, "%s '%.60s' has an odd number of hex digits (%zu)", what, s,
                 strlen(s));
    else
        snprintf(msg, sizeof msg, "out of memory");
    return kv_usage_error(cmd, "%s", msg);
}

/* A command-line key or value: raw bytes, or hex under --hex. 0, or EXIT_USAGE (reported). */
int kv_arg_bytes(const kv_ctx *c, const char *cmd, const char *s, kv_bytes *out)
{
    size_t n = strlen(s), bad_at = 0;
    if (c->hex) {
        int rc = kv_hex_decode(s, n, out, &bad_at);
        return rc == 0 ? 0 : kv_hex_error(cmd, "argument", s, rc, bad_at);
    }
    out->p = malloc(n + 1);
    if (out->p == NULL) return kv_usage_error(cmd, "%s", "out of memory");
    memcpy(out->p, s, n + 1);
    out->n = n;
    return 0;
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) that is not a C1 control, or 0. */
static size_t kv_utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    unsigned lo = 0x80, hi = 0xbf; /* the range of the second byte */
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        if (p[0] == 0xc2) lo = 0xa0; /* U+0080..U+009F are C1 controls: escape them */
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        if (p[0] == 0xe0) lo = 0xa0;
        if (p[0] == 0xed) hi = 0x9f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        if (p[0] == 0xf0) lo = 0x90;
        if (p[0] == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf) return 0;
    return len;
}

/* Escapes n bytes into out (room for 4 * n bytes): \t \n \\, \xHH for the other bytes outside
 * printable ASCII except well-formed UTF-8 (escaped too under escape_all). Returns the length. */
size_t kv_escape(const void *data, size_t n, int escape_all, char *out)
{
    const unsigned char *p = data;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned ch = p[i];
        size_t u;
        if (ch == '\t' || ch == '\n' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = ch == '\t' ? 't' : ch == '\n' ? 'n' : '\\';
        } else if (ch >= 0x20 && ch <= 0x7e) {
            out[o++] = (char)ch;
        } else if (ch >= 0x80 && !escape_all && (u = kv_utf8_len(p + i, n - i)) > 0) {
            memcpy(out + o, p + i, u);
            o += u;
            i += u - 1;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = kv_digits[ch >> 4];
            out[o++] = kv_digits[ch & 15];
        }
    }
    return o;
}

/* The inverse of kv_escape: decodes n bytes at s into out (which may be s: never longer).
 * 0, or -1 with *why and *bad_at (the offset of the bad backslash) set. */
int kv_unescape(const char *s, size_t n, char *out, size_t *out_n, const char **why, size_t *bad_at)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            out[o++] = s[i];
            continue;
        }
        *bad_at = i;
        if (i + 1 == n) {
            *why = "a lone backslash at the end (write \\\\ for a backslash)";
            return -1;
        }
        char e = s[++i];
        if (e == 't' || e == 'n' || e == '\\') {
            out[o++] = e == 't' ? '\t' : e == 'n' ? '\n' : '\\';
        } else if (e == 'x') {
            int hi = i + 1 < n ? kv_hex_digit((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? kv_hex_digit((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                *why = "\\x needs two hex digits";
                return -1;
            }
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            *why = "unknown escape (known: \\t \\n \\\\ \\xHH; write \\\\ for a backslash)";
            return -1;
        }
    }
    *out_n = o;
    return 0;
}

/* Writes bytes as hex (under --hex) or escaped (kv_escape). */
void kv_print_bytes(const kv_ctx *c, const void *data, size_t n)
{
    const unsigned char *p = data;
    char buf[4 * 256];
    if (c->hex) {
        for (size_t i = 0; i < n; i++) {
            putchar_unlocked(kv_digits[p[i] >> 4]);
            putchar_unlocked(kv_digits[p[i] & 15]);
        }
        return;
    }
    /* in pieces, so a UTF-8 sequence may be cut at a piece's end: the tail of the piece is
     * held back while a sequence could still complete in the next one */
    size_t i = 0;
    while (i < n) {
        size_t take = n - i < 256 ? n - i : 256;
        if (take < n - i) {
            size_t back = 0;
            while (back < 3 && back < take && (p[i + take - 1 - back] & 0xc0) == 0x80)
                back++;
            if (back < take && p[i + take - 1 - back] >= 0xc0) take -= back + 1;
        }
        size_t o = kv_escape(p + i, take, c->escape_all, buf);
        fwrite_unlocked(buf, 1, o, stdout);
        i += take;
    }
}

int kv_compare(const void *a, size_t an, const void *b, size_t bn)
{
    size_t m = an < bn ? an : bn;
    int r = m > 0 ? memcmp(a, b, m) : 0; /* an empty key may come as NULL */
    if (r != 0) return r;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

/* A key or value over the engine's limit is malformed input (exit 2), in every command. */
int kv_check_size(const char *cmd, int is_key, size_t n)
{
    char msg[120];
    if (is_key && n > LAMINA_MAX_KEY_LEN)
        snprintf(msg, sizeof msg, "key of %zu bytes is longer than the limit of %u bytes", n,
                 (unsigned)LAMINA_MAX_KEY_LEN);
    else if (!is_key && n > LAMINA_MAX_VALUE_LEN)
        snprintf(msg, sizeof msg, "value of %zu bytes is longer than the limit of %u bytes", n,
                 (unsigned)LAMINA_MAX_VALUE_LEN);
    else
        return 0;
    return kv_usage_error(cmd, "%s", msg);
}

int kv_decode_field(int mode, const char *name, char *s, size_t *n, size_t col0, char *why,
                    size_t cap)
{
    size_t bad_at = 0;
    if (mode == KV_LOAD_HEX) {
        kv_bytes h;
        int rc = kv_hex_decode(s, *n, &h, &bad_at);
        if (rc == KV_HEX_DIGIT)
            snprintf(why, cap, "%s is not hex: '%c' at column %zu", name, s[bad_at],
                     col0 + bad_at + 1);
        else if (rc == KV_HEX_ODD)
            snprintf(why, cap, "%s has an odd number of hex digits", name);
        else if (rc != 0)
            snprintf(why, cap, "out of memory");
        if (rc != 0) return -1;
        /* decoded bytes are fewer than their hex digits: write them back in place */
        memcpy(s, h.p, h.n);
        *n = h.n;
        free(h.p);
    } else if (mode == KV_LOAD_ESCAPED) {
        const char *what;
        if (kv_unescape(s, *n, s, n, &what, &bad_at) != 0) {
            snprintf(why, cap, "%s: bad escape at column %zu: %s", name, col0 + bad_at + 1, what);
            return -1;
        }
    }
    return 0;
}
