/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ABI of the raw data plane (crypto_dp.bpf.c), shared with the `lab`
 * loader: lab/src/dataplane/abi.rs holds #[repr(C)] mirrors of the structs
 * userspace reads or writes, and a unit test (dataplane/abi_check.rs)
 * compares each one's size and field offsets with every embedded object's
 * BTF. The common parts (provision status, counters, tamper, test IV) are
 * also those of the ESP data plane (esp_abi.h).
 */
#ifndef BPFCRYPT_ABI_H
#define BPFCRYPT_ABI_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bpf_crypto_kfuncs.h"

/* Largest IPv4 payload the data plane encrypts, in bytes. Larger packets
 * (and GSO super-packets) are dropped: the data plane fails closed. */
#define BPFCRYPT_MAX_PLAIN 2032
/* Scratch buffer size: MAX_PLAIN rounded up to a block plus a full pad block. */
#define BPFCRYPT_BUF 2048
#define BPFCRYPT_BLOCK 16
/* Largest per-packet growth on the wire: a CBC IV plus a full pad block. */
#define BPFCRYPT_OVERHEAD 32

/* Operations of the `provision` SYSCALL program. */
#define BPFCRYPT_OP_INSTALL 1 /* create a context and swap it in (also rekey) */
#define BPFCRYPT_OP_CLEAR 2   /* remove the context: traffic is dropped */

/* Context passed to `provision` with BPF_PROG_RUN (ctx_in only). The
 * kernel copies the context back, so `status` and `generation` are
 * outputs. */
struct bpfcrypt_provision {
	__u32 op;
	__u32 key_len;     /* 16 or 32 */
	__u32 iv_len;      /* 16 for cbc(aes), 0 for ecb(aes) */
	__s32 status;      /* out: 0 or -errno from bpf_crypto_ctx_create */
	__u64 generation;  /* out: key generation after the operation */
	char algo[32];     /* NUL-terminated, e.g. "cbc(aes)" */
	__u8 key[32];
};

/* Per-CPU counters, one array element. */
struct bpfcrypt_stats {
	__u64 encrypted;        /* packets encrypted on egress */
	__u64 encrypted_bytes;  /* plaintext payload bytes encrypted */
	__u64 decrypted;        /* packets decrypted on ingress */
	__u64 decrypted_bytes;  /* plaintext payload bytes delivered */
	__u64 dropped_nokey;    /* no crypto context installed */
	__u64 dropped_unsupported; /* non-IPv4, GSO, oversized or malformed */
	__u64 dropped_invalid;  /* ingress: bad length or bad padding after decrypt */
	__u64 errors;           /* helper or kfunc failures */
	__u64 passed;           /* ARP and other frames passed unchanged */
	__u64 copied;           /* copy variant: packets bounced without crypto */
	__u64 tampered;         /* tamper program: ciphertext bytes flipped */
};

/* Configuration of the `tamper_egress` test program (map `tamper`). */
struct bpfcrypt_tamper {
	__u32 offset;   /* byte offset in the IPv4 payload */
	__u8 xor_mask;  /* XORed into that byte */
	__u8 enabled;
	__u16 _pad;
};

/* Value of the single-element `keys` map. Never written from userspace:
 * a userspace update would drop the kptr (which reads as 0 there). */
struct bpfcrypt_key_state {
	__u32 iv_len;                     /*  0 16 for CBC, 0 for ECB */
	__u32 _pad;                       /*  4 */
	__u64 generation;                 /*  8 provisioning operations applied */
	struct bpf_crypto_ctx __kptr *ctx; /* 16 the installed context, or NULL */
};                                        /* 24 */

/* Value of the per-CPU `scratch` map: every kfunc buffer must be map
 * memory (dynptrs from the stack are refused). Not read by userspace, but
 * shared with the cipher-only bench probe (cipher_only.bpf.c), which
 * reuses this map and `keys` of a loaded data plane. */
struct bpfcrypt_scratch {
	__u8 iv[BPFCRYPT_BLOCK];
	__u8 src[BPFCRYPT_BUF];
	__u8 dst[BPFCRYPT_BUF]; /* above src: kernels 6.10-6.16 corrupt memory when dst < src */
};

/* Test builds only (-DDP_TEST_IV): a fixed IV, so that two builds can be
 * compared byte for byte. One variable alone in its own read-only section,
 * so the loader finds it at offset 0 of that section and sets it before
 * load; production builds have no such knob. */
struct bpfcrypt_test_iv {
	__u8 fixed;     /* 1: use iv instead of a fresh one */
	__u8 iv[16];
};

/* Settings of the bench's cipher-only probe (cipher_only.bpf.c), alone in
 * its own read-only section like the test IV: the loader sets them before
 * load, so the verifier sees constants. */
struct bpfcrypt_cipher_probe {
	__u32 len; /* bytes to encrypt or decrypt: a multiple of 16 up to BPFCRYPT_BUF */
	__u32 cbc; /* 1: CBC, the scratch IV is passed; 0: ECB, no IV */
};

/* Run context of the type probe (type_probe.bpf.c): which bpf_crypto
 * types the kernel registers. `status` is an output. */
struct bpfcrypt_type_probe {
	char type[16];    /* NUL-terminated: "skcipher", "aead" */
	char algo[32];    /* NUL-terminated, e.g. "gcm(aes)" */
	__u8 key[32];
	__u32 key_len;
	__u32 authsize;   /* aead: the tag length; 0 for skcipher */
	__s32 status;     /* out: 0, or -errno of bpf_crypto_ctx_create */
	__u32 _pad;
};

#endif
