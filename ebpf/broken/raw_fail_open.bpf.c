// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * With no key installed egress lets the packet through unchanged ("better
 * no encryption than no connectivity"), so before the first key and after
 * a key is removed the traffic crosses in clear. A data plane that
 * encrypts must fail closed: no key, no packet.
 *
 * Format: raw
 * Caught by: no_plaintext_on_wire in failclosed.yaml
 */
#define BROKEN_RAW_FAIL_OPEN 1
#include "../crypto_dp.bpf.c"
