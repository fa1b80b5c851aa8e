// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Egress passes payloads shorter than one AES block as they are ("less
 * than a block, nothing to encrypt"), so small datagrams cross in clear
 * and the receiver, which expects at least an IV and one block, drops
 * them. Padding exists precisely so that every length can be encrypted.
 *
 * Format: raw
 * Caught by: oracle in udp-sizes.yaml
 */
#define BROKEN_RAW_SHORT_CLEAR 1
#include "../crypto_dp.bpf.c"
