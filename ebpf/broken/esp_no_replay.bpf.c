// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The anti-replay check tests a sequence number's bit in the window but
 * never sets it (the update was lost when check and update were split),
 * so the window only ever rejects what has fallen behind it: every copy of
 * a recent packet verifies, decrypts and is delivered again. RFC 4303
 * 3.4.3: a received sequence number is marked in the window once the
 * packet is authenticated, and duplicates are dropped.
 *
 * Format: esp
 * Caught by: counter replayed in esp-replay.yaml
 */
#define BROKEN_ESP_NO_REPLAY 1
#include "../esp_dp.bpf.c"
