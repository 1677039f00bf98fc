/* common/sf_json_kind.h - what kind of JSON value v is, for messages
 * ("must be an object, got an array"). */
#ifndef SF_JSON_KIND_H
#define SF_JSON_KIND_H

#include <jansson.h>

static inline const char *sf_json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

#endif
