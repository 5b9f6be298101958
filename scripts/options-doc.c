/* options-doc.c — prints the options table of include/lamina.h as a Markdown table, so the
 * option list in docs/tuning.md comes from the same X-macro as the code (scripts/gen-docs.sh). */
#include <inttypes.h>
#include <stdio.h>

#include "lamina.h"

static void print_value(const lamina_option_desc *d, int64_t v)
{
    if (d->kind == LAMINA_OPT_BOOL) {
        printf("%s", v ? "true" : "false");
    } else if (d->kind == LAMINA_OPT_ENUM) {
        const char *c = d->choices;
        for (int64_t i = 0; i < v && c; i++) {
            while (*c && *c != '|') c++;
            c = *c ? c + 1 : NULL;
        }
        int n = 0;
        while (c && c[n] && c[n] != '|') n++;
        printf("%.*s", n, c ? c : "?");
    } else {
        printf("%" PRId64, v);
    }
}

int main(void)
{
    printf("| option | kind | default | range | what it does |\n|---|---|---|---|---|\n");
    static const char *kinds[] = {"bool", "int", "bytes", "choice"};
    for (size_t i = 0; i < lamina_options_count(); i++) {
        const lamina_option_desc *d = lamina_options_describe(i);
        printf("| `%s` | %s | ", d->name, kinds[d->kind]);
        print_value(d, d->def);
        if (d->kind == LAMINA_OPT_ENUM) {
            printf(" | "); /* a '|' would end the Markdown cell */
            for (const char *c = d->choices; *c; c++)
                if (*c == '|')
                    fputs(", ", stdout);
                else
                    putchar(*c);
            printf(" | %s |\n", d->doc);
        }
        else
            printf(" | %" PRId64 " .. %" PRId64 " | %s |\n", d->min, d->max, d->doc);
    }
    return 0;
}
