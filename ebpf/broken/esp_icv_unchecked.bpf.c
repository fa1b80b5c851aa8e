// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A copy-paste slip in the constant-time ICV comparison compares the
 * computed tag with itself instead of with the ICV received, so every
 * packet authenticates. RFC 4303 3.4.4: a packet whose ICV does not match
 * is discarded; here tampered packets are decrypted and delivered.
 *
 * Format: esp
 * Caught by: counter auth_failed in esp-tamper.yaml
 */
#define BROKEN_ESP_ICV_UNCHECKED 1
#include "../esp_dp.bpf.c"
