/* common/sf_rc.h - the one error enum every statefleet room returns.
 *
 * Append only: a code's number never changes once released. Detail for a
 * person (which state, field or byte) travels in a diagnostics value, never
 * in the code itself. */
#ifndef SF_RC_H
#define SF_RC_H

#define SF_RC_LIST(X)                                               \
    X(SF_OK,        "ok")                                           \
    X(SF_ENOMEM,    "out of memory")                                \
    X(SF_EINVAL,    "invalid argument or input")                    \
    X(SF_ENOTFOUND, "not found")                                    \
    X(SF_ELIMIT,    "a size or count limit was exceeded")           \
    X(SF_EIO,       "input/output error")                           \
    X(SF_ESTATE,    "operation not valid in the current state")     \
    X(SF_EUNSUPPORTED, "not supported yet")

typedef enum {
#define SF_RC_ENUM(name, text) name,
    SF_RC_LIST(SF_RC_ENUM)
#undef SF_RC_ENUM
    SF_RC_COUNT
} sf_rc;

/* A static string describing rc; never NULL. */
const char *sf_rc_str(sf_rc rc);

#endif
