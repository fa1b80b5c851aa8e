// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The IV is meant to be AES(K, random | SPI | seq), but the block handed
 * to the cipher is the zero IV buffer next to the nonce, so every IV is
 * AES(K, 0): the same on every packet of every SA with that key. RFC 3602
 * 3 (AES-CBC in ESP): the IV must be chosen at random and be unpredictable.
 *
 * Format: esp
 * Caught by: unique_ivs in esp-ping.yaml
 */
#define BROKEN_ESP_STATIC_IV 1
#include "../esp_dp.bpf.c"
