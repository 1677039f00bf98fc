/* kernels/formats/kn_lines.c - framing text by lines (CSV, JSON Lines).
 *
 * A line ends at "\n"; a "\r" before it (Windows) is dropped, and so is a
 * last line's missing "\n". Blank lines (nothing, or only blanks) are
 * skipped but counted, so errors name the line an editor shows. */
#include "kn_reader_int.h"

#include <string.h>

static bool blank_line(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    return true;
}

sf_rc kn__lines_frame(kn_reader *r, kn_span *s, bool *got, kn_err *err)
{
    size_t scanned = 0; /* bytes after pos already known to hold no "\n" */
    for (;;) {
        const uint8_t *p = r->buf + r->pos;
        size_t avail = r->end - r->pos;
        const uint8_t *nl = memchr(p + scanned, '\n', avail - scanned);
        size_t len, used;
        if (nl) {
            len = (size_t)(nl - p);
            used = len + 1;
        } else if (!r->eof) {
            scanned = avail;
            size_t added;
            sf_rc rc = kn__reader_more(r, &added, err);
            if (rc == SF_ELIMIT)
                return kn__data_fail(r, err, r->line + 1, rc, "the line is longer than %zu bytes",
                                     r->limit);
            if (rc != SF_OK)
                return rc;
            continue;
        } else if (avail == 0) {
            *got = false;
            return SF_OK;
        } else {
            len = used = avail; /* the last line, without "\n" */
        }
        r->pos += used;
        r->line++;
        scanned = 0;
        if (len > 0 && p[len - 1] == '\r')
            len--;
        if (len == 0 || ((p[0] == ' ' || p[0] == '\t') && blank_line(p, len)))
            continue;
        *s = (kn_span){.p = p, .len = len, .where = r->line};
        *got = true;
        return SF_OK;
    }
}

const kn_format_ops kn__lines_ops = {.frame = kn__lines_frame, .where = "line"};
