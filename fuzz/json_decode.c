/*
 * fuzz/json_decode.c: libFuzzer harness for hamsa.core json.decode.
 * SPDX-License-Identifier: MIT
 *
 * Any bytes: decode must return a value or (nil, message, offset) and never
 * crash; a value must survive encode -> decode unchanged (fuzz/json_decode.lua).
 */
#include "harness.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    harness_init("json_decode");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    harness_check(data, size);
    return 0;
}
