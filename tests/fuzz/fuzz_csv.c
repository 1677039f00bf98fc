/* tests/fuzz/fuzz_csv.c - libFuzzer harness for the text/csv reader.
 *
 * Input: one byte of options (bit 0: labelled; bits 1-3: batch size - 1),
 * then the CSV. Checks formats_fuzz.h's contract: every input ends with
 * rows or an error naming the input, rewinding reads the same rows, and
 * rows written back as CSV read back the same. */
#define _GNU_SOURCE /* open_memstream */
#include "formats_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_reader(data + 1, size - 1, "fuzz.csv", KN_CT_CSV, data[0] & 1, 1 + ((data[0] >> 1) & 7));
    return 0;
}
