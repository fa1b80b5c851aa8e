// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The constant-time ICV comparison checks only the first 32-bit word of
 * the tag (a "truncated tag" compare, as if the ICV were 4 bytes), so a
 * packet whose last 8 ICV bytes are altered still authenticates. RFC 4303
 * 3.4.4 and RFC 4494: all 96 bits of AES-CMAC-96 are compared; here a
 * packet tampered in ICV bytes 4..11 is decrypted and delivered.
 *
 * Format: esp
 * Caught by: counter auth_failed in esp-tamper.yaml
 */
#define BROKEN_ESP_ICV_TRUNCATED 1
#include "../esp_dp.bpf.c"
