// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A new SA's sequence counter starts at 0 instead of 1 (an off-by-one:
 * "counters start at zero"), so the first packet of every SA carries
 * sequence number 0. RFC 4303 3.3.3: the first packet sent on an SA has
 * sequence number 1; receivers (the lab's, Linux's) reject 0 as a replay,
 * so that packet is lost.
 *
 * Format: esp
 * Caught by: esp_sequence in esp-ping.yaml
 */
#define BROKEN_ESP_SEQ_ZERO 1
#include "../esp_dp.bpf.c"
