// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * With no outbound SA egress lets the packet through unchanged ("better
 * no encryption than no connectivity"), so before the first SA and after
 * the SAs are removed the traffic crosses in clear. RFC 4301 5.1: a packet
 * that policy says to protect but that has no SA is discarded; a data
 * plane that encrypts must fail closed: no SA, no packet.
 *
 * Format: esp
 * Caught by: no_plaintext_on_wire in esp-failclosed.yaml
 */
#define BROKEN_ESP_FAIL_OPEN 1
#include "../esp_dp.bpf.c"
