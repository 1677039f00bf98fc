/* kernels/formats/kn_json.h - JSON records as values, for callers that
 * keep the value (batch transform filters it and joins it to its
 * prediction) rather than only its floats.
 *
 * The JSON and JSON Lines readers parse with these, so every caller reads
 * the same instance shapes and reports the same errors. A separate header
 * because it brings jansson's types with it. */
#ifndef KN_JSON_H
#define KN_JSON_H

#include <jansson.h>

#include "kernels/formats/kn_format.h"

/* Parses one JSON record's text [p, p+len) into *out (a new reference);
 * an error is a ClientError naming at and the column. */
sf_rc kn_json_record_load(const uint8_t *p, size_t len, const kn_loc *at, json_t **out,
                          kn_err *err);

/* Decodes one instance (borrowed) as the readers do: {"features": [...]},
 * {"data": {"features": {...}}}, sparse {"keys","shape","values"}, or a
 * bare array of numbers; into dst (room for cap floats) with *n its
 * width, and with label not NULL its "label". */
sf_rc kn_json_instance_decode(json_t *inst, const kn_loc *at, float *dst, size_t cap, size_t *n,
                              float *label, kn_err *err);

#endif
