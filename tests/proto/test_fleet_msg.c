/* tests/proto/test_fleet_msg.c - the fleet codec and the order checker.
 *
 * Every message type survives encode then decode; each way a frame can be
 * malformed is refused with a message naming what is wrong; and the session
 * checker holds the order of a task's life on the wire. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/fleet_msg.h"
#include "proto/fleet_session.h"

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    cr_assert_not_null(d);
    memcpy(d, s, n + 1);
    return d;
}

/* A string of n copies of c, owned by the caller. */
static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    cr_assert_not_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* One filled-in message of each type, every field set to a telling value. */
static fleet_msg sample(fleet_msg_type type)
{
    fleet_msg m = {.type = type};
    switch (type) {
    case FLEET_HELLO:
        m.u.hello.worker_id = dup_str("gpu-box-7");
        m.u.hello.version = dup_str("0.4.1");
        m.u.hello.n_kernels = 2;
        m.u.hello.kernels = calloc(2, sizeof(char *));
        m.u.hello.kernels[0] = dup_str("linear-learner");
        m.u.hello.kernels[1] = dup_str("xgboost");
        m.u.hello.cores = 64;
        m.u.hello.numa_nodes = 4;
        m.u.hello.memory_bytes = 512ull << 30;
        m.u.hello.n_gpus = 1;
        m.u.hello.gpus = calloc(1, sizeof(fleet_gpu));
        m.u.hello.gpus[0].name = dup_str("NVIDIA H100");
        m.u.hello.gpus[0].memory_bytes = 80ull << 30;
        m.u.hello.max_tasks = 8;
        break;
    case FLEET_WELCOME:
        m.u.welcome.heartbeat_ms = 1000;
        m.u.welcome.session_id = dup_str("s-0123456789abcdef");
        break;
    case FLEET_REFUSE:
        m.u.refuse.reason = dup_str("protocol version 1 required");
        break;
    case FLEET_HEARTBEAT:
        m.u.heartbeat.seq = UINT64_MAX - 1;
        m.u.heartbeat.load = 3;
        break;
    case FLEET_TASK:
        m.u.task.task_id = 0x123456789abcull;
        m.u.task.attempt = 2;
        m.u.task.resource = dup_str("arn:aws:states:::sagemaker:createTrainingJob.sync");
        m.u.task.kernel = dup_str("linear-learner");
        m.u.task.input = dup_str("{\"epochs\":10,\"data\":\"s3://b/k\"}");
        m.u.task.timeout_ms = 3600000;
        m.u.task.heartbeat_ms = 60000;
        m.u.task.requirements.cores = 16;
        m.u.task.requirements.memory_bytes = 64ull << 30;
        m.u.task.requirements.gpu = true;
        break;
    case FLEET_PROGRESS:
        m.u.progress.task_id = 0x123456789abcull;
        m.u.progress.fraction = 0.375;
        m.u.progress.records = 1u << 20;
        m.u.progress.epoch = 3;
        m.u.progress.n_metrics = 2;
        m.u.progress.metrics = calloc(2, sizeof(fleet_metric));
        m.u.progress.metrics[0].name = dup_str("loss");
        m.u.progress.metrics[0].value = 0.125;
        m.u.progress.metrics[1].name = dup_str("accuracy");
        m.u.progress.metrics[1].value = 0.9375;
        break;
    case FLEET_RESULT:
        m.u.result.task_id = 0x123456789abcull;
        m.u.result.output = dup_str("{\"model\":\"s3://b/model.tar.gz\"}");
        break;
    case FLEET_FAILURE:
        m.u.failure.task_id = 0x123456789abcull;
        m.u.failure.error = dup_str("States.TaskFailed");
        m.u.failure.cause = dup_str("kernel linear-learner: out of memory on NUMA node 1");
        break;
    case FLEET_CANCEL:
        m.u.cancel.task_id = 0x123456789abcull;
        m.u.cancel.reason = dup_str("execution stopped");
        break;
    default:
        break;
    }
    return m;
}

static void round_trip(fleet_msg *m)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    cr_assert_eq(fleet_msg_encode(m, &buf), SF_OK, "encode %s", fleet_msg_type_name(m->type));
    fleet_msg back;
    char err[256];
    sf_rc rc = fleet_msg_decode(buf.data, buf.size, &back, err, sizeof err);
    cr_assert_eq(rc, SF_OK, "decode %s: %s", fleet_msg_type_name(m->type), err);
    cr_assert(fleet_msg_equal(m, &back), "%s differs after the trip", fleet_msg_type_name(m->type));
    fleet_msg_clear(&back);
    msgpack_sbuffer_destroy(&buf);
}

Test(fleet_msg, round_trips_every_message_type)
{
    for (int t = FLEET_HELLO; t < FLEET_MSG_TYPE_COUNT; t++) {
        fleet_msg m = sample((fleet_msg_type)t);
        round_trip(&m);
        fleet_msg_clear(&m);
        cr_assert_eq(m.type, FLEET_NONE);
    }
}

Test(fleet_msg, round_trips_empty_arrays_and_the_largest_payload)
{
    fleet_msg m = sample(FLEET_HELLO);
    fleet_msg_clear(&m);
    m = (fleet_msg){.type = FLEET_HELLO};
    m.u.hello.worker_id = dup_str("w");
    m.u.hello.version = dup_str("1");
    m.u.hello.max_tasks = 1;
    round_trip(&m);
    fleet_msg_clear(&m);

    m = sample(FLEET_RESULT);
    free(m.u.result.output);
    m.u.result.output = repeat('7', FLEET_PAYLOAD_MAX);
    round_trip(&m);
    fleet_msg_clear(&m);
}

Test(fleet_msg, encode_refuses_what_decode_would)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    fleet_msg m = sample(FLEET_TASK);
    free(m.u.task.input);
    m.u.task.input = repeat('x', FLEET_PAYLOAD_MAX + 1);
    cr_assert_eq(fleet_msg_encode(&m, &buf), SF_ELIMIT);
    cr_assert_eq(buf.size, 0, "nothing written on failure");
    char err[128];
    cr_assert_eq(fleet_msg_check(&m, err, sizeof err), SF_ELIMIT);
    cr_assert_str_eq(err, "task.in: longer than 262144 bytes");
    fleet_msg_clear(&m);

    m = sample(FLEET_FAILURE);
    free(m.u.failure.error);
    m.u.failure.error = NULL;
    cr_assert_eq(fleet_msg_encode(&m, &buf), SF_EINVAL);
    fleet_msg_clear(&m);

    m = sample(FLEET_PROGRESS);
    m.u.progress.fraction = 1.5;
    cr_assert_eq(fleet_msg_check(&m, err, sizeof err), SF_EINVAL);
    cr_assert_str_eq(err, "progress.frac: must be within 0..1");
    fleet_msg_clear(&m);
    msgpack_sbuffer_destroy(&buf);
}

/* The fuzz harness's seeds are these samples, encoded: one file per type.
 * Run with SF_WRITE_FLEET_SEEDS=1 to write them after a change to the wire;
 * otherwise a seed that no longer matches its sample fails here. */
#ifdef SF_SOURCE_DIR
Test(fleet_msg, fuzz_seeds_are_the_encoded_samples)
{
    bool write = getenv("SF_WRITE_FLEET_SEEDS") != NULL;
    for (int t = FLEET_HELLO; t < FLEET_MSG_TYPE_COUNT; t++) {
        fleet_msg m = sample((fleet_msg_type)t);
        msgpack_sbuffer buf;
        msgpack_sbuffer_init(&buf);
        cr_assert_eq(fleet_msg_encode(&m, &buf), SF_OK);
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/fuzz/corpus/fuzz_fleet_msg/%s.msgpack", SF_SOURCE_DIR,
                 fleet_msg_type_name(m.type));
        FILE *f = fopen(path, write ? "wb" : "rb");
        cr_assert_not_null(f, "%s", path);
        if (write) {
            cr_assert_eq(fwrite(buf.data, 1, buf.size, f), buf.size);
        } else {
            char seed[4096];
            size_t n = fread(seed, 1, sizeof seed, f);
            cr_assert(n == buf.size && memcmp(seed, buf.data, n) == 0, "%s is stale", path);
        }
        fclose(f);
        msgpack_sbuffer_destroy(&buf);
        fleet_msg_clear(&m);
    }
}
#endif

/* --- refusals ------------------------------------------------------- */

/* A frame under construction, packed by hand to make what no encoder would. */
typedef struct {
    msgpack_sbuffer buf;
    msgpack_packer pk;
} frame;

static void frame_init(frame *f)
{
    msgpack_sbuffer_init(&f->buf);
    msgpack_packer_init(&f->pk, &f->buf, msgpack_sbuffer_write);
}

static void put_s(frame *f, const char *s)
{
    msgpack_pack_str_with_body(&f->pk, s, strlen(s));
}

/* A map of 2 + extra fields starting with v = version and t = type. */
static void frame_header(frame *f, size_t extra, uint64_t version, const char *type)
{
    frame_init(f);
    msgpack_pack_map(&f->pk, 2 + extra);
    put_s(f, "v");
    msgpack_pack_uint64(&f->pk, version);
    put_s(f, "t");
    put_s(f, type);
}

/* Decodes f, expects rc and exactly the message want, and frees f. */
static void expect_refusal(frame *f, sf_rc want_rc, const char *want)
{
    fleet_msg m;
    char err[256] = "unset";
    sf_rc rc = fleet_msg_decode(f->buf.data, f->buf.size, &m, err, sizeof err);
    cr_assert_eq(rc, want_rc, "rc %d (%s), want %d", rc, err, want_rc);
    cr_assert_str_eq(err, want);
    cr_assert_eq(m.type, FLEET_NONE, "a refused message is left cleared");
    msgpack_sbuffer_destroy(&f->buf);
}

static void expect_bytes_refused(const void *bytes, size_t len, sf_rc want_rc, const char *want)
{
    frame f;
    frame_init(&f);
    if (len) /* sbuffer's memcpy wants a buffer even for nothing */
        msgpack_sbuffer_write(&f.buf, bytes, len);
    expect_refusal(&f, want_rc, want);
}

Test(fleet_msg, refuses_an_empty_frame)
{
    expect_bytes_refused("", 0, SF_EINVAL, "empty frame");
}

Test(fleet_msg, refuses_what_is_not_a_map)
{
    frame f;
    frame_init(&f);
    msgpack_pack_array(&f.pk, 1);
    msgpack_pack_uint64(&f.pk, 1);
    expect_refusal(&f, SF_EINVAL, "message: expected a map, got an array");
}

Test(fleet_msg, refuses_a_missing_or_other_version)
{
    frame f;
    frame_init(&f);
    msgpack_pack_map(&f.pk, 1);
    put_s(&f, "t");
    put_s(&f, "heartbeat");
    expect_refusal(&f, SF_EINVAL, "v: missing required field");

    frame_header(&f, 2, 2, "heartbeat");
    put_s(&f, "seq");
    msgpack_pack_uint64(&f.pk, 1);
    put_s(&f, "load");
    msgpack_pack_uint64(&f.pk, 0);
    expect_refusal(&f, SF_EUNSUPPORTED, "v: protocol version 2, this side speaks 1");

    frame_init(&f);
    msgpack_pack_map(&f.pk, 2);
    put_s(&f, "v");
    put_s(&f, "1");
    put_s(&f, "t");
    put_s(&f, "heartbeat");
    expect_refusal(&f, SF_EINVAL, "v: expected an unsigned integer, got a string");
}

Test(fleet_msg, refuses_an_unknown_or_missing_type)
{
    frame f;
    frame_header(&f, 0, 1, "shutdown");
    expect_refusal(&f, SF_EINVAL, "t: unknown message type \"shutdown\"");

    frame_init(&f);
    msgpack_pack_map(&f.pk, 1);
    put_s(&f, "v");
    msgpack_pack_uint64(&f.pk, 1);
    expect_refusal(&f, SF_EINVAL, "t: missing required field");
}

Test(fleet_msg, refuses_a_missing_field_naming_it)
{
    frame f;
    frame_header(&f, 1, 1, "heartbeat");
    put_s(&f, "load");
    msgpack_pack_uint64(&f.pk, 0);
    expect_refusal(&f, SF_EINVAL, "heartbeat.seq: missing required field");
}

Test(fleet_msg, refuses_a_field_of_the_wrong_type)
{
    frame f;
    frame_header(&f, 2, 1, "heartbeat");
    put_s(&f, "seq");
    put_s(&f, "7");
    put_s(&f, "load");
    msgpack_pack_uint64(&f.pk, 0);
    expect_refusal(&f, SF_EINVAL, "heartbeat.seq: expected an unsigned integer, got a string");

    frame_header(&f, 2, 1, "heartbeat");
    put_s(&f, "seq");
    msgpack_pack_int64(&f.pk, -1);
    put_s(&f, "load");
    msgpack_pack_uint64(&f.pk, 0);
    expect_refusal(&f, SF_EINVAL,
                   "heartbeat.seq: expected an unsigned integer, got a negative integer");
}

Test(fleet_msg, refuses_a_uint32_field_past_its_range)
{
    frame f;
    frame_header(&f, 2, 1, "heartbeat");
    put_s(&f, "seq");
    msgpack_pack_uint64(&f.pk, 1);
    put_s(&f, "load");
    msgpack_pack_uint64(&f.pk, 1ull << 32);
    expect_refusal(&f, SF_ELIMIT, "heartbeat.load: 4294967296 is over 4294967295");
}

/* A task frame whose input is the given string, everything else valid. */
static void task_frame(frame *f, const char *input, size_t input_len)
{
    frame_header(f, 8, 1, "task");
    put_s(f, "id");
    msgpack_pack_uint64(&f->pk, 1);
    put_s(f, "att");
    msgpack_pack_uint64(&f->pk, 0);
    put_s(f, "res");
    put_s(f, "arn:aws:lambda:us-east-1:123456789012:function:f");
    put_s(f, "kern");
    put_s(f, "");
    put_s(f, "in");
    msgpack_pack_str_with_body(&f->pk, input, input_len);
    put_s(f, "tmo");
    msgpack_pack_uint64(&f->pk, 0);
    put_s(f, "hb");
    msgpack_pack_uint64(&f->pk, 0);
    put_s(f, "req");
    msgpack_pack_map(&f->pk, 3);
    put_s(f, "cores");
    msgpack_pack_uint64(&f->pk, 1);
    put_s(f, "mem");
    msgpack_pack_uint64(&f->pk, 0);
    put_s(f, "gpu");
    msgpack_pack_false(&f->pk);
}

Test(fleet_msg, refuses_a_payload_over_256_kib)
{
    char *big = repeat('a', FLEET_PAYLOAD_MAX + 1);
    frame f;
    task_frame(&f, big, FLEET_PAYLOAD_MAX);
    fleet_msg m;
    char err[256];
    cr_assert_eq(fleet_msg_decode(f.buf.data, f.buf.size, &m, err, sizeof err), SF_OK, "%s", err);
    cr_assert_eq(strlen(m.u.task.input), FLEET_PAYLOAD_MAX);
    fleet_msg_clear(&m);
    msgpack_sbuffer_destroy(&f.buf);

    task_frame(&f, big, FLEET_PAYLOAD_MAX + 1);
    expect_refusal(&f, SF_ELIMIT, "task.in: 262145 bytes, over the 262144 limit");
    free(big);
}

Test(fleet_msg, refuses_a_string_holding_a_nul)
{
    frame f;
    task_frame(&f, "{}\0{}", 5);
    expect_refusal(&f, SF_EINVAL, "task.in: contains a NUL byte");
}

Test(fleet_msg, refuses_a_nested_field_of_the_wrong_type)
{
    frame f;
    frame_header(&f, 8, 1, "task");
    put_s(&f, "id");
    msgpack_pack_uint64(&f.pk, 1);
    put_s(&f, "att");
    msgpack_pack_uint64(&f.pk, 0);
    put_s(&f, "res");
    put_s(&f, "arn:x");
    put_s(&f, "kern");
    put_s(&f, "k");
    put_s(&f, "in");
    put_s(&f, "{}");
    put_s(&f, "tmo");
    msgpack_pack_uint64(&f.pk, 0);
    put_s(&f, "hb");
    msgpack_pack_uint64(&f.pk, 0);
    put_s(&f, "req");
    msgpack_pack_map(&f.pk, 3);
    put_s(&f, "cores");
    msgpack_pack_uint64(&f.pk, 1);
    put_s(&f, "mem");
    msgpack_pack_uint64(&f.pk, 0);
    put_s(&f, "gpu");
    msgpack_pack_uint64(&f.pk, 1);
    expect_refusal(&f, SF_EINVAL, "task.req.gpu: expected a boolean, got an unsigned integer");
}

Test(fleet_msg, refuses_too_many_kernels_and_metrics)
{
    frame f;
    frame_header(&f, 7, 1, "hello");
    put_s(&f, "id");
    put_s(&f, "w");
    put_s(&f, "ver");
    put_s(&f, "1");
    put_s(&f, "kern");
    msgpack_pack_array(&f.pk, FLEET_KERNELS_MAX + 1);
    for (unsigned i = 0; i < FLEET_KERNELS_MAX + 1; i++)
        put_s(&f, "k");
    put_s(&f, "cores");
    msgpack_pack_uint64(&f.pk, 1);
    put_s(&f, "numa");
    msgpack_pack_uint64(&f.pk, 1);
    put_s(&f, "mem");
    msgpack_pack_uint64(&f.pk, 1);
    put_s(&f, "max");
    msgpack_pack_uint64(&f.pk, 1);
    expect_refusal(&f, SF_ELIMIT, "hello.kern: more than 64 entries");

    frame_header(&f, 5, 1, "progress");
    put_s(&f, "id");
    msgpack_pack_uint64(&f.pk, 1);
    put_s(&f, "frac");
    msgpack_pack_double(&f.pk, 0.5);
    put_s(&f, "rec");
    msgpack_pack_uint64(&f.pk, 1);
    put_s(&f, "ep");
    msgpack_pack_uint64(&f.pk, 1);
    put_s(&f, "met");
    msgpack_pack_map(&f.pk, FLEET_METRICS_MAX + 1);
    for (unsigned i = 0; i < FLEET_METRICS_MAX + 1; i++) {
        char name[16];
        snprintf(name, sizeof name, "m%u", i);
        put_s(&f, name);
        msgpack_pack_double(&f.pk, i);
    }
    expect_refusal(&f, SF_ELIMIT, "progress.met: more than 32 entries");
}

Test(fleet_msg, refuses_a_map_cut_short)
{
    char *id = repeat('w', FLEET_WORKER_ID_MAX + 1);
    frame f;
    frame_header(&f, 7, 1, "hello");
    put_s(&f, "id");
    put_s(&f, id);
    expect_refusal(&f, SF_EINVAL, "truncated: a value expected at byte 146");
    free(id);
}

Test(fleet_msg, refuses_an_over_long_worker_id_in_a_whole_frame)
{
    char *id = repeat('w', FLEET_WORKER_ID_MAX + 1);
    frame f;
    frame_header(&f, 6, 1, "hello");
    put_s(&f, "id");
    put_s(&f, id);
    put_s(&f, "ver");
    put_s(&f, "1");
    put_s(&f, "kern");
    msgpack_pack_array(&f.pk, 0);
    put_s(&f, "cores");
    msgpack_pack_uint64(&f.pk, 1);
    put_s(&f, "numa");
    msgpack_pack_uint64(&f.pk, 1);
    put_s(&f, "mem");
    msgpack_pack_uint64(&f.pk, 1);
    expect_refusal(&f, SF_ELIMIT, "hello.id: 129 bytes, over the 128 limit");
    free(id);
}

Test(fleet_msg, refuses_a_fraction_outside_zero_to_one)
{
    frame f;
    frame_header(&f, 4, 1, "progress");
    put_s(&f, "id");
    msgpack_pack_uint64(&f.pk, 1);
    put_s(&f, "frac");
    msgpack_pack_double(&f.pk, -0.25);
    put_s(&f, "rec");
    msgpack_pack_uint64(&f.pk, 1);
    put_s(&f, "ep");
    msgpack_pack_uint64(&f.pk, 1);
    expect_refusal(&f, SF_EINVAL, "progress.frac: must be within 0..1");
}

Test(fleet_msg, refuses_a_field_that_appears_twice)
{
    frame f;
    frame_header(&f, 3, 1, "heartbeat");
    put_s(&f, "seq");
    msgpack_pack_uint64(&f.pk, 1);
    put_s(&f, "load");
    msgpack_pack_uint64(&f.pk, 0);
    put_s(&f, "seq");
    msgpack_pack_uint64(&f.pk, 2);
    expect_refusal(&f, SF_EINVAL, "message.seq: field appears twice");
}

/* Found by the fuzzer: msgpack-c gives an empty string a NULL pointer. */
Test(fleet_msg, refuses_an_empty_field_name_twice_and_an_empty_type)
{
    frame f;
    frame_header(&f, 2, 1, "heartbeat");
    put_s(&f, "");
    msgpack_pack_nil(&f.pk);
    put_s(&f, "");
    msgpack_pack_nil(&f.pk);
    expect_refusal(&f, SF_EINVAL, "message.: field appears twice");

    frame_header(&f, 0, 1, "");
    expect_refusal(&f, SF_EINVAL, "t: unknown message type \"\"");
}

Test(fleet_msg, refuses_trailing_bytes)
{
    fleet_msg m = sample(FLEET_HEARTBEAT);
    frame f;
    frame_init(&f);
    cr_assert_eq(fleet_msg_encode(&m, &f.buf), SF_OK);
    cr_assert_eq(fleet_msg_encode(&m, &f.buf), SF_OK); /* two messages in one frame */
    char want[64];
    snprintf(want, sizeof want, "%zu trailing bytes after the message", f.buf.size / 2);
    expect_refusal(&f, SF_EINVAL, want);
}

Test(fleet_msg, refuses_a_frame_over_one_mib)
{
    size_t len = FLEET_FRAME_MAX + 1;
    char *bytes = calloc(1, len);
    cr_assert_not_null(bytes);
    expect_bytes_refused(bytes, len, SF_ELIMIT,
                         "frame of 1048577 bytes, over the 1048576 byte limit");
    free(bytes);
}

Test(fleet_msg, refuses_deep_nesting_even_in_an_unknown_field)
{
    frame f;
    frame_header(&f, 2, 1, "refuse");
    put_s(&f, "deep");
    /* The message map is level 1, so seven arrays inside it are allowed... */
    for (int i = 0; i < 7; i++)
        msgpack_pack_array(&f.pk, 1);
    msgpack_pack_nil(&f.pk);
    put_s(&f, "why");
    put_s(&f, "full");
    fleet_msg m;
    char err[256];
    cr_assert_eq(fleet_msg_decode(f.buf.data, f.buf.size, &m, err, sizeof err), SF_OK, "%s", err);
    fleet_msg_clear(&m);
    msgpack_sbuffer_destroy(&f.buf);

    /* ...and the eighth, at byte 25, is one too many. */
    frame_header(&f, 1, 1, "refuse");
    put_s(&f, "deep");
    for (int i = 0; i < 8; i++)
        msgpack_pack_array(&f.pk, 1);
    msgpack_pack_nil(&f.pk);
    expect_refusal(&f, SF_ELIMIT, "nesting deeper than 8 levels at byte 25");
}

Test(fleet_msg, refuses_a_count_larger_than_the_frame_without_allocating_it)
{
    /* An array32 claiming 4 billion elements: msgpack-c alone would ask for
     * about 96 GiB before reading one. */
    const unsigned char bytes[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0};
    expect_bytes_refused(bytes, sizeof bytes, SF_EINVAL,
                         "truncated: 4294967295 elements declared at byte 5, fewer bytes remain");
    const unsigned char str[] = {0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'};
    expect_bytes_refused(str, sizeof str, SF_EINVAL,
                         "truncated: a value at byte 5 runs past the end");
}

Test(fleet_msg, refuses_the_one_unused_byte)
{
    const unsigned char bytes[] = {0x81, 0xa1, 'v', 0xc1};
    expect_bytes_refused(bytes, sizeof bytes, SF_EINVAL, "byte 3: 0xc1 is not a msgpack type");
}

Test(fleet_msg, refuses_a_non_string_field_name)
{
    frame f;
    frame_init(&f);
    msgpack_pack_map(&f.pk, 1);
    msgpack_pack_uint64(&f.pk, 1);
    msgpack_pack_uint64(&f.pk, 1);
    expect_refusal(&f, SF_EINVAL, "message: a field name is an unsigned integer, not a string");
}

Test(fleet_msg, ignores_unknown_fields_and_takes_integers_as_numbers)
{
    frame f;
    frame_header(&f, 6, 1, "progress");
    put_s(&f, "id");
    msgpack_pack_uint64(&f.pk, 9);
    put_s(&f, "frac");
    msgpack_pack_uint64(&f.pk, 1); /* an integer where a float is expected */
    put_s(&f, "future");
    msgpack_pack_map(&f.pk, 1);
    put_s(&f, "x");
    msgpack_pack_bin_with_body(&f.pk, "\x00\x01", 2);
    put_s(&f, "rec");
    msgpack_pack_uint64(&f.pk, 5);
    put_s(&f, "ep");
    msgpack_pack_uint64(&f.pk, 0);
    put_s(&f, "met");
    msgpack_pack_map(&f.pk, 1);
    put_s(&f, "loss");
    msgpack_pack_float(&f.pk, 0.5f);
    fleet_msg m;
    char err[256];
    cr_assert_eq(fleet_msg_decode(f.buf.data, f.buf.size, &m, err, sizeof err), SF_OK, "%s", err);
    cr_assert_eq(m.type, FLEET_PROGRESS);
    cr_assert_eq(m.u.progress.task_id, 9);
    cr_assert_eq(m.u.progress.fraction, 1.0);
    cr_assert_eq(m.u.progress.n_metrics, 1);
    cr_assert_str_eq(m.u.progress.metrics[0].name, "loss");
    cr_assert_eq(m.u.progress.metrics[0].value, 0.5);
    fleet_msg_clear(&m);
    msgpack_sbuffer_destroy(&f.buf);
}

Test(fleet_msg, clear_is_safe_twice_and_on_null)
{
    fleet_msg m = sample(FLEET_HELLO);
    fleet_msg_clear(&m);
    fleet_msg_clear(&m);
    fleet_msg_clear(NULL);
}

/* --- the order checker ---------------------------------------------- */

static fleet_msg with_task(fleet_msg_type type, uint64_t task_id)
{
    fleet_msg m = sample(type);
    switch (type) {
    case FLEET_TASK:
        m.u.task.task_id = task_id;
        break;
    case FLEET_PROGRESS:
        m.u.progress.task_id = task_id;
        break;
    case FLEET_RESULT:
        m.u.result.task_id = task_id;
        break;
    case FLEET_FAILURE:
        m.u.failure.task_id = task_id;
        break;
    case FLEET_CANCEL:
        m.u.cancel.task_id = task_id;
        break;
    default:
        break;
    }
    return m;
}

static sf_rc feed(fleet_session *s, fleet_side side, fleet_msg_type type, uint64_t task_id,
                  char *err)
{
    fleet_msg m = with_task(type, task_id);
    sf_rc rc = fleet_session_accept(s, side, &m, err, 256);
    fleet_msg_clear(&m);
    return rc;
}

#define W FLEET_FROM_WORKER
#define C FLEET_FROM_COORDINATOR

static void expect_ok(fleet_session *s, fleet_side side, fleet_msg_type type, uint64_t id)
{
    char err[256];
    sf_rc rc = feed(s, side, type, id, err);
    cr_assert_eq(rc, SF_OK, "%s %llu refused: %s", fleet_msg_type_name(type),
                 (unsigned long long)id, err);
}

static void expect_out_of_order(fleet_session *s, fleet_side side, fleet_msg_type type, uint64_t id,
                                const char *want)
{
    char err[256];
    cr_assert_eq(feed(s, side, type, id, err), SF_ESTATE, "%s accepted", fleet_msg_type_name(type));
    cr_assert_str_eq(err, want);
}

/* hello, welcome: the session every later case starts from. */
static void welcomed(fleet_session *s)
{
    fleet_session_init(s);
    expect_ok(s, W, FLEET_HELLO, 0);
    expect_ok(s, C, FLEET_WELCOME, 0);
}

Test(fleet_session, follows_the_life_of_a_task)
{
    fleet_session s;
    welcomed(&s);
    fleet_msg hb = sample(FLEET_HEARTBEAT);
    hb.u.heartbeat.seq = 1;
    cr_assert_eq(fleet_session_accept(&s, W, &hb, NULL, 0), SF_OK);
    cr_assert_eq(fleet_session_accept(&s, C, &hb, NULL, 0), SF_OK, "each side counts its own");
    expect_ok(&s, C, FLEET_TASK, 1);
    expect_ok(&s, C, FLEET_TASK, 2);
    expect_ok(&s, W, FLEET_PROGRESS, 1);
    expect_ok(&s, W, FLEET_PROGRESS, 1);
    expect_ok(&s, W, FLEET_RESULT, 1);
    expect_ok(&s, C, FLEET_CANCEL, 2);
    expect_ok(&s, W, FLEET_PROGRESS, 2); /* already on the wire when cancel arrived */
    expect_ok(&s, W, FLEET_FAILURE, 2);
    cr_assert_eq(s.n_open, 0);
    expect_ok(&s, C, FLEET_TASK, 1); /* a finished id may be dispatched again */
    fleet_session_cleanup(&s);
}

Test(fleet_session, wants_hello_first_and_once)
{
    fleet_session s;
    fleet_session_init(&s);
    expect_out_of_order(&s, W, FLEET_HEARTBEAT, 0, "heartbeat: before the worker's hello");
    expect_out_of_order(&s, C, FLEET_WELCOME, 0, "welcome: before the worker's hello");
    expect_ok(&s, W, FLEET_HELLO, 0);
    expect_out_of_order(&s, W, FLEET_HELLO, 0, "hello: sent twice");
    fleet_session_cleanup(&s);
}

Test(fleet_session, wants_welcome_before_tasks_and_only_once)
{
    fleet_session s;
    fleet_session_init(&s);
    expect_ok(&s, W, FLEET_HELLO, 0);
    expect_out_of_order(&s, C, FLEET_TASK, 1, "task: before the coordinator's welcome");
    expect_out_of_order(&s, C, FLEET_HEARTBEAT, 0, "heartbeat: before the coordinator's welcome");
    expect_ok(&s, C, FLEET_WELCOME, 0);
    expect_out_of_order(&s, C, FLEET_WELCOME, 0, "welcome: the hello was already answered");
    expect_out_of_order(&s, C, FLEET_REFUSE, 0, "refuse: the hello was already answered");
    fleet_session_cleanup(&s);
}

Test(fleet_session, ends_at_a_refusal)
{
    fleet_session s;
    fleet_session_init(&s);
    expect_ok(&s, W, FLEET_HELLO, 0);
    expect_ok(&s, C, FLEET_REFUSE, 0);
    expect_out_of_order(&s, W, FLEET_HEARTBEAT, 0,
                        "heartbeat: the worker was refused; the session is over");
    expect_out_of_order(&s, C, FLEET_TASK, 1, "task: the worker was refused; the session is over");
    fleet_session_cleanup(&s);
}

Test(fleet_session, refuses_messages_from_the_wrong_side)
{
    fleet_session s;
    welcomed(&s);
    expect_out_of_order(&s, C, FLEET_HELLO, 0, "hello: only the worker sends it");
    expect_out_of_order(&s, W, FLEET_TASK, 1, "task: only the coordinator sends it");
    expect_out_of_order(&s, C, FLEET_RESULT, 1, "result: only the worker sends it");
    expect_out_of_order(&s, W, FLEET_CANCEL, 1, "cancel: only the coordinator sends it");
    fleet_session_cleanup(&s);
}

Test(fleet_session, refuses_reports_for_tasks_never_sent_or_finished)
{
    fleet_session s;
    welcomed(&s);
    expect_out_of_order(&s, W, FLEET_PROGRESS, 5,
                        "progress: task 5 is not running on this worker (never sent, or finished)");
    expect_ok(&s, C, FLEET_TASK, 5);
    expect_ok(&s, W, FLEET_RESULT, 5);
    expect_out_of_order(&s, W, FLEET_RESULT, 5,
                        "result: task 5 is not running on this worker (never sent, or finished)");
    expect_out_of_order(&s, W, FLEET_FAILURE, 5,
                        "failure: task 5 is not running on this worker (never sent, or finished)");
    expect_out_of_order(&s, C, FLEET_CANCEL, 5, "cancel: task 5 is not running on this worker");
    fleet_session_cleanup(&s);
}

Test(fleet_session, refuses_a_running_id_a_second_cancel_and_work_past_max_tasks)
{
    fleet_session s;
    welcomed(&s); /* the sample hello says max_tasks 8 */
    expect_ok(&s, C, FLEET_TASK, 1);
    expect_out_of_order(&s, C, FLEET_TASK, 1, "task: task 1 is already running");
    expect_ok(&s, C, FLEET_CANCEL, 1);
    expect_out_of_order(&s, C, FLEET_CANCEL, 1, "cancel: task 1 was already cancelled");
    for (uint64_t id = 2; id <= 8; id++)
        expect_ok(&s, C, FLEET_TASK, id);
    expect_out_of_order(&s, C, FLEET_TASK, 9, "task: the worker already runs 8 tasks, its most");
    expect_ok(&s, W, FLEET_FAILURE, 4);
    expect_ok(&s, C, FLEET_TASK, 9);
    fleet_session_cleanup(&s);
}

Test(fleet_session, wants_heartbeat_seq_to_increase)
{
    fleet_session s;
    welcomed(&s);
    fleet_msg hb = sample(FLEET_HEARTBEAT);
    hb.u.heartbeat.seq = 10;
    cr_assert_eq(fleet_session_accept(&s, W, &hb, NULL, 0), SF_OK);
    char err[256];
    cr_assert_eq(fleet_session_accept(&s, W, &hb, err, sizeof err), SF_ESTATE);
    cr_assert_str_eq(err, "heartbeat.seq: 10 from the worker does not increase on 10");
    hb.u.heartbeat.seq = 11;
    cr_assert_eq(fleet_session_accept(&s, W, &hb, err, sizeof err), SF_OK, "%s", err);
    fleet_session_cleanup(&s);
}
