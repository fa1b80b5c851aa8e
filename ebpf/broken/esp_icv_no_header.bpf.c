// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The ICV is computed over the ciphertext alone, on both ends, so SPI,
 * sequence number and IV are not authenticated: an attacker can rewrite
 * the sequence number of a captured packet and replay it past the window.
 * RFC 4303 2.8 and 3.3.4: the ICV covers the ESP header, the IV, the
 * payload and the trailer.
 *
 * Format: esp
 * Caught by: oracle in esp-ping.yaml
 */
#define BROKEN_ESP_ICV_NO_HEADER 1
#include "../esp_dp.bpf.c"
