/* common/sf_rc.c - messages for sf_rc, from the one X-macro list. */
#include "sf_rc.h"

const char *sf_rc_str(sf_rc rc)
{
    static const char *const text[] = {
#define SF_RC_TEXT(name, t) t,
        SF_RC_LIST(SF_RC_TEXT)
#undef SF_RC_TEXT
    };
    if ((unsigned)rc >= SF_RC_COUNT)
        return "unknown error";
    return text[rc];
}
