/* integrations/map_io.h - a distributed Map's ItemReader and ResultWriter,
 * answered from the object store.
 *
 * The engine never does I/O: it asks with ASL_CMD_READ_ITEMS and
 * ASL_CMD_WRITE_RESULTS (coordinator/asl/exec.h) and these functions do the
 * work, with AWS's formats and AWS's error names. */
#ifndef INTEG_MAP_IO_H
#define INTEG_MAP_IO_H

#include <jansson.h>

#include "../../common/sf_rc.h"
#include "../asl/diag.h"
#include "objstore.h"

/* spec is the state's ItemReader with Parameters already resolved:
 *   {"Resource":"arn:aws:states:::s3:getObject",
 *    "ReaderConfig":{"InputType":"JSON"|"JSONL"|"CSV"|"MANIFEST",
 *                    "CSVHeaderLocation":"FIRST_ROW"|"GIVEN","CSVHeaders":[...],
 *                    "CSVDelimiter":"COMMA"|"PIPE"|"SEMICOLON"|"SPACE"|"TAB",
 *                    "MaxItems":N},
 *    "Parameters":{"Bucket":"b","Key":"k"}}
 *   or Resource "arn:aws:states:::s3:listObjectsV2" with Parameters
 *   {"Bucket":"b","Prefix":"p"} (items are the listed objects, shaped as
 *   Distributed Map gives them: {"Etag","Key","LastModified" (epoch
 *   seconds),"Size","StorageClass"}).
 * *items receives a new reference to a JSON array. Failures set err (an
 * ASL error name such as States.ItemReaderFailed and a cause naming the
 * object and the line or byte) and return non-OK. */
sf_rc integ_read_items(integ_objstore *st, json_t *spec, json_t **items, asl_err *err);

/* req is {"ResultWriter":{"Resource":"arn:aws:states:::s3:putObject",
 *                         "Parameters":{"Bucket":"b","Prefix":"p"}},
 *         "MapRunArn":"...", "Results":[...]}.
 * Writes AWS's layout under Prefix/<map run id>/: manifest.json,
 * SUCCEEDED_0.json, FAILED_0.json (and PENDING_0.json), and returns in
 * *details {"Bucket":"b","Key":"p/<id>/manifest.json"}. As in AWS, a
 * result file is written only for a status that has entries. A result of
 * exactly {"Error","Cause"} is a failed iteration. req may also carry
 * "Inputs":[...], each iteration's input by index, for the files' Input
 * fields (null, with InputDetails.Included false, when absent). */
sf_rc integ_write_results(integ_objstore *st, json_t *req, json_t **details, asl_err *err);

#endif
