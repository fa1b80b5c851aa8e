// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Egress rewrites the IPv4 header with the payload length it parsed, not
 * the grown one (IV plus padding), so the total length no longer matches
 * the packet (RFC 791: it counts the header and the data). The checksum
 * stays valid for the wrong header; the receiver reads too short a
 * payload and drops it.
 *
 * Format: raw
 * Caught by: ip_header_cleartext in ping.yaml
 */
#define BROKEN_RAW_STALE_TOT_LEN 1
#include "../crypto_dp.bpf.c"
