// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The CBC IV is drawn once, for the first packet, kept in a global and sent
 * with every later packet: the author made it random and took that for
 * enough. CBC needs a fresh, unpredictable IV per message (NIST SP 800-38A
 * appendix C); under a repeated IV equal plaintext prefixes give equal
 * ciphertext blocks, so an observer learns where two packets begin alike.
 *
 * Format: raw
 * Caught by: unique_ivs in ping.yaml
 */
#define BROKEN_RAW_STATIC_IV 1
#include "../crypto_dp.bpf.c"
