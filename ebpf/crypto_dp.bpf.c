// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bpfcrypt data plane: TC egress encrypts the IPv4 payload, TC ingress
 * decrypts it, a SYSCALL program provisions (and rotates) the key.
 *
 * Wire format, after the untouched IPv4 header:
 *   cbc(aes): IV (16 bytes) || CBC(payload || PKCS#7 padding)
 *   ecb(aes):                  ECB(payload || PKCS#7 padding)
 * The IP total length and header checksum are updated; the protocol
 * field is kept. Padding is always 1..16 bytes, so nothing of the
 * payload is ever sent in clear.
 *
 * Variants, chosen at build time (same source):
 *   DP_VARIANT_CRYPTO (default)  the data plane above
 *   DP_VARIANT_COPY              bounce the payload through the scratch
 *                                buffers, no crypto (cost of the copy)
 *   DP_VARIANT_NOOP              attach only, return TCX_NEXT
 *
 * Options of the crypto variant:
 *   DP_INPLACE   encrypt/decrypt on the packet itself (skb dynptr adjusted
 *                to the payload, src == dst) instead of bouncing it through
 *                the scratch buffers; same bytes on the wire
 *   DP_TEST_IV   test builds only: a fixed IV (struct bpfcrypt_test_iv,
 *                set by the loader before load, off by default) so that
 *                two builds can be compared byte for byte
 *
 * Option of the crypto and copy variants:
 *   DP_EXTRA_COPY  a known regression (`lab bench --inject extra-copy`):
 *                  the payload is copied from the packet into scratch once
 *                  more per packet; the output is unchanged, so only the
 *                  cost differs and `lab compare` must flag it
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "bpfcrypt_abi.h"

#if !defined(DP_VARIANT_COPY) && !defined(DP_VARIANT_NOOP)
#define DP_VARIANT_CRYPTO 1
#endif

#define KPTR __attribute__((btf_type_tag("kptr")))

/* tcx verdicts: packets the data plane lets through continue to the next
 * program on the hook (TCX_NEXT), so other programs (a policy, the tamper
 * test program) can follow it; drops are final. */
#ifndef TCX_NEXT
#define TCX_NEXT -1
#endif
#define MAYBE_UNUSED __attribute__((unused))

/* One more copy of LEN payload bytes at OFF into scratch buffer BUF, which
 * the program overwrites afterwards (DP_EXTRA_COPY builds only). */
#ifdef DP_EXTRA_COPY
#define EXTRA_COPY(skb, off, buf, len)                             \
	do {                                                       \
		if (bpf_skb_load_bytes(skb, off, buf, len) < 0)    \
			return TC_ACT_SHOT;                        \
	} while (0)
#else
#define EXTRA_COPY(skb, off, buf, len) do { } while (0)
#endif

char LICENSE[] SEC("license") = "GPL";

/* Kernel types and kfuncs (Linux 6.10+). */
#include "bpf_crypto_kfuncs.h"
#ifdef DP_INPLACE
extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags,
			       struct bpf_dynptr *ptr__uninit) __ksym __weak;
extern int bpf_dynptr_clone(const struct bpf_dynptr *ptr, struct bpf_dynptr *clone__uninit) __ksym __weak;
extern int bpf_dynptr_adjust(const struct bpf_dynptr *ptr, __u32 start, __u32 end) __ksym __weak;
#endif
#ifdef DP_TEST_IV
const volatile struct bpfcrypt_test_iv test_iv SEC(".rodata.test_iv") = {};
#endif

struct key_slot {
	__u32 iv_len;
	__u32 _pad;
	__u64 generation;
	struct bpf_crypto_ctx KPTR *ctx;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct key_slot);
} keys SEC(".maps");

struct scratch {
	__u8 iv[BPFCRYPT_BLOCK];
	__u8 src[BPFCRYPT_BUF];
	__u8 dst[BPFCRYPT_BUF]; /* above src: kernels 6.10-6.16 corrupt memory when dst < src */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpfcrypt_stats);
} stats SEC(".maps");

#define IP_OFF ETH_HLEN
#define IP_CSUM_OFF (ETH_HLEN + __builtin_offsetof(struct iphdr, check))
#define IP_TOTLEN_OFF (ETH_HLEN + __builtin_offsetof(struct iphdr, tot_len))

static __always_inline MAYBE_UNUSED struct bpfcrypt_stats *get_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
}

#define COUNT(st, field, n)                                                                        \
	do {                                                                                       \
		if (st)                                                                            \
			(st)->field += (n);                                                        \
	} while (0)

/* Parse the frame: pass ARP, drop anything else that is not plain IPv4.
 * Returns 1 when the caller should process an IPv4 packet, 0 to pass,
 * -1 to drop. On 1, *hoff is the payload offset and *plen its length. */
static __always_inline MAYBE_UNUSED int parse(struct __sk_buff *skb, struct bpfcrypt_stats *st,
				 struct iphdr *iph, __u64 *hoff, __u64 *plen)
{
	__u32 ihl_bytes;
	__u16 tot;

	if (skb->protocol == bpf_htons(ETH_P_ARP)) {
		COUNT(st, passed, 1);
		return 0;
	}
	if (skb->protocol != bpf_htons(ETH_P_IP) || skb->gso_size != 0) {
		COUNT(st, dropped_unsupported, 1);
		return -1;
	}
	if (bpf_skb_load_bytes(skb, IP_OFF, iph, sizeof(*iph)) < 0) {
		COUNT(st, dropped_unsupported, 1);
		return -1;
	}
	ihl_bytes = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	if (iph->version != 4 || ihl_bytes < sizeof(*iph) || tot < ihl_bytes ||
	    skb->len < ETH_HLEN + (__u32)tot) {
		COUNT(st, dropped_unsupported, 1);
		return -1;
	}
	*hoff = ETH_HLEN + ihl_bytes;
	*plen = tot - ihl_bytes;
	return 1;
}

/* Set IP total length (and the header checksum) and resize the frame. */
static __always_inline MAYBE_UNUSED int set_ip_len(struct __sk_buff *skb, struct iphdr *iph, __u64 hoff,
				      __u64 new_plen)
{
	__be16 old_tot = iph->tot_len;
	__be16 new_tot = bpf_htons((__u16)(hoff - ETH_HLEN + new_plen));

	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_tot, new_tot, sizeof(new_tot)) < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, IP_TOTLEN_OFF, &new_tot, sizeof(new_tot), 0) < 0)
		return -1;
	return 0;
}

static __always_inline MAYBE_UNUSED struct scratch *get_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

#ifdef DP_VARIANT_CRYPTO

static __always_inline struct key_slot *get_key(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&keys, &zero);
}

/* The key slot when a context is installed; otherwise NULL, counted as an
 * error (no map) or as dropped_nokey: the caller drops (fail closed). */
static __always_inline struct key_slot *installed_key(struct bpfcrypt_stats *st)
{
	struct key_slot *key = get_key();

	if (!key) {
		COUNT(st, errors, 1);
		return NULL;
	}
	if (!key->ctx) {
		COUNT(st, dropped_nokey, 1);
		return NULL;
	}
	return key;
}

#ifdef DP_INPLACE
/* In place: the payload range of the packet is both source and destination
 * of the cipher (src == dst, the only overlap the crypto API supports);
 * only the IV is in scratch, because CBC writes its last ciphertext block
 * back into it. The bytes on the wire are those of the bounce path. The
 * range must be linear and the skb not cloned: bpf_skb_pull_data() first,
 * since a kfunc write through a dynptr does not unclone the skb. */

/* The IPv4 header with its options, at most 60 bytes. */
union ip_hdr_buf {
	struct iphdr iph;
	__u8 raw[60];
};

/* Copy the IPv4 header (ihl4 bytes) from offset `from` to offset `to`:
 * room added or removed between L2 and L3 moves it. */
static __always_inline int move_ip_header(struct __sk_buff *skb, __u64 ihl4, __u32 from, __u32 to)
{
	union ip_hdr_buf h;

	barrier_var(ihl4);
	ihl4 &= 0x3c;
	if (ihl4 < sizeof(struct iphdr))
		return -1;
	if (bpf_skb_load_bytes(skb, from, h.raw, ihl4) < 0)
		return -1;
	return bpf_skb_store_bytes(skb, to, h.raw, ihl4, 0);
}

static __always_inline int encrypt_inplace(struct __sk_buff *skb, struct bpfcrypt_stats *st,
					   struct bpf_crypto_ctx *cctx, struct scratch *s,
					   struct iphdr *iph, __u64 hoff, __u64 plen, __u64 iv_len)
{
	struct bpf_dynptr pkt, pd, piv;
	__u64 pad, padded, i;
	int ret;

	/* PKCS#7, staged in scratch: 1..16 bytes holding the pad length. */
	pad = BPFCRYPT_BLOCK - (plen % BPFCRYPT_BLOCK);
	padded = plen + pad;
	for (i = 0; i < BPFCRYPT_BLOCK; i++) {
		if (i >= pad)
			break;
		s->src[i] = (__u8)pad;
	}
	/* Grow the tail by the padding (this also linearises and unclones),
	 * then for CBC insert room for the IV between L2 and L3 and move the
	 * IPv4 header back in front of it: the payload does not move. */
	if (bpf_skb_change_tail(skb, hoff + padded, 0) < 0)
		goto error;
	if (iv_len && (bpf_skb_adjust_room(skb, BPFCRYPT_BLOCK, BPF_ADJ_ROOM_MAC, 0) < 0 ||
		       move_ip_header(skb, hoff - ETH_HLEN, IP_OFF + BPFCRYPT_BLOCK, IP_OFF) < 0))
		goto error;
	if (set_ip_len(skb, iph, hoff, iv_len + padded) < 0 ||
	    bpf_skb_pull_data(skb, hoff + iv_len + padded) < 0 ||
	    bpf_dynptr_from_skb(skb, 0, &pkt) < 0)
		goto error;
	if (pad == 0 || pad > BPFCRYPT_BLOCK ||
	    bpf_dynptr_write(&pkt, hoff + iv_len + plen, s->src, pad, 0) < 0)
		goto error;
	bpf_dynptr_clone(&pkt, &pd);
	if (bpf_dynptr_adjust(&pd, hoff + iv_len, hoff + iv_len + padded) < 0)
		goto error;
	if (iv_len) {
		__u32 *iv = (__u32 *)s->iv;

		iv[0] = bpf_get_prandom_u32();
		iv[1] = bpf_get_prandom_u32();
		iv[2] = bpf_get_prandom_u32();
		iv[3] = bpf_get_prandom_u32();
#ifdef DP_TEST_IV
		if (test_iv.fixed)
			for (i = 0; i < BPFCRYPT_BLOCK; i++)
				s->iv[i] = test_iv.iv[i];
#endif
		if (bpf_skb_store_bytes(skb, hoff, s->iv, BPFCRYPT_BLOCK, 0) < 0)
			goto error;
		bpf_dynptr_from_mem(s->iv, BPFCRYPT_BLOCK, 0, &piv);
		ret = bpf_crypto_encrypt(cctx, &pd, &pd, &piv);
	} else {
		ret = bpf_crypto_encrypt(cctx, &pd, &pd, NULL);
	}
	if (ret < 0)
		goto error;
	COUNT(st, encrypted, 1);
	COUNT(st, encrypted_bytes, plen);
	return TCX_NEXT;
error:
	COUNT(st, errors, 1);
	return TC_ACT_SHOT;
}

static __always_inline int decrypt_inplace(struct __sk_buff *skb, struct bpfcrypt_stats *st,
					   struct bpf_crypto_ctx *cctx, struct scratch *s,
					   struct iphdr *iph, __u64 hoff, __u64 clen, __u64 iv_len)
{
	struct bpf_dynptr pkt, pd, piv;
	__u64 pad, plen, i;
	__u8 bad = 0;
	int ret;

	if (bpf_skb_pull_data(skb, hoff + iv_len + clen) < 0 ||
	    bpf_dynptr_from_skb(skb, 0, &pkt) < 0)
		goto error;
	bpf_dynptr_clone(&pkt, &pd);
	if (bpf_dynptr_adjust(&pd, hoff + iv_len, hoff + iv_len + clen) < 0)
		goto error;
	if (iv_len) {
		if (bpf_skb_load_bytes(skb, hoff, s->iv, BPFCRYPT_BLOCK) < 0)
			goto error;
		bpf_dynptr_from_mem(s->iv, BPFCRYPT_BLOCK, 0, &piv);
		ret = bpf_crypto_decrypt(cctx, &pd, &pd, &piv);
	} else {
		ret = bpf_crypto_decrypt(cctx, &pd, &pd, NULL);
	}
	if (ret < 0)
		goto error;

	/* The last block holds the padding. */
	if (bpf_dynptr_read(s->dst, BPFCRYPT_BLOCK, &pd, clen - BPFCRYPT_BLOCK, 0) < 0)
		goto error;
	pad = s->dst[BPFCRYPT_BLOCK - 1];
	if (pad == 0 || pad > BPFCRYPT_BLOCK) {
		COUNT(st, dropped_invalid, 1);
		return TC_ACT_SHOT;
	}
	for (i = 1; i <= BPFCRYPT_BLOCK; i++) {
		if (i > pad)
			break;
		bad |= s->dst[(BPFCRYPT_BLOCK - i) & (BPFCRYPT_BLOCK - 1)] ^ (__u8)pad;
	}
	plen = clen - pad;
	if (bad || plen == 0) {
		COUNT(st, dropped_invalid, 1);
		return TC_ACT_SHOT;
	}
	/* Move the IPv4 header onto the IV, then remove the IV's 16 bytes
	 * between L2 and L3; trim the padding. */
	if (iv_len && (move_ip_header(skb, hoff - ETH_HLEN, IP_OFF, IP_OFF + BPFCRYPT_BLOCK) < 0 ||
		       bpf_skb_adjust_room(skb, -BPFCRYPT_BLOCK, BPF_ADJ_ROOM_MAC, 0) < 0))
		goto error;
	if (set_ip_len(skb, iph, hoff, plen) < 0 || bpf_skb_change_tail(skb, hoff + plen, 0) < 0)
		goto error;
	COUNT(st, decrypted, 1);
	COUNT(st, decrypted_bytes, plen);
	return TCX_NEXT;
error:
	COUNT(st, errors, 1);
	return TC_ACT_SHOT;
}
#endif

SEC("tcx/egress")
int encrypt_egress(struct __sk_buff *skb)
{
	struct bpfcrypt_stats *st = get_stats();
	struct bpf_dynptr psrc, pdst, piv;
	struct bpf_crypto_ctx *cctx;
	struct key_slot *key;
	struct scratch *s;
	struct iphdr iph;
	__u64 hoff, plen, padded, pad, iv_len, i;
	int ret;

	ret = parse(skb, st, &iph, &hoff, &plen);
	if (ret <= 0)
		return ret == 0 ? TCX_NEXT : TC_ACT_SHOT;

	key = installed_key(st);
	if (!key)
		return TC_ACT_SHOT;
	cctx = key->ctx; /* reloaded: a rekey may have swapped it */
	if (!cctx)
		return TC_ACT_SHOT;
	iv_len = key->iv_len ? BPFCRYPT_BLOCK : 0;

	if (plen == 0 || plen > BPFCRYPT_MAX_PLAIN) {
		COUNT(st, dropped_unsupported, 1);
		return TC_ACT_SHOT;
	}
	s = get_scratch();
	if (!s) {
		COUNT(st, errors, 1);
		return TC_ACT_SHOT;
	}
	barrier_var(plen);
	if (plen == 0 || plen > BPFCRYPT_MAX_PLAIN)
		return TC_ACT_SHOT;
	EXTRA_COPY(skb, hoff, s->dst, plen);
#ifdef DP_INPLACE
	return encrypt_inplace(skb, st, cctx, s, &iph, hoff, plen, iv_len);
#endif
	if (bpf_skb_load_bytes(skb, hoff, s->src, plen) < 0) {
		COUNT(st, errors, 1);
		return TC_ACT_SHOT;
	}

	/* PKCS#7: always 1..16 bytes, each holding the pad length. */
	pad = BPFCRYPT_BLOCK - (plen % BPFCRYPT_BLOCK);
	padded = plen + pad;
	for (i = 0; i < BPFCRYPT_BLOCK; i++) {
		if (i >= pad)
			break;
		s->src[(plen + i) & (BPFCRYPT_BUF - 1)] = (__u8)pad;
	}

	if (bpf_skb_change_tail(skb, hoff + iv_len + padded, 0) < 0) {
		COUNT(st, errors, 1);
		return TC_ACT_SHOT;
	}
	if (set_ip_len(skb, &iph, hoff, iv_len + padded) < 0) {
		COUNT(st, errors, 1);
		return TC_ACT_SHOT;
	}

	barrier_var(padded);
	if (padded == 0 || padded > BPFCRYPT_BUF)
		return TC_ACT_SHOT;
	bpf_dynptr_from_mem(s->src, padded, 0, &psrc);
	bpf_dynptr_from_mem(s->dst, padded, 0, &pdst);
	if (iv_len) {
		/* Fresh random IV per packet; it goes on the wire before the
		 * encryption overwrites s->iv with the last ciphertext block. */
		__u32 *iv = (__u32 *)s->iv;

		iv[0] = bpf_get_prandom_u32();
		iv[1] = bpf_get_prandom_u32();
		iv[2] = bpf_get_prandom_u32();
		iv[3] = bpf_get_prandom_u32();
#ifdef DP_TEST_IV
		if (test_iv.fixed)
			for (i = 0; i < BPFCRYPT_BLOCK; i++)
				s->iv[i] = test_iv.iv[i];
#endif
		if (bpf_skb_store_bytes(skb, hoff, s->iv, BPFCRYPT_BLOCK, 0) < 0) {
			COUNT(st, errors, 1);
			return TC_ACT_SHOT;
		}
		bpf_dynptr_from_mem(s->iv, BPFCRYPT_BLOCK, 0, &piv);
		ret = bpf_crypto_encrypt(cctx, &psrc, &pdst, &piv);
	} else {
		ret = bpf_crypto_encrypt(cctx, &psrc, &pdst, NULL);
	}
	if (ret < 0) {
		COUNT(st, errors, 1);
		return TC_ACT_SHOT;
	}
	if (bpf_skb_store_bytes(skb, hoff + iv_len, s->dst, padded, 0) < 0) {
		COUNT(st, errors, 1);
		return TC_ACT_SHOT;
	}
	COUNT(st, encrypted, 1);
	COUNT(st, encrypted_bytes, plen);
	return TCX_NEXT;
}

SEC("tcx/ingress")
int decrypt_ingress(struct __sk_buff *skb)
{
	struct bpfcrypt_stats *st = get_stats();
	struct bpf_dynptr psrc, pdst, piv;
	struct bpf_crypto_ctx *cctx;
	struct key_slot *key;
	struct scratch *s;
	struct iphdr iph;
	__u64 hoff, wlen, clen, plen, pad, iv_len, i;
	__u8 bad = 0;
	int ret;

	ret = parse(skb, st, &iph, &hoff, &wlen);
	if (ret <= 0)
		return ret == 0 ? TCX_NEXT : TC_ACT_SHOT;

	key = installed_key(st);
	if (!key)
		return TC_ACT_SHOT;
	cctx = key->ctx; /* reloaded: a rekey may have swapped it */
	if (!cctx)
		return TC_ACT_SHOT;
	iv_len = key->iv_len ? BPFCRYPT_BLOCK : 0;

	clen = wlen - iv_len;
	if (wlen < iv_len + BPFCRYPT_BLOCK || clen % BPFCRYPT_BLOCK || clen > BPFCRYPT_BUF) {
		COUNT(st, dropped_invalid, 1);
		return TC_ACT_SHOT;
	}
	s = get_scratch();
	if (!s) {
		COUNT(st, errors, 1);
		return TC_ACT_SHOT;
	}
	barrier_var(clen);
	if (clen == 0 || clen > BPFCRYPT_BUF)
		return TC_ACT_SHOT;
	EXTRA_COPY(skb, hoff + iv_len, s->dst, clen);
#ifdef DP_INPLACE
	return decrypt_inplace(skb, st, cctx, s, &iph, hoff, clen, iv_len);
#endif
	if (bpf_skb_load_bytes(skb, hoff + iv_len, s->src, clen) < 0) {
		COUNT(st, errors, 1);
		return TC_ACT_SHOT;
	}
	bpf_dynptr_from_mem(s->src, clen, 0, &psrc);
	bpf_dynptr_from_mem(s->dst, clen, 0, &pdst);
	if (iv_len) {
		if (bpf_skb_load_bytes(skb, hoff, s->iv, BPFCRYPT_BLOCK) < 0) {
			COUNT(st, errors, 1);
			return TC_ACT_SHOT;
		}
		bpf_dynptr_from_mem(s->iv, BPFCRYPT_BLOCK, 0, &piv);
		ret = bpf_crypto_decrypt(cctx, &psrc, &pdst, &piv);
	} else {
		ret = bpf_crypto_decrypt(cctx, &psrc, &pdst, NULL);
	}
	if (ret < 0) {
		COUNT(st, errors, 1);
		return TC_ACT_SHOT;
	}

	pad = s->dst[(clen - 1) & (BPFCRYPT_BUF - 1)];
	if (pad == 0 || pad > BPFCRYPT_BLOCK) {
		COUNT(st, dropped_invalid, 1);
		return TC_ACT_SHOT;
	}
	for (i = 1; i <= BPFCRYPT_BLOCK; i++) {
		if (i > pad)
			break;
		bad |= s->dst[(clen - i) & (BPFCRYPT_BUF - 1)] ^ (__u8)pad;
	}
	plen = clen - pad;
	if (bad || plen == 0) {
		COUNT(st, dropped_invalid, 1);
		return TC_ACT_SHOT;
	}

	barrier_var(plen);
	if (plen == 0 || plen > BPFCRYPT_BUF)
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, hoff, s->dst, plen, 0) < 0 ||
	    set_ip_len(skb, &iph, hoff, plen) < 0 ||
	    bpf_skb_change_tail(skb, hoff + plen, 0) < 0) {
		COUNT(st, errors, 1);
		return TC_ACT_SHOT;
	}
	COUNT(st, decrypted, 1);
	COUNT(st, decrypted_bytes, plen);
	return TCX_NEXT;
}

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpfcrypt_tamper);
} tamper SEC(".maps");

/* Test helper, attached only by tamper scenarios after encrypt_egress:
 * flips one byte of the (encrypted) IPv4 payload, keeping the IP header
 * valid, to see what the receiver delivers without integrity protection. */
SEC("tcx/egress")
int tamper_egress(struct __sk_buff *skb)
{
	struct bpfcrypt_stats *st = get_stats();
	struct bpfcrypt_tamper *cfg;
	__u32 zero = 0, off;
	struct iphdr iph;
	__u8 b;

	cfg = bpf_map_lookup_elem(&tamper, &zero);
	if (!cfg || !cfg->enabled || skb->protocol != bpf_htons(ETH_P_IP))
		return TCX_NEXT;
	if (bpf_skb_load_bytes(skb, IP_OFF, &iph, sizeof(iph)) < 0)
		return TCX_NEXT;
	off = ETH_HLEN + iph.ihl * 4 + cfg->offset;
	if (off >= skb->len || bpf_skb_load_bytes(skb, off, &b, 1) < 0)
		return TCX_NEXT;
	b ^= cfg->xor_mask;
	if (bpf_skb_store_bytes(skb, off, &b, 1, 0) < 0)
		return TCX_NEXT;
	COUNT(st, tampered, 1);
	return TCX_NEXT;
}

/* Create a crypto context from the key in the run context and swap it into
 * `keys`, releasing the previous one (first install and rotation alike);
 * or remove it (OP_CLEAR). Run with BPF_PROG_RUN, ctx_in only. */
SEC("syscall")
int provision(struct bpfcrypt_provision *args)
{
	struct bpf_crypto_params params = {
		.type = "skcipher",
		.authsize = 0,
	};
	struct bpf_crypto_ctx *cctx = NULL, *old;
	struct key_slot *key;
	__u32 zero = 0;
	int err = 0;

	key = bpf_map_lookup_elem(&keys, &zero);
	if (!key) {
		args->status = -2; /* -ENOENT */
		return 0;
	}
	if (args->op == BPFCRYPT_OP_INSTALL) {
		if (args->key_len != 16 && args->key_len != 32) {
			args->status = -22; /* -EINVAL */
			return 0;
		}
		params.key_len = args->key_len;
		__builtin_memcpy(params.algo, args->algo, sizeof(args->algo));
		params.algo[sizeof(args->algo) - 1] = 0;
		__builtin_memcpy(params.key, args->key, sizeof(args->key));
		cctx = bpf_crypto_ctx_create(&params, sizeof(params), &err);
		if (!cctx) {
			args->status = err ? err : -22;
			return 0;
		}
		key->iv_len = args->iv_len;
	} else if (args->op != BPFCRYPT_OP_CLEAR) {
		args->status = -22;
		return 0;
	}
	old = bpf_kptr_xchg(&key->ctx, cctx);
	if (old)
		bpf_crypto_ctx_release(old);
	key->generation++;
	args->generation = key->generation;
	args->status = 0;
	return 0;
}

#else /* DP_VARIANT_COPY || DP_VARIANT_NOOP */

/* The bench variants: same attach points, no crypto. */
static __always_inline int bounce(struct __sk_buff *skb)
{
#ifdef DP_VARIANT_COPY
	struct bpfcrypt_stats *st = get_stats();
	struct scratch *s;
	struct iphdr iph;
	__u64 hoff, plen;
	int ret;

	ret = parse(skb, st, &iph, &hoff, &plen);
	if (ret <= 0)
		return ret == 0 ? TCX_NEXT : TC_ACT_SHOT;
	s = get_scratch();
	if (!s)
		return TC_ACT_SHOT;
	barrier_var(plen);
	if (plen == 0 || plen > BPFCRYPT_MAX_PLAIN) {
		COUNT(st, dropped_unsupported, 1);
		return TC_ACT_SHOT;
	}
	if (bpf_skb_load_bytes(skb, hoff, s->src, plen) < 0)
		return TC_ACT_SHOT;
	EXTRA_COPY(skb, hoff, s->dst, plen);
	__builtin_memcpy(s->dst, s->src, 16);
	if (bpf_skb_store_bytes(skb, hoff, s->src, plen, 0) < 0)
		return TC_ACT_SHOT;
	COUNT(st, copied, 1);
#endif
	return TCX_NEXT;
}

SEC("tcx/egress")
int encrypt_egress(struct __sk_buff *skb)
{
	return bounce(skb);
}

SEC("tcx/ingress")
int decrypt_ingress(struct __sk_buff *skb)
{
	return bounce(skb);
}

/* Accepts provisioning so the loader drives every variant the same way. */
SEC("syscall")
int provision(struct bpfcrypt_provision *args)
{
	__u32 zero = 0;
	struct key_slot *key = bpf_map_lookup_elem(&keys, &zero);

	if (key)
		key->generation++;
	args->generation = key ? key->generation : 0;
	args->status = 0;
	return 0;
}

#endif
