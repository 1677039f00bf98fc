/* cli/bench_transform.h - `statefleet bench transform`: batch transform
 * throughput on this machine, next to its memory bandwidth, so that people
 * can pick hardware by what a transform job will do on it. */
#ifndef CLI_BENCH_TRANSFORM_H
#define CLI_BENCH_TRANSFORM_H

/* argv[0] is the bench's name ("transform"); the rest are its options.
 * Returns the exit code: 0 measured, 1 the transform failed, 2 bad usage. */
int cmd_bench(int argc, char **argv);

#endif
