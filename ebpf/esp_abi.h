/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ABI shared between the ESP data plane (esp_dp.bpf.c) and the `lab`
 * loader. The Rust mirrors (lab/src/dataplane/abi.rs) are checked against
 * the objects' BTF by a unit test (dataplane/abi_check.rs). Offsets and sizes are given in bytes;
 * all structs are naturally aligned, without implicit padding.
 *
 * Wire format (RFC 4303, transport mode, IPv4), after the IPv4 header,
 * whose protocol becomes 50:
 *
 *   SPI (4) | sequence number (4) | IV (16) |
 *   AES-CBC(payload | padding 1, 2, 3, ... | pad length (1) | next header (1)) |
 *   ICV (12)
 *
 * The IV is fresh and unpredictable for every packet: AES with the cipher
 * key of (64 random bits | SPI | seq), a nonce never repeated under that
 * key. The padding is the shortest that makes payload + 2 a multiple of 16.
 * ICV = the first 12 bytes of AES-CMAC (RFC 4493) with the authentication
 * key over SPI .. ciphertext: AES-CMAC-96 (RFC 4494), Encrypt-then-MAC.
 * SPI and sequence number are big-endian on the wire; everywhere else
 * (map keys, the structs below) they are plain host-order numbers.
 */
#ifndef ESP_ABI_H
#define ESP_ABI_H

#include "bpfcrypt_abi.h"

#define ESP_PROTO 50
#define ESP_HDR_LEN 8  /* SPI + sequence number */
#define ESP_IV_LEN 16
#define ESP_ICV_LEN 12
#define ESP_BLOCK 16
/* Bytes in front of the ciphertext, all covered by the ICV. */
#define ESP_PREFIX_LEN (ESP_HDR_LEN + ESP_IV_LEN)
/* Largest ciphertext (payload + padding + 2). ESP_MAX_PLAIN is the largest
 * IPv4 payload the data plane protects; larger packets are dropped. */
#define ESP_MAX_CT 2048
#define ESP_MAX_PLAIN (ESP_MAX_CT - 2)
/* Largest growth of a packet on the wire: header, IV, 15 bytes of
 * padding, pad length, next header, ICV. */
#define ESP_OVERHEAD (ESP_PREFIX_LEN + ESP_BLOCK + 1 + ESP_ICV_LEN)

/* Anti-replay window (RFC 4303 section 3.4.3): a bitmap of
 * ESP_REPLAY_WORDS 64-bit words used as a ring, so moving the window never
 * shifts bits. The newest ESP_REPLAY_WINDOW sequence numbers are tracked;
 * anything older than that is rejected. */
#define ESP_REPLAY_WORDS 4
#define ESP_REPLAY_WINDOW ((ESP_REPLAY_WORDS - 1) * 64)

/* The last sequence number an outbound SA may send (no ESN). */
#define ESP_SEQ_MAX 0xffffffffULL

/* Entries of each SA map (inbound, outbound). */
#define ESP_MAX_SA 64

/* SPIs 1-255 are reserved by IANA and 0 means "no SA" (RFC 4303 2.1). */
#define ESP_SPI_MIN 256

#define ESP_DIR_IN 1
#define ESP_DIR_OUT 2

/* Operations of the `provision` SYSCALL program. */
#define ESP_OP_ADD_SA 1  /* create both contexts and insert the SA */
#define ESP_OP_DEL_SA 2  /* remove the SA; its contexts are released */
#define ESP_OP_SET_OUT 3 /* make `spi` the outbound SA (0: send nothing) */

/* esp_provision.flags */
#define ESP_F_ACTIVATE 1 /* ADD_SA, outbound: also make it the outbound SA */

/*
 * Context passed to `provision` with BPF_PROG_RUN (ctx_in only); the
 * kernel copies it back, so `status`, `out_spi` and `generation` are
 * outputs. Both contexts of an SA use `algo` (default "cbc(aes)"); k1 and
 * k2 are the CMAC subkeys of auth_key (RFC 4493 2.3), derived by the
 * loader: L = AES(auth_key, 0^128), K1 = dbl(L), K2 = dbl(K1). The program
 * cannot derive them: the encrypt kfuncs are not available to SYSCALL
 * programs.
 */
struct esp_provision {
	__u32 op;           /*   0 ESP_OP_* */
	__u32 dir;          /*   4 ESP_DIR_IN or ESP_DIR_OUT */
	__u32 spi;          /*   8 >= ESP_SPI_MIN (SET_OUT: or 0) */
	__u32 flags;        /*  12 ESP_F_* */
	__u32 enc_key_len;  /*  16 16, 24 or 32 */
	__u32 auth_key_len; /*  20 16 for AES-CMAC-96 (RFC 4494); 24, 32 work */
	__s32 status;       /*  24 out: 0 or -errno */
	__u32 out_spi;      /*  28 out: the outbound SPI after the operation */
	__u64 seq_start;    /*  32 outbound: first sequence number, 0 means 1,
			     *     ESP_SEQ_MAX + 1 installs an exhausted SA */
	__u64 generation;   /*  40 out: operations applied so far */
	char algo[32];      /*  48 NUL-terminated; "" means "cbc(aes)" */
	__u8 enc_key[32];   /*  80 */
	__u8 auth_key[32];  /* 112 */
	__u8 k1[16];        /* 144 */
	__u8 k2[16];        /* 160 */
};                          /* 176 */

/*
 * Value of the SA maps `sa_in` and `sa_out` (hash maps keyed by the __u32
 * SPI). Only the provision program writes these maps: a userspace update
 * or delete would drop the two kptrs (the crypto contexts) at the end, so
 * the maps are created BPF_F_RDONLY and the kernel refuses it (-EPERM).
 * Reading is fine (lock and kptrs read as zero).
 */
struct esp_sa_state {
	__u32 spi;                  /*  0 */
	__u32 dir;                  /*  4 */
	__u64 generation;           /*  8 provisioning generation at install */
	__u8 k1[16];                /* 16 CMAC subkey for a complete last block */
	__u8 k2[16];                /* 32 CMAC subkey for a padded last block */
	__u64 seq_next;             /* 48 outbound: next sequence number;
				     *    > ESP_SEQ_MAX once exhausted */
	struct bpf_spin_lock lock;  /* 56 guards the replay state */
	__u32 replay_top;           /* 60 inbound: highest authenticated seq */
	__u64 replay_bitmap[ESP_REPLAY_WORDS]; /* 64 inbound: ring bitmap */
	struct bpf_crypto_ctx __kptr *cipher; /* 96 cbc(aes) with the cipher key */
	struct bpf_crypto_ctx __kptr *auth;   /* 104 cbc(aes) with the auth key (CMAC) */
};                                  /* 112 */

/* Value of the single-element array `esp_cfg`. It holds no kptr, but the
 * loader should still change it only through ESP_OP_SET_OUT, which checks
 * that the SA exists and counts the generation. */
struct esp_config {
	__u32 out_spi;     /* 0 outbound SA; 0: egress drops (dropped_nokey) */
	__u32 _pad;        /* 4 */
	__u64 generation;  /* 8 provisioning operations applied */
};                         /* 16 */

/* Per-CPU counters of the ESP data plane (map `stats`, one element): the
 * common counters first (`copied` unused; `dropped_nokey` also counts an SA
 * without contexts, `dropped_unsupported` fragments and ingress non-ESP,
 * `dropped_invalid` bad padding and dummy packets), then ESP's own. */
struct esp_stats {
	struct bpfcrypt_stats base; /*   0 */
	__u64 auth_failed;         /*  88 ICV mismatch */
	__u64 replayed;            /*  96 duplicate, too old, or sequence 0 */
	__u64 seq_exhausted;       /* 104 outbound SA past ESP_SEQ_MAX */
	__u64 unknown_spi;         /* 112 no inbound SA for the SPI */
};                                 /* 120 */

/* The base code counts through a struct bpfcrypt_stats pointer. */
_Static_assert(__builtin_offsetof(struct esp_stats, base) == 0, "esp_stats: base first");

#endif
