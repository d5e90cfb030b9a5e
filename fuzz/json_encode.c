/*
 * fuzz/json_encode.c: libFuzzer harness for hamsa.core json.encode.
 * SPDX-License-Identifier: MIT
 *
 * The bytes describe a Lua value (fuzz/json_encode.lua builds it: nested
 * tables, marks, cycles, odd keys, any number, any string); encode must
 * return JSON that decodes to the same value, or (nil, message), never crash.
 */
#include "harness.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    harness_init("json_encode");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    harness_check(data, size);
    return 0;
}
