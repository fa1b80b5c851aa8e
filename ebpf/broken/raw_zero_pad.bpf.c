// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The padding is ANSI X.923 (zeros, then the count byte) instead of the
 * PKCS#7 the wire format specifies (RFC 5652 6.3: every pad byte holds the
 * count), and ingress reads only the count byte. Both ends of the lab
 * agree, so traffic flows, but no PKCS#7 peer can read the packets and the
 * receiver no longer checks the padding it strips.
 *
 * Format: raw
 * Caught by: oracle in udp-sizes.yaml
 */
#define BROKEN_RAW_ZERO_PAD 1
#include "../crypto_dp.bpf.c"
