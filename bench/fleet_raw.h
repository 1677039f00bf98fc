/* bench/fleet_raw.h - raw ZeroMQ baselines for bench_fleet, and what the
 * two share.
 *
 * Each baseline moves frames of the sizes the fleet's own messages have,
 * over the same transport and with the same processes and threads as the
 * fleet measurement it stands beside, but with no codec, no session and no
 * bookkeeping: the least any coordinator built on ZeroMQ could cost on
 * this machine, measured in the same run. */
#ifndef BENCH_FLEET_RAW_H
#define BENCH_FLEET_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The flag that turns the bench binary into a raw echo peer:
 *   bench_fleet --raw-echo ENDPOINT REPLY_BYTES MAX_IN_FLIGHT */
#define BENCH_RAW_ECHO_FLAG "--raw-echo"

uint64_t bench_now_ns(void);

/* Pins the calling thread to one CPU; false when the kernel refused. */
bool bench_pin_self(int cpu);

/* Starts argv[0] with argv as a child process pinned to cpu (-1: not
 * pinned; the pin is set between fork and exec, so it covers every thread
 * the child will start). Its stdin is /dev/null, and it gets SIGTERM when
 * this process dies. Returns its pid, or -1. */
pid_t bench_spawn(char *const argv[], int cpu);

/* SIGTERM, then waits for it; SIGKILL after 5 s. Returns its exit status
 * as waitpid reports it. */
int bench_stop_child(pid_t pid);

/* Percentile p (0..1) of n sorted samples. */
uint64_t bench_percentile(const uint64_t *sorted, size_t n, double p);
void bench_sort_u64(uint64_t *v, size_t n);

/* A loopback or ipc endpoint to bind: "tcp://127.0.0.1:*" or an ipc path in
 * a fresh directory (removed by bench_endpoint_cleanup). */
typedef struct bench_endpoint {
    int ipc;
    char bind[128]; /* what to bind */
    char dir[64];   /* the ipc socket's directory, or "" */
} bench_endpoint;
int bench_endpoint_init(bench_endpoint *e, int ipc, const char *name);
void bench_endpoint_cleanup(bench_endpoint *e);

/* The echo peer's main: connects a DEALER to endpoint, says hello with one
 * byte and answers every frame with reply_bytes bytes until an empty frame
 * comes. Returns the process's exit status. */
int bench_raw_echo_main(const char *endpoint, size_t reply_bytes, int max_in_flight);

/* (1) ROUTER thread (this one) and `peers` echo processes (self re-executed
 * with BENCH_RAW_ECHO_FLAG): `window` requests in flight, each answer
 * answered with a new request to the same peer. Counts answers per second
 * over `seconds` once the window is full. Returns the rate, or -1. */
double bench_raw_pipelined(const char *self, int ipc, int peers, size_t request_bytes,
                           size_t reply_bytes, int window, double seconds);

/* (2) One request at a time from a thread pinned to ping_cpu to one echo
 * process pinned to echo_cpu; fills rtt_ns[0, samples) with round trips in
 * ns after `warmup` unrecorded ones. Returns 0, or -1. */
int bench_raw_pingpong(const char *self, int ipc, size_t request_bytes, size_t reply_bytes,
                       int ping_cpu, int echo_cpu, int warmup, uint64_t *rtt_ns, size_t samples);

/* (3) A DEALER thread streams `count` frames of `bytes` one way, as fast as
 * it can, into a ROUTER thread; both in this process, each with its own
 * ZeroMQ context (like the fleet and a worker). Returns frames per second
 * from the first to the last frame received, or -1. */
double bench_raw_stream(int ipc, size_t bytes, uint64_t count);

#endif
