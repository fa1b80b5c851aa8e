// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Egress pads with zero bytes, as most protocols do, instead of 1, 2,
 * 3, ... (RFC 4303 2.4: the receiver should inspect them). Linux's ESP
 * does not inspect the padding, so interop with it still works, but the
 * reference reading refuses the packets and so does the lab's receiver.
 *
 * Format: esp
 * Caught by: oracle in esp-ping.yaml
 */
#define BROKEN_ESP_ZERO_PAD 1
#include "../esp_dp.bpf.c"
