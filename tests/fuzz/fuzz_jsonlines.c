/* tests/fuzz/fuzz_jsonlines.c - libFuzzer harness for the JSON readers:
 * application/jsonlines and application/json ({"instances": [...]}).
 *
 * Input: one byte of options (bit 0: labelled; bit 4: a JSON request
 * rather than JSON Lines; bits 1-3: batch size - 1), then the text.
 * Checks formats_fuzz.h's contract. */
#define _GNU_SOURCE /* open_memstream */
#include "formats_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool json = data[0] & 0x10;
    fuzz_reader(data + 1, size - 1, json ? "fuzz.json" : "fuzz.jsonl",
                json ? KN_CT_JSON : KN_CT_JSONLINES, data[0] & 1, 1 + ((data[0] >> 1) & 7));
    return 0;
}
