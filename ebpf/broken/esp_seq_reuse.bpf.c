// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Egress reads the SA's next sequence number but never advances it, so
 * every packet of an SA goes out with sequence number 1. RFC 4303 3.3.3:
 * the sender increments the counter for every packet and must never let
 * it repeat; the receiver's anti-replay window drops every packet after
 * the first.
 *
 * Format: esp
 * Caught by: esp_sequence in esp-ping.yaml
 */
#define BROKEN_ESP_SEQ_REUSE 1
#include "../esp_dp.bpf.c"
