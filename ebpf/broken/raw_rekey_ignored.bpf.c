// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Provisioning fills only an empty key slot: when a context is installed
 * already it releases the new one and still reports success with a new
 * generation. A rekey (or a compromised key being replaced) silently
 * keeps the old key; only clearing first would work.
 *
 * Format: raw
 * Caught by: keys_used in rekey.yaml
 */
#define BROKEN_RAW_REKEY_IGNORED 1
#include "../crypto_dp.bpf.c"
