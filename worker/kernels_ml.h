/* worker/kernels_ml.h - SageMaker's training and batch transform as worker
 * kernels.
 *
 * train: {"Algorithm": "linear-learner" (or a TrainingImage),
 *         "HyperParameters": {name: string}, "Channels": {"train": {"Path":
 *         P, "ContentType": T}, "validation": {...}}, "OutputDir": D}
 *   trains on this worker, streaming metrics through wk_progress, writes
 *   D/model.tar.gz and answers {"ModelArtifacts": {"S3ModelArtifacts":
 *   "file://D/model.tar.gz"}, "FinalMetricDataList": [{"MetricName",
 *   "Value"}], "TrainingTimeInSeconds": N}.
 * transform: {"ModelPath": M, "Input": P, "Output": D, "ContentType",
 *             "SplitType", "BatchStrategy", "MaxPayloadInMB", "Accept",
 *             "AssembleWith", "DataProcessing": {"InputFilter",
 *             "OutputFilter", "JoinSource"}}
 *   runs kernels/transform on the task's cores and answers {"Records",
 *   "Files", "Batches", "BytesIn", "BytesOut", "Seconds"}.
 *
 * Paths are plain or file:// URIs. A failure answers States.TaskFailed
 * with SageMaker's reason as the cause ("ClientError: ..." for what the
 * caller can fix, "AlgorithmError: ..." otherwise). */
#ifndef WORKER_KERNELS_ML_H
#define WORKER_KERNELS_ML_H

#include "worker/kernel.h"

extern const wk_kernel wk_kernel_train;
extern const wk_kernel wk_kernel_transform;

/* Adds train and transform to r. */
sf_rc wk_register_ml_kernels(wk_registry *r);

#endif
