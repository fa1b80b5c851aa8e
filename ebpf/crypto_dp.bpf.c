// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// lab-object: crypto -DDP_VARIANT_CRYPTO
// lab-object: crypto_inplace -DDP_VARIANT_CRYPTO -DDP_INPLACE
// lab-object: copy -DDP_VARIANT_COPY
// lab-object: noop -DDP_VARIANT_NOOP
// lab-object: crypto_testiv -DDP_VARIANT_CRYPTO -DDP_TEST_IV
// lab-object: crypto_inplace_testiv -DDP_VARIANT_CRYPTO -DDP_INPLACE -DDP_TEST_IV
// lab-object: copy_extracopy -DDP_VARIANT_COPY -DDP_EXTRA_COPY
// lab-object: crypto_extracopy -DDP_VARIANT_CRYPTO -DDP_EXTRA_COPY
// lab-object: crypto_inplace_extracopy -DDP_VARIANT_CRYPTO -DDP_INPLACE -DDP_EXTRA_COPY
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
 *
 * Known-bad builds:
 *   BROKEN_*       the corpus of ebpf/broken/, never in a shipped build:
 *                  each knob plants one realistic bug where an author
 *                  would make it, and the lab must catch it at run time
 */
#if !defined(DP_VARIANT_COPY) && !defined(DP_VARIANT_NOOP)
#define DP_VARIANT_CRYPTO 1
#endif

#include "bpfcrypt_base.h"

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

SLOT_MAP(BPF_MAP_TYPE_ARRAY, struct bpfcrypt_key_state, keys);

#ifdef DP_VARIANT_CRYPTO

#include "bpfcrypt_tamper.h"

/* The installed context and (in *iv_len) the IV length of its algorithm;
 * NULL when there is none, counted as an error (no map) or as
 * dropped_nokey: the caller drops (fail closed). */
static __always_inline struct bpf_crypto_ctx *installed_ctx(struct bpfcrypt_stats *st,
							    __u64 *iv_len)
{
	struct bpfcrypt_key_state *key = slot(&keys);
	struct bpf_crypto_ctx *cctx;

	if (!key) {
		COUNT(st, errors, 1);
		return NULL;
	}
	cctx = key->ctx;
	if (!cctx) {
		COUNT(st, dropped_nokey, 1);
		return NULL;
	}
	*iv_len = key->iv_len ? BPFCRYPT_BLOCK : 0;
	return cctx;
}

/* Encrypts src into dst (the same range in place). CBC: a fresh random IV
 * per packet goes on the wire at hoff first, since the kfunc overwrites
 * s->iv with the last ciphertext block. */
static __always_inline int encrypt_iv(struct __sk_buff *skb, struct bpf_crypto_ctx *cctx,
				      struct bpfcrypt_scratch *s, __u64 hoff, __u64 iv_len,
				      const struct bpf_dynptr *src, const struct bpf_dynptr *dst)
{
	struct bpf_dynptr piv;

	if (!iv_len)
		return bpf_crypto_encrypt(cctx, src, dst, NULL);
	if (!fixed_test_iv(s->iv)) {
		__u32 *iv = (__u32 *)s->iv;

		iv[0] = bpf_get_prandom_u32();
		iv[1] = bpf_get_prandom_u32();
		iv[2] = bpf_get_prandom_u32();
		iv[3] = bpf_get_prandom_u32();
#ifdef BROKEN_RAW_STATIC_IV
		/* Bug: the first IV drawn is kept and reused. */
		static __u32 first_iv[4];

		if (!first_iv[0])
			__builtin_memcpy(first_iv, iv, BPFCRYPT_BLOCK);
		__builtin_memcpy(iv, first_iv, BPFCRYPT_BLOCK);
#endif
	}
	if (bpf_skb_store_bytes(skb, hoff, s->iv, BPFCRYPT_BLOCK, 0) < 0)
		return -1;
	bpf_dynptr_from_mem(s->iv, BPFCRYPT_BLOCK, 0, &piv);
	return bpf_crypto_encrypt(cctx, src, dst, &piv);
}

/* Decrypts src into dst (the same range in place); CBC: with the IV at
 * hoff, copied to scratch (the kfunc writes the last block back). */
static __always_inline int decrypt_iv(struct __sk_buff *skb, struct bpf_crypto_ctx *cctx,
				      struct bpfcrypt_scratch *s, __u64 hoff, __u64 iv_len,
				      const struct bpf_dynptr *src, const struct bpf_dynptr *dst)
{
	struct bpf_dynptr piv;

	if (!iv_len)
		return bpf_crypto_decrypt(cctx, src, dst, NULL);
	if (bpf_skb_load_bytes(skb, hoff, s->iv, BPFCRYPT_BLOCK) < 0)
		return -1;
	bpf_dynptr_from_mem(s->iv, BPFCRYPT_BLOCK, 0, &piv);
	return bpf_crypto_decrypt(cctx, src, dst, &piv);
}

/* PKCS#7: pad (1..16) bytes, each holding pad. */
static __always_inline void pkcs7_fill(__u8 *p, __u64 pad)
{
	__u64 i;

	for (i = 0; i < BPFCRYPT_BLOCK; i++) {
		if (i >= pad)
			break;
#ifdef BROKEN_RAW_ZERO_PAD
		p[i] = i + 1 == pad ? (__u8)pad : 0; /* Bug: zeros, then the count */
#else
		p[i] = (__u8)pad;
#endif
	}
}

/* The PKCS#7 pad length that ends the decrypted block `last`, or 0 when
 * the padding is invalid. */
static __always_inline __u64 pkcs7_pad(const __u8 *last)
{
	__u64 pad = last[BPFCRYPT_BLOCK - 1], i;
	__u8 bad = 0;

	if (pad == 0 || pad > BPFCRYPT_BLOCK)
		return 0;
#ifdef BROKEN_RAW_ZERO_PAD
	return pad; /* Bug: only the count byte is read */
#endif
	for (i = 1; i <= BPFCRYPT_BLOCK; i++) {
		if (i > pad)
			break;
		bad |= last[(BPFCRYPT_BLOCK - i) & (BPFCRYPT_BLOCK - 1)] ^ (__u8)pad;
	}
	return bad ? 0 : pad;
}

#ifdef DP_INPLACE
/* In place: the payload range of the packet is both source and destination
 * of the cipher (src == dst, the only overlap the crypto API supports);
 * only the IV is in scratch, because CBC writes its last ciphertext block
 * back into it. The bytes on the wire are those of the bounce path. The
 * range must be linear and the skb not cloned: bpf_skb_pull_data() first,
 * since a kfunc write through a dynptr does not unclone the skb. */

static __always_inline int encrypt_inplace(struct __sk_buff *skb, struct bpfcrypt_stats *st,
					   struct bpf_crypto_ctx *cctx, struct bpfcrypt_scratch *s,
					   union ip_buf *ip, __u64 ihl4, __u64 plen, __u64 iv_len)
{
	__u64 hoff = ETH_HLEN + ihl4, pad, padded;
	struct bpf_dynptr pkt, pd;

	/* PKCS#7, staged in scratch. */
	pad = BPFCRYPT_BLOCK - (plen % BPFCRYPT_BLOCK);
	padded = plen + pad;
	pkcs7_fill(s->src, pad);
	/* Grow the tail by the padding (this also linearises and unclones),
	 * then for CBC insert room for the IV between L2 and L3 and write the
	 * IPv4 header back in front of it: the payload does not move. */
	if (bpf_skb_change_tail(skb, hoff + padded, 0) < 0)
		goto error;
	if (iv_len && bpf_skb_adjust_room(skb, BPFCRYPT_BLOCK, BPF_ADJ_ROOM_MAC, 0) < 0)
		goto error;
	if (store_ip_header(skb, ip, ihl4, ETH_HLEN, ihl4 + iv_len + padded, ip->iph.protocol,
			    IP_CSUM_UPDATE, 0) < 0 ||
	    bpf_skb_pull_data(skb, hoff + iv_len + padded) < 0 ||
	    bpf_dynptr_from_skb(skb, 0, &pkt) < 0)
		goto error;
	if (pad == 0 || pad > BPFCRYPT_BLOCK ||
	    bpf_dynptr_write(&pkt, hoff + iv_len + plen, s->src, pad, 0) < 0)
		goto error;
	bpf_dynptr_clone(&pkt, &pd);
	if (bpf_dynptr_adjust(&pd, hoff + iv_len, hoff + iv_len + padded) < 0 ||
	    encrypt_iv(skb, cctx, s, hoff, iv_len, &pd, &pd) < 0)
		goto error;
	COUNT(st, encrypted, 1);
	COUNT(st, encrypted_bytes, plen);
	return TCX_NEXT;
error:
	return DROP(st, errors);
}

static __always_inline int decrypt_inplace(struct __sk_buff *skb, struct bpfcrypt_stats *st,
					   struct bpf_crypto_ctx *cctx, struct bpfcrypt_scratch *s,
					   union ip_buf *ip, __u64 ihl4, __u64 clen, __u64 iv_len)
{
	__u64 hoff = ETH_HLEN + ihl4, pad, plen;
	struct bpf_dynptr pkt, pd;

	if (bpf_skb_pull_data(skb, hoff + iv_len + clen) < 0 ||
	    bpf_dynptr_from_skb(skb, 0, &pkt) < 0)
		goto error;
	bpf_dynptr_clone(&pkt, &pd);
	if (bpf_dynptr_adjust(&pd, hoff + iv_len, hoff + iv_len + clen) < 0 ||
	    decrypt_iv(skb, cctx, s, hoff, iv_len, &pd, &pd) < 0)
		goto error;
	/* The last block holds the padding. */
	if (bpf_dynptr_read(s->dst, BPFCRYPT_BLOCK, &pd, clen - BPFCRYPT_BLOCK, 0) < 0)
		goto error;
	pad = pkcs7_pad(s->dst);
	plen = clen - pad;
	if (!pad || plen == 0)
		return DROP(st, dropped_invalid);
	/* Write the IPv4 header onto the IV, then remove the IV's 16 bytes
	 * between L2 and L3; trim the padding. */
	if (store_ip_header(skb, ip, ihl4, ETH_HLEN + iv_len, ihl4 + plen, ip->iph.protocol,
			    IP_CSUM_UPDATE, 0) < 0)
		goto error;
	if (iv_len && bpf_skb_adjust_room(skb, -BPFCRYPT_BLOCK, BPF_ADJ_ROOM_MAC, 0) < 0)
		goto error;
	if (bpf_skb_change_tail(skb, hoff + plen, 0) < 0)
		goto error;
	COUNT(st, decrypted, 1);
	COUNT(st, decrypted_bytes, plen);
	return TCX_NEXT;
error:
	return DROP(st, errors);
}
#endif

SEC("tcx/egress")
int encrypt_egress(struct __sk_buff *skb)
{
	struct bpfcrypt_stats *st = get_stats();
	struct bpf_dynptr psrc, pdst;
	struct bpf_crypto_ctx *cctx;
	struct bpfcrypt_scratch *s;
	union ip_buf ip;
	__u64 ihl4, hoff, plen, padded, pad, iv_len = 0;
	int ret;

	ret = parse(skb, st, &ip, &ihl4, &plen, 0);
	if (ret <= 0)
		return ret == 0 ? TCX_NEXT : TC_ACT_SHOT;
	cctx = installed_ctx(st, &iv_len);
	if (!cctx)
#ifdef BROKEN_RAW_FAIL_OPEN
		return TCX_NEXT; /* Bug: no key, so the packet goes as it is */
#else
		return TC_ACT_SHOT;
#endif
	if (plen == 0 || plen > BPFCRYPT_MAX_PLAIN)
		return DROP(st, dropped_unsupported);
#ifdef BROKEN_RAW_SHORT_CLEAR
	if (plen < BPFCRYPT_BLOCK)
		return TCX_NEXT; /* Bug: "less than a block, nothing to encrypt" */
#endif
	s = get_scratch();
	if (!s)
		return DROP(st, errors);
	BOUND_LEN(plen, BPFCRYPT_MAX_PLAIN, return TC_ACT_SHOT);
	hoff = ETH_HLEN + ihl4;
	EXTRA_COPY(skb, hoff, s->dst, plen);
#ifdef DP_INPLACE
	return encrypt_inplace(skb, st, cctx, s, &ip, ihl4, plen, iv_len);
#endif
	if (bpf_skb_load_bytes(skb, hoff, s->src, plen) < 0)
		goto error;
	pad = BPFCRYPT_BLOCK - (plen % BPFCRYPT_BLOCK);
	padded = plen + pad;
	pkcs7_fill(&s->src[plen & (BPFCRYPT_BUF - 1)], pad);
#if defined(BROKEN_RAW_STALE_TOT_LEN)
	/* Bug: the header gets the length parsed, not the grown one. */
	if (bpf_skb_change_tail(skb, hoff + iv_len + padded, 0) < 0 ||
	    store_ip_header(skb, &ip, ihl4, ETH_HLEN, ihl4 + plen, ip.iph.protocol,
			    IP_CSUM_UPDATE, 0) < 0)
		goto error;
#elif defined(BROKEN_RAW_STALE_IP_CSUM)
	/* Bug: the total length is patched in, the checksum left as it was. */
	ip.iph.tot_len = bpf_htons((__u16)(ihl4 + iv_len + padded));
	if (bpf_skb_change_tail(skb, hoff + iv_len + padded, 0) < 0 ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + 2, &ip.iph.tot_len, 2, 0) < 0)
		goto error;
#else
	if (bpf_skb_change_tail(skb, hoff + iv_len + padded, 0) < 0 ||
	    store_ip_header(skb, &ip, ihl4, ETH_HLEN, ihl4 + iv_len + padded, ip.iph.protocol,
			    IP_CSUM_UPDATE, 0) < 0)
		goto error;
#endif
	BOUND_LEN(padded, BPFCRYPT_BUF, return TC_ACT_SHOT);
#ifdef BROKEN_RAW_PARTIAL_ENCRYPT
	/* Bug: in place in src, over the cipher's block size, not padded. */
	bpf_dynptr_from_mem(s->src, BPFCRYPT_BLOCK, 0, &psrc);
	bpf_dynptr_clone(&psrc, &pdst);
	if (encrypt_iv(skb, cctx, s, hoff, iv_len, &psrc, &pdst) < 0 ||
	    bpf_skb_store_bytes(skb, hoff + iv_len, s->src, padded, 0) < 0)
		goto error;
#else
	bpf_dynptr_from_mem(s->src, padded, 0, &psrc);
	bpf_dynptr_from_mem(s->dst, padded, 0, &pdst);
	if (encrypt_iv(skb, cctx, s, hoff, iv_len, &psrc, &pdst) < 0 ||
	    bpf_skb_store_bytes(skb, hoff + iv_len, s->dst, padded, 0) < 0)
		goto error;
#endif
	COUNT(st, encrypted, 1);
	COUNT(st, encrypted_bytes, plen);
	return TCX_NEXT;
error:
	return DROP(st, errors);
}

SEC("tcx/ingress")
int decrypt_ingress(struct __sk_buff *skb)
{
	struct bpfcrypt_stats *st = get_stats();
	struct bpf_dynptr psrc, pdst;
	struct bpf_crypto_ctx *cctx;
	struct bpfcrypt_scratch *s;
	union ip_buf ip;
	__u64 ihl4, hoff, wlen, clen, plen, pad, iv_len = 0;
	int ret;

	ret = parse(skb, st, &ip, &ihl4, &wlen, 0);
	if (ret <= 0)
		return ret == 0 ? TCX_NEXT : TC_ACT_SHOT;
	cctx = installed_ctx(st, &iv_len);
	if (!cctx)
		return TC_ACT_SHOT;
	clen = wlen - iv_len;
	if (wlen < iv_len + BPFCRYPT_BLOCK || clen % BPFCRYPT_BLOCK || clen > BPFCRYPT_BUF)
		return DROP(st, dropped_invalid);
	s = get_scratch();
	if (!s)
		return DROP(st, errors);
	BOUND_LEN(clen, BPFCRYPT_BUF, return TC_ACT_SHOT);
	hoff = ETH_HLEN + ihl4;
	EXTRA_COPY(skb, hoff + iv_len, s->dst, clen);
#ifdef DP_INPLACE
	return decrypt_inplace(skb, st, cctx, s, &ip, ihl4, clen, iv_len);
#endif
	if (bpf_skb_load_bytes(skb, hoff + iv_len, s->src, clen) < 0)
		goto error;
	bpf_dynptr_from_mem(s->src, clen, 0, &psrc);
	bpf_dynptr_from_mem(s->dst, clen, 0, &pdst);
	if (decrypt_iv(skb, cctx, s, hoff, iv_len, &psrc, &pdst) < 0)
		goto error;
	pad = pkcs7_pad(&s->dst[(clen - BPFCRYPT_BLOCK) & (BPFCRYPT_BUF - BPFCRYPT_BLOCK)]);
	plen = clen - pad;
	if (!pad || plen == 0)
		return DROP(st, dropped_invalid);
	BOUND_LEN(plen, BPFCRYPT_BUF, return TC_ACT_SHOT);
	if (bpf_skb_store_bytes(skb, hoff, s->dst, plen, 0) < 0 ||
	    store_ip_header(skb, &ip, ihl4, ETH_HLEN, ihl4 + plen, ip.iph.protocol,
			    IP_CSUM_UPDATE, 0) < 0 ||
	    bpf_skb_change_tail(skb, hoff + plen, 0) < 0)
		goto error;
	COUNT(st, decrypted, 1);
	COUNT(st, decrypted_bytes, plen);
	return TCX_NEXT;
error:
	return DROP(st, errors);
}

/* Create a crypto context from the key in the run context and swap it into
 * `keys`, releasing the previous one (first install and rotation alike);
 * or remove it (OP_CLEAR). Run with BPF_PROG_RUN, ctx_in only. */
SEC("syscall")
int provision(struct bpfcrypt_provision *args)
{
	struct bpfcrypt_key_state *key = slot(&keys);
	struct bpf_crypto_ctx *cctx = NULL;
	struct bpf_crypto_params params = SKCIPHER_PARAMS;
	int err;

	if (!key) {
		args->status = -E_NOENT;
		return 0;
	}
	if (args->op == BPFCRYPT_OP_INSTALL) {
		if (args->key_len != 16 && args->key_len != 32) {
			args->status = -E_INVAL;
			return 0;
		}
		crypto_params_algo(&params, args->algo);
		cctx = crypto_ctx_new(&params, args->key, args->key_len, &err);
		if (!cctx) {
			args->status = err;
			return 0;
		}
#ifdef BROKEN_RAW_REKEY_IGNORED
		if (key->ctx) { /* Bug: only an empty slot is filled; success all the same */
			bpf_crypto_ctx_release(cctx);
			args->generation = ++key->generation;
			args->status = 0;
			return 0;
		}
#endif
		key->iv_len = args->iv_len;
	} else if (args->op != BPFCRYPT_OP_CLEAR) {
		args->status = -E_INVAL;
		return 0;
	}
	crypto_ctx_swap(&key->ctx, cctx);
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
	struct bpfcrypt_scratch *s;
	__u64 ihl4, hoff, plen;
	union ip_buf ip;
	int ret;

	ret = parse(skb, st, &ip, &ihl4, &plen, 0);
	if (ret <= 0)
		return ret == 0 ? TCX_NEXT : TC_ACT_SHOT;
	s = get_scratch();
	if (!s)
		return TC_ACT_SHOT;
	BOUND_LEN(plen, BPFCRYPT_MAX_PLAIN, goto unsupported);
	hoff = ETH_HLEN + ihl4;
	if (bpf_skb_load_bytes(skb, hoff, s->src, plen) < 0)
		return TC_ACT_SHOT;
	EXTRA_COPY(skb, hoff, s->dst, plen);
	__builtin_memcpy(s->dst, s->src, 16);
	if (bpf_skb_store_bytes(skb, hoff, s->src, plen, 0) < 0)
		return TC_ACT_SHOT;
	COUNT(st, copied, 1);
	return TCX_NEXT;
unsupported:
	return DROP(st, dropped_unsupported);
#else
	return TCX_NEXT;
#endif
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
	struct bpfcrypt_key_state *key = slot(&keys);

	if (key)
		key->generation++;
	args->generation = key ? key->generation : 0;
	args->status = 0;
	return 0;
}

#endif
