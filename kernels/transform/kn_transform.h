/* kernels/transform/kn_transform.h - SageMaker batch transform, run natively.
 *
 * A transform job reads input files, splits them into records
 * (SplitType), packs the records into mini-batches no larger than
 * MaxPayloadInMB (BatchStrategy), predicts each mini-batch with a model,
 * and writes each response into X.out for input file X (AssembleWith),
 * optionally filtering what the model sees (InputFilter), joining each
 * prediction to its input record (JoinSource) and filtering what is kept
 * (OutputFilter). Facts: shared/reference/sagemaker-and-step-functions-facts.md
 * §2.4.
 *
 * It streams: a reader thread splits records into at most a few
 * mini-batches in flight, N predict threads each decode, predict and
 * encode one mini-batch, and the caller's thread writes responses in
 * input order. Memory is bounded by (threads + 3) mini-batches whatever the
 * file's size; the output of a run does not depend on the thread count.
 *
 * Requirement on algorithms (stated here because transform is what relies
 * on it): kn_algo.predict must be thread-safe on a const model. Several
 * threads call it at once on the same kn_model, each with its own X and
 * out; it must not write to the model or to shared statics.
 *
 * Errors are SageMaker's: "ClientError: ..." naming the request field
 * (ContentType, SplitType, BatchStrategy, MaxPayloadInMB, Accept,
 * AssembleWith, InputFilter, OutputFilter, JoinSource) for a bad or
 * unsupported job, or the input file and line (byte offset for RecordIO)
 * for bad data. Output files appear whole or not at all (a temporary
 * name, then a rename); a failed file fails the job. The library never
 * prints. */
#ifndef KN_TRANSFORM_H
#define KN_TRANSFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kn_algo.h"
#include "kernels/kn_types.h"

/* A transform request as CreateTransformJob spells it. NULL strings and a
 * zero max_payload_mb take SageMaker's defaults: ContentType text/csv,
 * SplitType None, BatchStrategy MultiRecord, MaxPayloadInMB 6, Accept the
 * ContentType's family (text/csv for CSV, application/jsonlines for JSON
 * Lines, application/json for JSON, RecordIO for RecordIO), AssembleWith
 * None, filters "$", JoinSource None. */
typedef struct kn_transform_opts {
    const char *content_type;   /* text/csv, application/jsonlines, application/json,
                                   application/x-recordio-protobuf */
    const char *split_type;     /* None | Line | RecordIO */
    const char *batch_strategy; /* MultiRecord | SingleRecord */
    int max_payload_mb;         /* 1..100; MB here is 2^20 bytes */
    const char *accept;         /* the response type */
    const char *assemble_with;  /* None | Line */
    const char *input_filter;   /* JSONPath subset, see kn_transform_jsonpath.h */
    const char *output_filter;
    const char *join_source; /* Input | None */

    unsigned threads;            /* predict threads; 0: every online core */
    const kn_progress *progress; /* may be NULL: report and cancelled */
    /* Called by predict threads (concurrently) after each mini-batch, for
     * latency figures; may be NULL. */
    void (*on_batch)(void *ctx, uint64_t records, size_t bytes, double seconds);
    void *on_batch_ctx;
} kn_transform_opts;

/* What a run did. */
typedef struct kn_transform_stats {
    uint64_t files;
    uint64_t records;   /* input records */
    uint64_t batches;   /* mini-batches (requests) */
    uint64_t bytes_in;  /* input bytes read */
    uint64_t bytes_out; /* response bytes written */
    double seconds;     /* wall time */
} kn_transform_stats;

/* A checked request; opaque. */
typedef struct kn_transform_job kn_transform_job;

/* Checks opts against model m (borrowed: it must outlive the job) and
 * returns a job, or a ClientError naming the offending field. */
sf_rc kn_transform_job_new(const kn_model *m, const kn_transform_opts *opts, kn_transform_job **out,
                           kn_err *err);
/* NULL-safe; sets *job to NULL. */
void kn_transform_job_destroy(kn_transform_job **job);

/* Transforms one file into out_path (NULL: the responses are computed and
 * discarded, for benchmarks). stats (may be NULL) is added to. */
sf_rc kn_transform_file(kn_transform_job *job, const char *in_path, const char *out_path,
                        kn_transform_stats *stats, kn_err *err);

/* Transforms input into output_dir as SageMaker names the results: input
 * a file (-> output_dir/NAME.out), a directory (every file below it, not
 * hidden ones, -> output_dir/REL/PATH.out) or a prefix (dir/part- : every
 * file in dir whose name starts with part-). Files run in name order; the
 * first failure stops the run (files already finished are kept, as
 * SageMaker keeps uploaded objects). output_dir is created. */
sf_rc kn_transform_run(kn_transform_job *job, const char *input, const char *output_dir,
                       kn_transform_stats *stats, kn_err *err);

#endif
