// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Egress patches the new total length into the IPv4 header with a plain
 * store and forgets the header checksum (no bpf_l3_csum_replace, no
 * rewrite), so every encrypted packet carries a wrong checksum (RFC 791,
 * RFC 1624). The receiver's incremental update keeps it wrong, and its IP
 * layer drops the decrypted packet.
 *
 * Format: raw
 * Caught by: ip_header_cleartext in ping.yaml
 */
#define BROKEN_RAW_STALE_IP_CSUM 1
#include "../crypto_dp.bpf.c"
