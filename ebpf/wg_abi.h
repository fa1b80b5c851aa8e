/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ABI shared between the WireGuard data plane (wg_dp.bpf.c) and the `lab`
 * loader (lab/src/dataplane/format/wireguard/), whose mirrors a unit test
 * checks against the object's BTF. Sizes and offsets in bytes; every
 * struct is naturally aligned, without implicit padding.
 *
 * Wire format: WireGuard transport data messages (the WireGuard paper,
 * section 5.4.6), in UDP in IPv4 to the peer's endpoint:
 *
 *   outer IPv4 (20) | UDP (8) | type 4 (1) | reserved 0 (3) |
 *   receiver index (4, LE) | counter (8, LE) |
 *   ChaCha20-Poly1305(inner IPv4 packet | zeros to a multiple of 16) |
 *   tag (16)
 *
 * nonce = 4 zero bytes | counter (LE), empty AAD (RFC 8439). A message
 * whose plaintext is empty is a keepalive. Message types 1-3 (handshake
 * initiation, response, cookie reply) are the userspace handshake's: the
 * data plane passes them untouched.
 *
 * Keys and indexes come from the handshake in userspace, which installs
 * them through the `provision` SYSCALL program (struct wg_provision); no
 * key is written to a map from userspace. Indexes and counters are host
 * order in the structs below, addresses and ports network order (as on
 * the wire).
 */
#ifndef WG_ABI_H
#define WG_ABI_H

#include "bpfcrypt_abi.h"

#define WG_MSG_INITIATION 1
#define WG_MSG_RESPONSE 2
#define WG_MSG_COOKIE 3
#define WG_MSG_DATA 4

#define WG_KEY_LEN 32
#define WG_TAG_LEN 16
/* type, reserved, receiver index, counter */
#define WG_DATA_HDR_LEN 16
/* The inner packet is zero-padded to a multiple of this. */
#define WG_PAD 16
/* Outer IPv4 (no options) + UDP + the data message header. */
#define WG_ENCAP_LEN (20 + 8 + WG_DATA_HDR_LEN)
/* The most bytes a packet grows by: encapsulation, padding, tag. The
 * kernel's WireGuard reserves 80 on IPv4 (MTU 1420 on a 1500 wire). */
#define WG_OVERHEAD 80
/* Largest inner IPv4 packet the data plane carries (CP_MAX_LEN of
 * chacha20poly1305.h less the tag); larger ones are dropped. */
#define WG_MAX_INNER 1520

/* Replay window (RFC 6479): a ring of WG_REPLAY_WORDS 64-bit words; the
 * newest WG_REPLAY_WINDOW counters are tracked, older ones rejected. The
 * kernel's WireGuard uses the same size. */
#define WG_REPLAY_WORDS 128
#define WG_REPLAY_WINDOW ((WG_REPLAY_WORDS - 1) * 64)

/* Keypair slots (map `wg_keypairs`): previous, current and next, as the
 * kernel's WireGuard keeps them; which is which is the loader's
 * bookkeeping, except that ingress confirms a keypair (below). */
#define WG_KEYPAIRS 3
#define WG_NO_SLOT 0xffffffffU
/* Allowed source prefixes of the peer. */
#define WG_MAX_ALLOWED 8

/* Defaults of the protocol's limits (the WireGuard paper, 6.1); a scenario
 * may shorten the time limits through wg_peer. */
#define WG_REJECT_AFTER_TIME_NS (180ULL * 1000000000ULL)
#define WG_REJECT_AFTER_MESSAGES (0xffffffffffffffffULL - (1ULL << 13))

/* Operations of the `provision` SYSCALL program. */
#define WG_OP_PEER 1    /* set the peer (endpoint, ports, allowed IPs, limits) */
#define WG_OP_KEYPAIR 2 /* install a keypair into `slot` (replaces what was there) */
#define WG_OP_CLEAR 3   /* empty `slot` (WG_NO_SLOT: every slot): fail closed */
#define WG_OP_SEND 4    /* make `slot` the one egress sends with */

/* wg_provision.flags, WG_OP_KEYPAIR */
#define WG_F_CONFIRMED 1 /* usable for sending at once (the initiator's) */
#define WG_F_SEND 2      /* and make it the sending keypair now */
#define WG_F_SKIP_FIRST 4 /* counter 0 is spent: the handshake sealed its
			   * confirming keepalive with it in userspace */

struct wg_allowed_ip {
	__u32 addr;      /* 0 network order */
	__u32 prefix_len; /* 4 0-32; entries past n_allowed are ignored */
};                        /* 8 */

/* Value of the single-element array `wg_peer`. Only the provision program
 * writes it (ingress also moves send_slot when it confirms a keypair). */
struct wg_peer {
	__u32 local_addr;     /*  0 our underlay IPv4, outer source */
	__u32 endpoint_addr;  /*  4 the peer's underlay IPv4, outer destination */
	__u16 local_port;     /*  8 ours: ingress takes messages to it */
	__u16 endpoint_port;  /* 10 the peer's */
	__u32 n_allowed;      /* 12 */
	struct wg_allowed_ip allowed[WG_MAX_ALLOWED]; /* 16 the peer's allowed IPs */
	__u64 reject_after_ns;       /* 80 keypair lifetime; 0: WG_REJECT_AFTER_TIME_NS */
	__u64 reject_after_messages; /* 88 counter limit; 0: WG_REJECT_AFTER_MESSAGES */
	__u32 send_slot;      /* 96 keypair egress uses, or WG_NO_SLOT */
	__u32 configured;     /* 100 1 once WG_OP_PEER ran */
	__u64 generation;     /* 104 provisioning operations applied */
};                            /* 112 */

/* Value of the array `wg_keypairs` (WG_KEYPAIRS entries). Readable from
 * userspace (the lock reads as 0); written only by the provision program
 * and the data plane. */
struct wg_keypair {
	struct bpf_spin_lock lock; /*   0 guards replay_top and replay */
	__u32 valid;               /*   4 1: installed */
	__u32 local_index;         /*   8 receiver index of messages to us */
	__u32 remote_index;        /*  12 receiver index of messages we send */
	__u64 created_ns;          /*  16 bpf_ktime_get_ns() at install */
	__u64 send_counter;        /*  24 next counter to send (atomic add) */
	__u64 replay_top;          /*  32 highest counter received + 1; 0: none yet */
	__u32 confirmed;           /*  40 1 once it may send (see WG_F_CONFIRMED) */
	__u32 _pad;                /*  44 */
	__u64 received;            /*  48 messages authenticated under it */
	__u8 send_key[WG_KEY_LEN]; /*  56 */
	__u8 recv_key[WG_KEY_LEN]; /*  88 */
	__u64 replay[WG_REPLAY_WORDS]; /* 120 ring bitmap */
};                                 /* 1144 */

/*
 * Context passed to `provision` with BPF_PROG_RUN (ctx_in only); the
 * kernel copies it back, so `status` and `generation` are outputs.
 * WG_OP_KEYPAIR fills slot `slot` with the indexes and keys, created_ns =
 * now, counters and window reset, confirmed = flags & WG_F_CONFIRMED; a
 * keypair installed unconfirmed (the responder's) becomes the sending one
 * when ingress first authenticates a message under it.
 */
struct wg_provision {
	__u32 op;            /*   0 WG_OP_* */
	__u32 slot;          /*   4 < WG_KEYPAIRS (CLEAR: or WG_NO_SLOT) */
	__u32 flags;         /*   8 WG_F_* */
	__s32 status;        /*  12 out: 0 or -errno */
	__u32 local_index;   /*  16 KEYPAIR */
	__u32 remote_index;  /*  20 KEYPAIR */
	__u64 generation;    /*  24 out */
	__u8 send_key[WG_KEY_LEN]; /*  32 KEYPAIR */
	__u8 recv_key[WG_KEY_LEN]; /*  64 KEYPAIR */
	struct wg_peer peer; /*  96 PEER (send_slot, configured, generation ignored) */
};                           /* 208 */

/* Per-CPU counters (map `stats`, one element): the common counters first
 * (`dropped_nokey`: no sending keypair; `dropped_unsupported`: GSO
 * super-packets, non-IPv4 inner, too large; `dropped_invalid`: bad inner
 * packet after decryption, cleartext from the peer's allowed IPs), then the
 * ESP-named ones with WireGuard's meaning, then WireGuard's own. */
struct wg_stats {
	struct bpfcrypt_stats base; /*   0 */
	__u64 auth_failed;     /*  88 tag mismatch */
	__u64 replayed;        /*  96 counter seen before or left of the window */
	__u64 seq_exhausted;   /* 104 counter limit reached (send or receive) */
	__u64 unknown_spi;     /* 112 no keypair has the receiver index */
	__u64 not_allowed;     /* 120 inner source outside the peer's allowed IPs */
	__u64 expired;         /* 128 keypair older than reject_after_ns */
	__u64 keepalives;      /* 136 empty messages authenticated */
	__u64 handshakes;      /* 144 handshake messages passed to userspace */
};                             /* 152 */

_Static_assert(__builtin_offsetof(struct wg_stats, base) == 0, "wg_stats: base first");

#endif
