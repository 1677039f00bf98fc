/* api/pages.h - the pages a person sees after following an approval link.
 *
 * The links are opened from an e-mail or a chat message in a browser, so the
 * answer is a page rather than JSON. Self-contained: no scripts, no fetched
 * styles or images, so it renders under a strict Content-Security-Policy. */
#ifndef API_PAGES_H
#define API_PAGES_H

#include <stddef.h>

#define API_PAGE_MESSAGE_MAX 4096 /* bytes of message shown; the rest is cut */

/* A complete HTML document headed title, saying message. Both are borrowed
 * and HTML-escaped here, so any text is safe to pass. Returns the document
 * (malloc'd, NUL-terminated) with its length in *len, or NULL when out of
 * memory. */
char *api_page_render(const char *title, const char *message, size_t *len);

#endif
