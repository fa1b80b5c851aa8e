// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Egress encrypts in place in the staging buffer but gives the dynptr the
 * cipher's block size instead of the padded length, so only the first
 * 16 bytes are enciphered; the rest of the payload and the PKCS#7 padding
 * go out in clear, still whole blocks, so the packet parses. Everything
 * after the first block is readable on the wire.
 *
 * Format: raw
 * Caught by: no_plaintext_on_wire in udp-sizes.yaml
 */
#define BROKEN_RAW_PARTIAL_ENCRYPT 1
#include "../crypto_dp.bpf.c"
