/* tests/fuzz/fuzz_recordio.c - libFuzzer harness for RecordIO framing and
 * the protobuf Record decoder.
 *
 * Input: one byte of options (bit 0: labelled; bits 1-3: batch size - 1),
 * then the bytes. They are read as a RecordIO stream (formats_fuzz.h's
 * contract) and also decoded as one bare Record: a decoder must refuse
 * with a reason or give a width it kept within, and a Record it accepts,
 * encoded again dense, decodes to the same floats. */
#define _GNU_SOURCE /* open_memstream */
#include "formats_fuzz.h"

#include "kernels/formats/kn_protobuf_record.h"

static void bare_record(const uint8_t *data, size_t size)
{
    float x[64], again[64], label = 0;
    size_t n = 0, m = 0, at = 0;
    char why[256];
    why[0] = '\0';
    sf_rc rc = kn_record_decode(data, size, x, 64, &n, &label, why, sizeof why, &at);
    if (rc != SF_OK) {
        check(why[0] != '\0' && memchr(why, '\0', sizeof why) && at <= size);
        rc = kn_record_decode(data, size, x, 64, &n, NULL, why, sizeof why, &at);
    }
    if (rc != SF_OK || n > 64)
        return;
    kn_pb_tensor f = {.name = "values", .values = x, .n = n};
    uint8_t buf[64 * 4 + 64];
    size_t len = kn_record_encode(&f, 1, NULL, 0, buf);
    check(len == kn_record_size(&f, 1, NULL, 0) && len <= sizeof buf);
    check(kn_record_decode(buf, len, again, 64, &m, NULL, why, sizeof why, NULL) == SF_OK);
    check(m == n && memcmp(x, again, n * sizeof *x) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_reader(data + 1, size - 1, "fuzz.rec", KN_CT_RECORDIO, data[0] & 1,
                1 + ((data[0] >> 1) & 7));
    bare_record(data + 1, size - 1);
    return 0;
}
