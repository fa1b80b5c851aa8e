/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The base every BPF object of the lab is built on (crypto_dp.bpf.c, the
 * raw format; esp_dp.bpf.c, ESP; cipher_only.bpf.c, the bench's kfunc
 * probe): the maps each has (`stats`, `scratch`), counting, frame parsing,
 * the IPv4 header rewrite, the test IV, and creating and swapping
 * bpf_crypto contexts held as kptrs. The tamper test program is in
 * bpfcrypt_tamper.h.
 *
 * Include it first. A format with counters or scratch of its own names
 * their structs in BPFCRYPT_STATS and BPFCRYPT_SCRATCH before including it
 * (they may be defined later); its counters must begin with
 * struct bpfcrypt_stats, which the base code counts through.
 */
#ifndef BPFCRYPT_BASE_H
#define BPFCRYPT_BASE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "bpfcrypt_abi.h"

char LICENSE[] SEC("license") = "GPL";

/* tcx verdicts: packets a data plane lets through continue to the next
 * program on the hook (TCX_NEXT), so other programs (a policy, the tamper
 * test program) can follow it; drops are final. */
#ifndef TCX_NEXT
#define TCX_NEXT -1
#endif
#define MAYBE_UNUSED __attribute__((unused))

#define E_NOENT 2
#define E_EXIST 17
#define E_INVAL 22

/* A single-element array map: per CPU (BPF_MAP_TYPE_PERCPU_ARRAY) for
 * counters and scratch, shared (BPF_MAP_TYPE_ARRAY) for keys and settings. */
#define SLOT_MAP(map_type, value_type, map_name)                                                   \
	struct {                                                                                   \
		__uint(type, map_type);                                                            \
		__uint(max_entries, 1);                                                            \
		__type(key, __u32);                                                                \
		__type(value, value_type);                                                         \
	} map_name SEC(".maps")

/* The one element of a SLOT_MAP (this CPU's, per CPU); NULL only if the
 * map is broken, which the callers count as an error. */
static __always_inline MAYBE_UNUSED void *slot(void *map)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(map, &zero);
}

#ifndef BPFCRYPT_STATS
#define BPFCRYPT_STATS struct bpfcrypt_stats
#endif
#ifndef BPFCRYPT_SCRATCH
#define BPFCRYPT_SCRATCH struct bpfcrypt_scratch
#endif

SLOT_MAP(BPF_MAP_TYPE_PERCPU_ARRAY, BPFCRYPT_STATS, stats);
SLOT_MAP(BPF_MAP_TYPE_PERCPU_ARRAY, BPFCRYPT_SCRATCH, scratch);

static __always_inline MAYBE_UNUSED BPFCRYPT_STATS *get_stats(void)
{
	return slot(&stats);
}

/* The common counters at the start of the format's own. */
static __always_inline MAYBE_UNUSED struct bpfcrypt_stats *common_stats(BPFCRYPT_STATS *st)
{
	return (struct bpfcrypt_stats *)st;
}

static __always_inline MAYBE_UNUSED BPFCRYPT_SCRATCH *get_scratch(void)
{
	return slot(&scratch);
}

/* Adds n to a counter; counters are best effort (no stats map, no count). */
#define COUNT(st, field, n)                                                                        \
	do {                                                                                       \
		if (st)                                                                            \
			(st)->field += (n);                                                        \
	} while (0)

/* Counts a dropped packet under field and gives the verdict that drops
 * it: `return DROP(st, base.dropped_invalid);`. */
#define DROP(st, field)                                                                            \
	({                                                                                         \
		COUNT(st, field, 1);                                                               \
		TC_ACT_SHOT;                                                                       \
	})

/* Bounds a length for the verifier to [1, max]; `fail` (a return or a
 * goto) runs when it is outside. Upper bound first, then zero, each after
 * a barrier: tested together, or in the other order, 7.x verifiers may keep
 * the lower bound at 0 ("invalid zero-sized read" at a helper call). */
#define BOUND_LEN(len, max, fail)                                                                  \
	do {                                                                                       \
		barrier_var(len);                                                                  \
		if ((len) > (max))                                                                 \
			fail;                                                                      \
		barrier_var(len);                                                                  \
		if ((len) == 0)                                                                    \
			fail;                                                                      \
	} while (0)

/* The IPv4 header with its options, at most 60 bytes. */
union ip_buf {
	struct iphdr iph;
	__u8 raw[60];
};

/* parse(): also drop fragments (ESP: a transport-mode packet cannot be
 * fragmented before protection, nor verified before reassembly). */
#define PARSE_NO_FRAGMENTS 1

/* Parse the frame: pass ARP, drop anything else that is not plain IPv4
 * (counted as dropped_unsupported). Returns 1 to process, 0 to pass, -1 to
 * drop. On 1, ip holds the whole header (options included), *ihl4 its
 * length and *plen the payload length. */
static __always_inline MAYBE_UNUSED int parse(struct __sk_buff *skb, struct bpfcrypt_stats *st,
					      union ip_buf *ip, __u64 *ihl4, __u64 *plen,
					      int flags)
{
	__u64 hl;
	__u16 tot;

	if (skb->protocol == bpf_htons(ETH_P_ARP)) {
		COUNT(st, passed, 1);
		return 0;
	}
	if (skb->protocol != bpf_htons(ETH_P_IP) || skb->gso_size != 0)
		goto unsupported;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip->iph, sizeof(ip->iph)) < 0)
		goto unsupported;
	hl = ip->iph.ihl * 4;
	tot = bpf_ntohs(ip->iph.tot_len);
	if (ip->iph.version != 4 || hl < sizeof(ip->iph) || tot < hl ||
	    skb->len < ETH_HLEN + (__u32)tot)
		goto unsupported;
	if ((flags & PARSE_NO_FRAGMENTS) && (ip->iph.frag_off & bpf_htons(0x3fff)))
		goto unsupported; /* MF or a fragment offset */
	if (hl > sizeof(ip->iph)) {
		hl &= 0x3c;
		if (hl < sizeof(ip->iph) || bpf_skb_load_bytes(skb, ETH_HLEN, ip->raw, hl) < 0)
			goto unsupported;
	}
	*ihl4 = hl;
	*plen = tot - hl;
	return 1;
unsupported:
	COUNT(st, dropped_unsupported, 1);
	return -1;
}

/* Fold a 32-bit ones' complement sum to 16 bits. */
static __always_inline MAYBE_UNUSED __u16 csum_fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* The TCP/UDP checksum of an inner packet: a CHECKSUM_PARTIAL skb holds
 * only the pseudo-header sum, which nobody completes once the packet is
 * encrypted, so a format that carries the packet whole completes it in
 * three steps: l4_csum_offset(), then the sum of the pseudo-header
 * (l4_pseudo_sum()) and of the segment with its checksum field zeroed,
 * then l4_csum_final(). bpf_csum_diff sizes are taken CSUM_CHUNK bytes at
 * a time: older kernels (6.12 among them) refuse sizes over 512 bytes or
 * not a multiple of 4. */
#define CSUM_CHUNK 256

/* Offset of the checksum field in a TCP or UDP segment of plen bytes;
 * -1 for other protocols (ICMP carries a complete checksum) and for a
 * segment too short to have one. */
static __always_inline MAYBE_UNUSED int l4_csum_offset(const struct iphdr *iph, __u64 plen)
{
	if (iph->protocol == IPPROTO_UDP && plen >= 8)
		return 6;
	if (iph->protocol == IPPROTO_TCP && plen >= 20)
		return 16;
	return -1;
}

/* The sum of the TCP/UDP pseudo-header of iph's segment of plen bytes;
 * negative on error. */
static __always_inline MAYBE_UNUSED __s64 l4_pseudo_sum(const struct iphdr *iph, __u64 plen)
{
	struct {
		__be32 saddr;
		__be32 daddr;
		__u8 zero;
		__u8 proto;
		__be16 len;
	} ph;

	ph.saddr = iph->saddr;
	ph.daddr = iph->daddr;
	ph.zero = 0;
	ph.proto = iph->protocol;
	ph.len = bpf_htons((__u16)plen);
	return bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
}

/* The checksum field's value for the whole sum: 0 would mean "no
 * checksum" in UDP (RFC 768), so UDP sends 0xffff instead. */
static __always_inline MAYBE_UNUSED __u16 l4_csum_final(const struct iphdr *iph, __u64 sum)
{
	__u16 csum = (__u16)~csum_fold(sum);

	if (csum == 0 && iph->protocol == IPPROTO_UDP)
		csum = 0xffff;
	return csum;
}

/* store_ip_header(): how the header checksum follows the change. */
#define IP_CSUM_UPDATE 0  /* incrementally (RFC 1624): a wrong one stays wrong */
#define IP_CSUM_REBUILD 1 /* computed afresh over the header */

/* Write the IPv4 header ip (ihl4 bytes) at offset `at` of the frame with
 * total length tot and protocol proto. The raw format updates the checksum
 * (IP_CSUM_UPDATE), so that ingress gives back byte for byte the header
 * egress was given, even one with a wrong checksum; ESP rebuilds it
 * (IP_CSUM_REBUILD). flags go to bpf_skb_store_bytes. */
static __always_inline MAYBE_UNUSED int store_ip_header(struct __sk_buff *skb, union ip_buf *ip,
							 __u64 ihl4, __u64 at, __u64 tot, __u8 proto,
							 int csum, __u64 flags)
{
	__u16 *w = (__u16 *)ip->raw;
	__u64 sum = (__u16)~ip->iph.check;
	__s64 full;

	/* Word 1 is the total length, word 4 TTL and protocol. */
	sum += (__u16)~w[1];
	if (proto != ip->iph.protocol)
		sum += (__u16)~w[4];
	ip->iph.tot_len = bpf_htons((__u16)tot);
	sum += w[1];
	if (proto != ip->iph.protocol) {
		ip->iph.protocol = proto;
		sum += w[4];
	}
	barrier_var(ihl4);
	ihl4 &= 0x3c;
	if (ihl4 < sizeof(ip->iph))
		return -1;
	if (csum == IP_CSUM_REBUILD) {
		ip->iph.check = 0;
		full = bpf_csum_diff(NULL, 0, (__be32 *)ip->raw, ihl4, 0);
		if (full < 0)
			return -1;
		sum = full;
	}
	ip->iph.check = (__u16)~csum_fold(sum);
	return bpf_skb_store_bytes(skb, at, ip->raw, ihl4, flags);
}

#ifdef DP_TEST_IV
/* Test builds only: a fixed IV, set by the loader before load (struct
 * bpfcrypt_test_iv), so that two builds can be compared byte for byte. */
const volatile struct bpfcrypt_test_iv test_iv SEC(".rodata.test_iv") = {};
#endif

/* Copies the fixed test IV into iv and returns 1 when the loader set one
 * (test builds); 0 otherwise, and always in production builds. */
static __always_inline MAYBE_UNUSED int fixed_test_iv(__u8 *iv)
{
#ifdef DP_TEST_IV
	__u32 i;

	if (test_iv.fixed) {
		for (i = 0; i < BPFCRYPT_BLOCK; i++)
			iv[i] = test_iv.iv[i];
		return 1;
	}
#endif
	return 0;
}

/* Initialiser of the parameters of an skcipher context, all else zero. */
#define SKCIPHER_PARAMS { .type = "skcipher" }

/* Sets the algorithm of p to algo, NUL-terminated within its 32 bytes.
 * algo, like the key below, is an 8-byte aligned field of a provisioning
 * context: copied word by word. */
static __always_inline MAYBE_UNUSED void crypto_params_algo(struct bpf_crypto_params *p,
							    const char *algo)
{
	__builtin_memcpy(p->algo, __builtin_assume_aligned(algo, 8), 32);
	p->algo[31] = 0;
}

/* A context for p's algorithm with the first key_len bytes of key (a
 * 32-byte buffer); the key is wiped from p again. NULL when the kernel
 * refuses, *err then holds -errno. */
static __always_inline MAYBE_UNUSED struct bpf_crypto_ctx *
crypto_ctx_new(struct bpf_crypto_params *p, const __u8 *key, __u32 key_len, int *err)
{
	struct bpf_crypto_ctx *ctx;

	*err = 0;
	__builtin_memcpy(p->key, __builtin_assume_aligned(key, 8), 32);
	p->key_len = key_len;
	ctx = bpf_crypto_ctx_create(p, sizeof(*p), err);
	__builtin_memset(p->key, 0, 32);
	if (!ctx && !*err)
		*err = -E_INVAL;
	return ctx;
}

/* Stores ctx (or NULL) in a kptr field and releases the context it held:
 * a first install, a rotation and a removal alike. */
static __always_inline MAYBE_UNUSED void crypto_ctx_swap(struct bpf_crypto_ctx __kptr **field,
							 struct bpf_crypto_ctx *ctx)
{
	struct bpf_crypto_ctx *old = bpf_kptr_xchg(field, ctx);

	if (old)
		bpf_crypto_ctx_release(old);
}

#endif /* BPFCRYPT_BASE_H */
