/* api/pages.c - the pages a person sees after following an approval link.
 *
 * Everything that came from elsewhere (the backend's message, the title
 * naming a failure) is escaped before it is placed in markup: the message
 * may quote a token or an error a client wrote. */
#include "pages.h"

#include <stdlib.h>
#include <string.h>

#define TITLE_MAX 256 /* bytes of title shown */

static const char *entity(char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&#39;";
    default:
        return NULL;
    }
}

/* Writes s, at most max bytes of it, escaped into dst (when non-NULL);
 * returns the length written, so a first call with dst NULL sizes it. */
static size_t escape(char *dst, const char *s, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; s[i] && i < max; i++) {
        const char *e = entity(s[i]);
        size_t k = e ? strlen(e) : 1;
        if (dst)
            memcpy(dst + n, e ? e : &s[i], k);
        n += k;
    }
    return n;
}

char *api_page_render(const char *title, const char *message, size_t *len)
{
    static const char head[] =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
    static const char mid1[] =
        "</title>\n<style>body{font-family:system-ui,sans-serif;max-width:40em;"
        "margin:4em auto;padding:0 1em;color:#222}h1{font-size:1.6em}"
        "p{line-height:1.5;overflow-wrap:anywhere}</style>\n</head><body>\n<h1>";
    static const char mid2[] = "</h1>\n<p>";
    static const char tail[] = "</p>\n</body></html>\n";
    title = title ? title : "";
    message = message ? message : "";

    size_t tlen = escape(NULL, title, TITLE_MAX);
    size_t mlen = escape(NULL, message, API_PAGE_MESSAGE_MAX);
    size_t total =
        sizeof head - 1 + 2 * tlen + sizeof mid1 - 1 + sizeof mid2 - 1 + mlen + sizeof tail - 1;
    char *page = malloc(total + 1);
    if (!page)
        return NULL;
    char *p = page;
    memcpy(p, head, sizeof head - 1);
    p += sizeof head - 1;
    p += escape(p, title, TITLE_MAX);
    memcpy(p, mid1, sizeof mid1 - 1);
    p += sizeof mid1 - 1;
    p += escape(p, title, TITLE_MAX);
    memcpy(p, mid2, sizeof mid2 - 1);
    p += sizeof mid2 - 1;
    p += escape(p, message, API_PAGE_MESSAGE_MAX);
    memcpy(p, tail, sizeof tail - 1);
    p += sizeof tail - 1;
    *p = '\0';
    if (len)
        *len = total;
    return page;
}
