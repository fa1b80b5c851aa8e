// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// lab-object: esp
// lab-object: esp_inplace -DDP_INPLACE
// lab-object: esp_testiv -DDP_TEST_IV
// lab-object: esp_inplace_testiv -DDP_INPLACE -DDP_TEST_IV
/*
 * ESP data plane: IPsec ESP in transport mode for IPv4 (RFC 4303) with
 * AES-CBC encryption and AES-CMAC-96 integrity (RFC 4494), Encrypt-then-MAC,
 * built only from the cbc(aes) bpf_crypto kfuncs. Wire format and ABI:
 * esp_abi.h.
 *
 * TC egress protects every IPv4 packet with the outbound SA; TC ingress
 * finds the SA by SPI, verifies the ICV, then the anti-replay window, then
 * decrypts, checks the padding and restores the original packet; a SYSCALL
 * program adds and removes SAs (two crypto contexts each) and switches the
 * outbound SA.
 *
 * AES-CMAC (RFC 4493) from a CBC context: the tag is the last block of the
 * CBC encryption, with a zero IV, of the message whose last block has been
 * XORed with subkey K1 (complete block) or padded with 0x80 0x00 ... and
 * XORed with K2. Each SA therefore has a second cbc(aes) context keyed with
 * the authentication key; the loader derives K1 and K2.
 *
 * Build options (same source):
 *   DP_INPLACE   encrypt and decrypt on the packet itself (skb dynptr
 *                adjusted to the ciphertext, src == dst) instead of bouncing
 *                the payload through the per-CPU scratch buffers. The CMAC
 *                reads the packet directly; its CBC output (discarded) and
 *                the tag go to scratch, never to the packet.
 *   DP_TEST_IV   test builds only: a fixed IV (struct bpfcrypt_test_iv,
 *                set by the loader before load, off by default) so that
 *                two builds can be compared byte for byte.
 *
 * Known-bad builds:
 *   BROKEN_*     the corpus of ebpf/broken/, never in a shipped build: each
 *                knob plants one realistic bug where an author would make
 *                it, and the lab must catch it at run time.
 */
#define BPFCRYPT_STATS struct esp_stats
#define BPFCRYPT_SCRATCH struct esp_scratch
#include "bpfcrypt_base.h"
#include "esp_abi.h"
#include "bpfcrypt_tamper.h"

/* Inbound and outbound SAs, keyed by SPI. Separate maps: on a host talking
 * to itself (and in tests) the same SPI exists in both directions. Only the
 * provision program writes them; BPF_F_RDONLY makes the kernel refuse any
 * update or delete from userspace, which would drop the kptrs. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ESP_MAX_SA);
	__uint(map_flags, BPF_F_RDONLY);
	__type(key, __u32);
	__type(value, struct esp_sa_state);
} sa_in SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ESP_MAX_SA);
	__uint(map_flags, BPF_F_RDONLY);
	__type(key, __u32);
	__type(value, struct esp_sa_state);
} sa_out SEC(".maps");

SLOT_MAP(BPF_MAP_TYPE_ARRAY, struct esp_config, esp_cfg);

#define ESP_MSG_MAX (ESP_PREFIX_LEN + ESP_MAX_CT)

/* Per-CPU scratch (map `scratch`). Every kfunc buffer must be map memory
 * (dynptrs from the stack are refused). Where one buffer feeds another,
 * the destination lies above the source. */
struct esp_scratch {
	__u8 iv0[ESP_BLOCK];   /* zero IV of single-block and CMAC operations */
	__u8 nonce[ESP_BLOCK]; /* IV generation input */
	__u8 iv[ESP_BLOCK];    /* cipher IV; the kfunc leaves the last block here */
	__u8 last[ESP_BLOCK];  /* CMAC: last block, padded and XORed with K1/K2 */
	__u8 mac[ESP_BLOCK];   /* CMAC tag; the ICV is its first 12 bytes */
	__u8 icv[ESP_BLOCK];   /* ICV received */
	__u8 trailer[32];      /* egress: padding | pad length | next header */
	__u8 tail[256];        /* ingress: padding to check */
	__u8 csum[CSUM_CHUNK + 4]; /* checksum remainder, zero-padded */
	__u8 pt[ESP_MAX_CT];   /* bounce egress: plaintext */
	__u8 msg[ESP_MSG_MAX]; /* bounce: SPI | seq | IV | ciphertext */
	__u8 out[ESP_MSG_MAX]; /* CMAC CBC output (discarded); bounce ingress: plaintext */
};

/* Source of the bpf_map_update_elem that creates an SA: the value does not
 * fit on the stack next to struct bpf_crypto_params, and a template with
 * the real type would put a kptr and a lock into .rodata. */
static const __u8 sa_zero[sizeof(struct esp_sa_state)];

/* Ones' complement sum (RFC 1071) of the first len bytes of d, started from
 * sum. Reads 256-byte slices (older kernels, 6.12 among them, refuse
 * bpf_csum_diff sizes over 512 bytes or not a multiple of 4) and then the
 * remainder, zero-padded to a multiple of 4. Depending on the kernel,
 * bpf_csum_diff returns a folded or an unfolded sum: both chain and fold
 * the same. Negative on error. */
static __always_inline __s64 csum_dynptr(const struct bpf_dynptr *d, __u64 len, __u64 sum,
					 __u8 *buf)
{
	__u64 off = 0, rem, i;
	__s64 ret;
	void *p;

	for (i = 0; i < ESP_MAX_CT / CSUM_CHUNK; i++) {
		if (len - off < CSUM_CHUNK)
			break;
		p = bpf_dynptr_slice(d, off, NULL, CSUM_CHUNK);
		if (!p)
			return -1;
		ret = bpf_csum_diff(NULL, 0, p, CSUM_CHUNK, (__wsum)sum);
		if (ret < 0)
			return ret;
		sum = ret;
		off += CSUM_CHUNK;
	}
	rem = len - off;
	if (rem == 0)
		return sum;
	if (rem >= CSUM_CHUNK)
		return -1;
	if (bpf_dynptr_read(buf, rem, d, off, 0) < 0)
		return -1;
	buf[rem] = 0;
	buf[rem + 1] = 0;
	buf[rem + 2] = 0;
	rem = (rem + 3) & ~3U;
	if (rem == 0 || rem > CSUM_CHUNK)
		return -1;
	return bpf_csum_diff(NULL, 0, (__be32 *)buf, rem, (__wsum)sum);
}

/* Complete the TCP or UDP checksum of the plaintext segment d (plen bytes)
 * before it is encrypted: the receiving IPsec stack verifies it after
 * decryption, and a CHECKSUM_PARTIAL skb only holds the pseudo-header sum.
 * Other protocols (ICMP) carry a complete checksum already. */
static __always_inline int l4_checksum(const struct bpf_dynptr *d, const struct iphdr *iph,
				       __u64 plen, struct esp_scratch *s)
{
	__u16 csum = 0;
	int off;
	__s64 sum;

	off = l4_csum_offset(iph, plen);
	if (off < 0)
		return 0;
	if (bpf_dynptr_write(d, off, &csum, sizeof(csum), 0) < 0)
		return -1;
	sum = l4_pseudo_sum(iph, plen);
	if (sum < 0)
		return -1;
	sum = csum_dynptr(d, plen, sum, s->csum);
	if (sum < 0)
		return -1;
	csum = l4_csum_final(iph, sum);
	return bpf_dynptr_write(d, off, &csum, sizeof(csum), 0) < 0 ? -1 : 0;
}

static __always_inline void zero_block(__u8 *b)
{
	((__u64 *)b)[0] = 0;
	((__u64 *)b)[1] = 0;
}

/* The per-packet IV: AES(cipher key, random64 | SPI | seq), one CBC block
 * with a zero IV. bpf_get_prandom_u32 is not a cryptographic generator and
 * its output would be on the wire; CBC needs unpredictable IVs, and
 * encrypting a never-repeated nonce under the cipher key gives them
 * (NIST SP 800-38A, appendix C). */
static __always_inline int make_iv(struct bpf_crypto_ctx *cipher, __u32 spi, __u32 seq,
				   struct esp_scratch *s)
{
	struct bpf_dynptr src, dst, iv;
	__u32 *n = (__u32 *)s->nonce;

	if (fixed_test_iv(s->iv))
		return 0;
	n[0] = bpf_get_prandom_u32();
	n[1] = bpf_get_prandom_u32();
	n[2] = bpf_htonl(spi);
	n[3] = bpf_htonl(seq);
	zero_block(s->iv0);
#ifdef BROKEN_ESP_STATIC_IV
	bpf_dynptr_from_mem(s->iv0, ESP_BLOCK, 0, &src); /* Bug: the zero block, not the nonce */
#else
	bpf_dynptr_from_mem(s->nonce, ESP_BLOCK, 0, &src);
#endif
	bpf_dynptr_from_mem(s->iv, ESP_BLOCK, 0, &dst);
	bpf_dynptr_from_mem(s->iv0, ESP_BLOCK, 0, &iv);
	return bpf_crypto_encrypt(cipher, &src, &dst, &iv) < 0 ? -1 : 0;
}

/* AES-CMAC of the first mlen bytes of m under the auth context; the tag
 * goes to s->mac. All blocks but the last go through one CBC call (zero
 * IV, output discarded into s->out); the chaining value it leaves in
 * s->iv0 is the IV of the last block. */
static __always_inline int cmac(struct bpf_crypto_ctx *auth, const struct bpf_dynptr *m,
				__u64 mlen, const struct esp_sa_state *sa, struct esp_scratch *s)
{
	struct bpf_dynptr bulk, out, iv, last, tag;
	__u64 *l = (__u64 *)s->last;
	const __u64 *k;
	__u64 nb, rem;
#ifdef BROKEN_ESP_ICV_NO_HEADER
	struct bpf_dynptr ct; /* Bug: the MAC covers the ciphertext alone */

	bpf_dynptr_clone(m, &ct);
	if (mlen <= ESP_PREFIX_LEN || bpf_dynptr_adjust(&ct, ESP_PREFIX_LEN, mlen) < 0)
		return -1;
	m = &ct;
	mlen -= ESP_PREFIX_LEN;
#endif

	if (mlen == 0 || mlen > ESP_MSG_MAX)
		return -1;
	nb = (mlen - 1) & ~(__u64)(ESP_BLOCK - 1);
	rem = mlen - nb;
	zero_block(s->iv0);
	bpf_dynptr_from_mem(s->iv0, ESP_BLOCK, 0, &iv);
	if (nb) {
		bpf_dynptr_clone(m, &bulk);
		if (bpf_dynptr_adjust(&bulk, 0, nb) < 0)
			return -1;
		barrier_var(nb);
		if (nb == 0 || nb > ESP_MSG_MAX)
			return -1;
		bpf_dynptr_from_mem(s->out, nb, 0, &out);
		if (bpf_crypto_encrypt(auth, &bulk, &out, &iv) < 0)
			return -1;
	}
	zero_block(s->last);
	if (rem == 0 || rem > ESP_BLOCK)
		return -1;
	if (bpf_dynptr_read(s->last, rem, m, nb, 0) < 0)
		return -1;
	if (rem < ESP_BLOCK) {
		s->last[rem & (ESP_BLOCK - 1)] = 0x80;
		k = (const __u64 *)sa->k2;
	} else {
		k = (const __u64 *)sa->k1;
	}
	l[0] ^= k[0];
	l[1] ^= k[1];
	bpf_dynptr_from_mem(s->last, ESP_BLOCK, 0, &last);
	bpf_dynptr_from_mem(s->mac, ESP_BLOCK, 0, &tag);
	return bpf_crypto_encrypt(auth, &last, &tag, &iv) < 0 ? -1 : 0;
}

/* Compare the computed tag with the received ICV in constant time: no
 * early exit, so the time does not tell how many bytes matched. */
static __always_inline int icv_mismatch(const struct esp_scratch *s)
{
	const __u32 *a = (const __u32 *)s->mac;
#ifdef BROKEN_ESP_ICV_UNCHECKED
	const __u32 *b = (const __u32 *)s->mac; /* Bug: the tag against itself */
#else
	const __u32 *b = (const __u32 *)s->icv;
#endif

#ifdef BROKEN_ESP_ICV_TRUNCATED
	return (a[0] ^ b[0]) != 0; /* Bug: only the first 32 of the 96 bits */
#else
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2])) != 0;
#endif
}

/* Anti-replay (RFC 4303 3.4.3) on an authenticated packet, with sa->lock
 * held (no calls allowed): returns 1 when seq is a duplicate, too old or
 * 0, else records it and returns 0. The bitmap is a ring of 64-bit words:
 * advancing clears the words the window enters instead of shifting. */
static __always_inline int replay_check_update(struct esp_sa_state *sa, __u32 seq)
{
	__u32 top = sa->replay_top;
	__u32 word = top >> 6;
	__u32 diff;
	__u64 bit;

	if (seq == 0)
		return 1;
	if (seq > top) {
		diff = (seq >> 6) - word;
		if (diff >= 1)
			sa->replay_bitmap[(word + 1) & (ESP_REPLAY_WORDS - 1)] = 0;
		if (diff >= 2)
			sa->replay_bitmap[(word + 2) & (ESP_REPLAY_WORDS - 1)] = 0;
		if (diff >= 3)
			sa->replay_bitmap[(word + 3) & (ESP_REPLAY_WORDS - 1)] = 0;
		if (diff >= 4)
			sa->replay_bitmap[(word + 4) & (ESP_REPLAY_WORDS - 1)] = 0;
		sa->replay_top = seq;
	} else if (top - seq >= ESP_REPLAY_WINDOW) {
		return 1;
	}
	word = (seq >> 6) & (ESP_REPLAY_WORDS - 1);
	bit = 1ULL << (seq & 63);
	if (sa->replay_bitmap[word] & bit)
		return 1;
#ifdef BROKEN_ESP_NO_REPLAY
	return 0; /* Bug: checked, never marked as seen */
#endif
	sa->replay_bitmap[word] |= bit;
	return 0;
}

/* The outbound SA, or NULL (no SA selected, or it lost its contexts):
 * the caller drops (fail closed). */
static __always_inline struct esp_sa_state *outbound_sa(struct esp_stats *st)
{
	struct esp_config *cfg;
	struct esp_sa_state *sa;
	__u32 zero = 0, spi;

	cfg = bpf_map_lookup_elem(&esp_cfg, &zero);
	if (!cfg) {
		COUNT(st, base.errors, 1);
		return NULL;
	}
	spi = *(volatile __u32 *)&cfg->out_spi;
	if (!spi)
		goto nokey;
	sa = bpf_map_lookup_elem(&sa_out, &spi);
	if (!sa || sa->spi != spi)
		goto nokey;
	return sa;
nokey:
	COUNT(st, base.dropped_nokey, 1);
	return NULL;
}

SEC("tcx/egress")
int encrypt_egress(struct __sk_buff *skb)
{
	struct esp_stats *st = get_stats();
	struct bpf_dynptr pd, seg, ivd, md;
#ifdef DP_INPLACE
	struct bpf_dynptr pkt;
#else
	struct bpf_dynptr cd;
#endif
	struct bpf_crypto_ctx *cipher, *auth;
	struct esp_scratch *s;
	struct esp_sa_state *sa;
	union ip_buf ip;
	__u64 ihl4, plen, clen, padlen, hoff, seq, i;
	__u32 spi;
	int ret;

	ret = parse(skb, common_stats(st), &ip, &ihl4, &plen, PARSE_NO_FRAGMENTS);
	if (ret <= 0)
		return ret == 0 ? TCX_NEXT : TC_ACT_SHOT;
	if (plen == 0 || plen > ESP_MAX_PLAIN)
		return DROP(st, base.dropped_unsupported);
	sa = outbound_sa(st);
	if (!sa)
#ifdef BROKEN_ESP_FAIL_OPEN
		return TCX_NEXT; /* Bug: no SA, so the packet goes in clear */
#else
		return TC_ACT_SHOT;
#endif
	cipher = sa->cipher;
	auth = sa->auth;
	if (!cipher || !auth)
		return DROP(st, base.dropped_nokey);
	s = get_scratch();
	if (!s)
		return DROP(st, base.errors);
	/* Never reuse a sequence number: concurrent CPUs each get their own,
	 * and once ESP_SEQ_MAX has been handed out the SA sends nothing more
	 * until the loader installs a new one (rekey). */
#ifdef BROKEN_ESP_SEQ_REUSE
	seq = sa->seq_next; /* Bug: read, never advanced */
#else
	seq = __sync_fetch_and_add(&sa->seq_next, 1);
#endif
	if (seq > ESP_SEQ_MAX)
		return DROP(st, seq_exhausted);
	spi = sa->spi;
	hoff = ETH_HLEN + ihl4;
	clen = (plen + 2 + ESP_BLOCK - 1) & ~(__u64)(ESP_BLOCK - 1);
	padlen = clen - plen - 2;
	barrier_var(padlen);
	padlen &= ESP_BLOCK - 1; /* 0..15 already; tells the verifier */

	if (make_iv(cipher, spi, (__u32)seq, s) < 0)
		goto error;
	/* SPI | seq | IV: the head of the ICV input in both variants; the IV
	 * is copied out before the encryption overwrites s->iv. */
	*(__be32 *)&s->msg[0] = bpf_htonl(spi);
	*(__be32 *)&s->msg[4] = bpf_htonl((__u32)seq);
	__builtin_memcpy(&s->msg[ESP_HDR_LEN], s->iv, ESP_IV_LEN);
	/* RFC 4303 2.4: padding bytes 1, 2, 3, ..., then pad length and next
	 * header. */
	for (i = 0; i < ESP_BLOCK - 1; i++) {
		if (i >= padlen)
			break;
#ifdef BROKEN_ESP_ZERO_PAD
		s->trailer[i] = 0; /* Bug: zero padding, as in most other protocols */
#else
		s->trailer[i] = (__u8)(i + 1);
#endif
	}
	s->trailer[padlen] = (__u8)padlen;
	s->trailer[padlen + 1] = ip.iph.protocol;

	barrier_var(clen);
	if (clen < ESP_BLOCK || clen > ESP_MAX_CT)
		goto error;
#ifdef DP_INPLACE
	/* Room for trailer and ICV at the tail (this also linearises and
	 * unclones the skb), 24 bytes between L2 and L3 for SPI | seq | IV
	 * (the IPv4 header is rewritten in front of them below), then make
	 * sure the whole range is linear and private for the kfunc writes. */
	if (bpf_skb_change_tail(skb, hoff + clen + ESP_ICV_LEN, 0) < 0 ||
	    bpf_skb_adjust_room(skb, ESP_PREFIX_LEN, BPF_ADJ_ROOM_MAC, 0) < 0 ||
	    bpf_skb_pull_data(skb, hoff + ESP_PREFIX_LEN + clen + ESP_ICV_LEN) < 0)
		goto error;
	if (bpf_dynptr_from_skb(skb, 0, &pkt) < 0)
		goto error;
	bpf_dynptr_clone(&pkt, &pd);
	if (bpf_dynptr_adjust(&pd, hoff + ESP_PREFIX_LEN, hoff + ESP_PREFIX_LEN + clen) < 0)
		goto error;
#else
	barrier_var(plen);
	if (plen == 0 || plen > ESP_MAX_PLAIN ||
	    bpf_skb_load_bytes(skb, hoff, s->pt, plen) < 0)
		goto error;
	bpf_dynptr_from_mem(s->pt, clen, 0, &pd);
#endif
	bpf_dynptr_clone(&pd, &seg);
	if (bpf_dynptr_adjust(&seg, 0, plen) < 0 || l4_checksum(&seg, &ip.iph, plen, s) < 0)
		goto error;
	if (bpf_dynptr_write(&pd, plen, s->trailer, padlen + 2, 0) < 0)
		goto error;
	bpf_dynptr_from_mem(s->iv, ESP_IV_LEN, 0, &ivd);
#ifdef DP_INPLACE
	if (bpf_dynptr_write(&pkt, hoff, s->msg, ESP_PREFIX_LEN, 0) < 0 ||
	    bpf_crypto_encrypt(cipher, &pd, &pd, &ivd) < 0)
		goto error;
	bpf_dynptr_clone(&pkt, &md);
	if (bpf_dynptr_adjust(&md, hoff, hoff + ESP_PREFIX_LEN + clen) < 0 ||
	    cmac(auth, &md, ESP_PREFIX_LEN + clen, sa, s) < 0 ||
	    bpf_dynptr_write(&pkt, hoff + ESP_PREFIX_LEN + clen, s->mac, ESP_ICV_LEN, 0) < 0)
		goto error;
#else
	bpf_dynptr_from_mem(&s->msg[ESP_PREFIX_LEN], clen, 0, &cd);
	if (bpf_crypto_encrypt(cipher, &pd, &cd, &ivd) < 0)
		goto error;
	bpf_dynptr_from_mem(s->msg, ESP_PREFIX_LEN + clen, 0, &md);
	if (cmac(auth, &md, ESP_PREFIX_LEN + clen, sa, s) < 0)
		goto error;
	if (bpf_skb_change_tail(skb, hoff + ESP_PREFIX_LEN + clen + ESP_ICV_LEN, 0) < 0 ||
	    bpf_skb_store_bytes(skb, hoff, s->msg, ESP_PREFIX_LEN + clen, 0) < 0 ||
	    bpf_skb_store_bytes(skb, hoff + ESP_PREFIX_LEN + clen, s->mac, ESP_ICV_LEN, 0) < 0)
		goto error;
#endif
	if (store_ip_header(skb, &ip, ihl4, ETH_HLEN, ihl4 + ESP_PREFIX_LEN + clen + ESP_ICV_LEN,
			    ESP_PROTO, IP_CSUM_REBUILD, 0) < 0)
		goto error;
	/* No later layer may treat the (now encrypted) L4 checksum as
	 * verified. This does not clear CHECKSUM_PARTIAL, which no helper
	 * can: on a device without checksum offload the stack still writes
	 * the TCP checksum at its old position after this program, into the
	 * ESP packet, and the receiver drops it (auth_failed). */
	bpf_csum_level(skb, BPF_CSUM_LEVEL_RESET);
	COUNT(st, base.encrypted, 1);
	COUNT(st, base.encrypted_bytes, plen);
	return TCX_NEXT;
error:
	return DROP(st, base.errors);
}

#ifdef DP_INPLACE
/* skb->csum of a CHECKSUM_COMPLETE skb covers the packet bytes; the kfunc
 * rewrites them behind the stack's back, so add the difference between
 * the plaintext and ciphertext sums. bpf_csum_update() fails on any other
 * skb, which makes it the test for CHECKSUM_COMPLETE. */
static __always_inline int decrypt_inplace(struct __sk_buff *skb, struct bpf_crypto_ctx *cipher,
					   struct bpf_dynptr *cd, struct bpf_dynptr *ivd,
					   __u64 clen, struct esp_scratch *s)
{
	__s64 before = 0, after;
	int complete = bpf_csum_update(skb, 0) >= 0;

	if (complete) {
		before = csum_dynptr(cd, clen, 0, s->csum);
		if (before < 0)
			return -1;
	}
	if (bpf_crypto_decrypt(cipher, cd, cd, ivd) < 0)
		return -1;
	if (complete) {
		after = csum_dynptr(cd, clen, 0, s->csum);
		if (after < 0)
			return -1;
		bpf_csum_update(skb, (__wsum)((__u32)csum_fold(after) +
					      (__u32)(0xffff - csum_fold(before))));
	}
	return 0;
}
#endif

SEC("tcx/ingress")
int decrypt_ingress(struct __sk_buff *skb)
{
	struct esp_stats *st = get_stats();
	struct bpf_dynptr md, pd, ivd;
#ifdef DP_INPLACE
	struct bpf_dynptr pkt;
#else
	struct bpf_dynptr cd;
#endif
	struct bpf_crypto_ctx *cipher, *auth;
	struct esp_scratch *s;
	struct esp_sa_state *sa;
	union ip_buf ip;
	__u64 ihl4, wlen, clen, plen, padlen, hoff, i;
	__u32 spi, seq, hdr[2];
	__u8 nh, bad = 0;
	int ret, replayed;

	ret = parse(skb, common_stats(st), &ip, &ihl4, &wlen, PARSE_NO_FRAGMENTS);
	if (ret <= 0)
		return ret == 0 ? TCX_NEXT : TC_ACT_SHOT;
	if (ip.iph.protocol != ESP_PROTO)
		return DROP(st, base.dropped_unsupported);
	if (wlen < ESP_PREFIX_LEN + ESP_BLOCK + ESP_ICV_LEN ||
	    (wlen - ESP_PREFIX_LEN - ESP_ICV_LEN) % ESP_BLOCK ||
	    wlen - ESP_PREFIX_LEN - ESP_ICV_LEN > ESP_MAX_CT)
		return DROP(st, base.dropped_invalid);
	clen = wlen - ESP_PREFIX_LEN - ESP_ICV_LEN;
	hoff = ETH_HLEN + ihl4;
	if (bpf_skb_load_bytes(skb, hoff, hdr, sizeof(hdr)) < 0)
		goto error;
	spi = bpf_ntohl(hdr[0]);
	seq = bpf_ntohl(hdr[1]);
	sa = bpf_map_lookup_elem(&sa_in, &spi);
	if (!sa || sa->spi != spi)
		return DROP(st, unknown_spi);
	cipher = sa->cipher;
	auth = sa->auth;
	if (!cipher || !auth)
		return DROP(st, base.dropped_nokey);
	s = get_scratch();
	if (!s)
		goto error;

	barrier_var(clen);
	if (clen < ESP_BLOCK || clen > ESP_MAX_CT)
		goto error;
#ifdef DP_INPLACE
	if (bpf_skb_pull_data(skb, hoff + wlen) < 0 || bpf_dynptr_from_skb(skb, 0, &pkt) < 0)
		goto error;
	bpf_dynptr_clone(&pkt, &md);
	if (bpf_dynptr_adjust(&md, hoff, hoff + ESP_PREFIX_LEN + clen) < 0)
		goto error;
#else
	if (bpf_skb_load_bytes(skb, hoff, s->msg, ESP_PREFIX_LEN + clen) < 0)
		goto error;
	bpf_dynptr_from_mem(s->msg, ESP_PREFIX_LEN + clen, 0, &md);
#endif
	/* Authenticate first: nothing of an unauthenticated packet is
	 * decrypted, and the replay window only moves for genuine ones. */
	if (cmac(auth, &md, ESP_PREFIX_LEN + clen, sa, s) < 0 ||
	    bpf_skb_load_bytes(skb, hoff + ESP_PREFIX_LEN + clen, s->icv, ESP_ICV_LEN) < 0)
		goto error;
	if (icv_mismatch(s))
		return DROP(st, auth_failed);
	/* Check and update in one critical section, so two CPUs receiving
	 * the same sequence number cannot both accept it. */
	bpf_spin_lock(&sa->lock);
	replayed = replay_check_update(sa, seq);
	bpf_spin_unlock(&sa->lock);
	if (replayed)
		return DROP(st, replayed);

	/* The IV is copied to scratch: CBC writes its last block back. */
	if (bpf_dynptr_read(s->iv, ESP_IV_LEN, &md, ESP_HDR_LEN, 0) < 0)
		goto error;
	bpf_dynptr_from_mem(s->iv, ESP_IV_LEN, 0, &ivd);
#ifdef DP_INPLACE
	bpf_dynptr_clone(&md, &pd);
	if (bpf_dynptr_adjust(&pd, ESP_PREFIX_LEN, ESP_PREFIX_LEN + clen) < 0 ||
	    decrypt_inplace(skb, cipher, &pd, &ivd, clen, s) < 0)
		goto error;
#else
	bpf_dynptr_from_mem(&s->msg[ESP_PREFIX_LEN], clen, 0, &cd);
	bpf_dynptr_from_mem(s->out, clen, 0, &pd);
	if (bpf_crypto_decrypt(cipher, &cd, &pd, &ivd) < 0)
		goto error;
#endif

	if (bpf_dynptr_read(s->tail, 2, &pd, clen - 2, 0) < 0)
		goto error;
	padlen = s->tail[0];
	nh = s->tail[1];
	if (padlen + 2 >= clen)
		return DROP(st, base.dropped_invalid);
	plen = clen - 2 - padlen;
	if (padlen) {
		if (bpf_dynptr_read(s->tail, padlen, &pd, plen, 0) < 0)
			goto error;
		for (i = 0; i < 255; i++) {
			if (i >= padlen)
				break;
			bad |= s->tail[i] ^ (__u8)(i + 1);
		}
	}
	/* Bad padding (only a sender holding the keys can produce it), or a
	 * dummy packet (next header 59, RFC 4303 2.6): authenticated, but not
	 * delivered. */
	if (bad || nh == 59)
		return DROP(st, base.dropped_invalid);

	BOUND_LEN(plen, ESP_MAX_CT, goto error);
#ifdef DP_INPLACE
	/* Drop trailer and ICV, write the IPv4 header right in front of the
	 * plaintext, then remove the 24 bytes between L2 and that header. */
	if (bpf_skb_change_tail(skb, hoff + ESP_PREFIX_LEN + plen, 0) < 0 ||
	    store_ip_header(skb, &ip, ihl4, ETH_HLEN + ESP_PREFIX_LEN, ihl4 + plen, nh,
			    IP_CSUM_REBUILD, BPF_F_RECOMPUTE_CSUM) < 0 ||
	    bpf_skb_adjust_room(skb, -ESP_PREFIX_LEN, BPF_ADJ_ROOM_MAC, 0) < 0)
		goto error;
#else
	if (bpf_skb_store_bytes(skb, hoff, s->out, plen, BPF_F_RECOMPUTE_CSUM) < 0 ||
	    bpf_skb_change_tail(skb, hoff + plen, 0) < 0 ||
	    store_ip_header(skb, &ip, ihl4, ETH_HLEN, ihl4 + plen, nh, IP_CSUM_REBUILD,
			    BPF_F_RECOMPUTE_CSUM) < 0)
		goto error;
#endif
	COUNT(st, base.decrypted, 1);
	COUNT(st, base.decrypted_bytes, plen);
	return TCX_NEXT;
error:
	return DROP(st, base.errors);
}

/* Create an SA with its two contexts. The element is inserted first (from
 * a zero template) and the contexts are swapped in last: until then a
 * packet that finds it is dropped as dropped_nokey, never processed with
 * half an SA. */
static __always_inline int add_sa(void *map, struct esp_provision *args, struct esp_config *cfg)
{
	struct bpf_crypto_ctx *cipher, *auth;
	struct bpf_crypto_params params = SKCIPHER_PARAMS;
	struct esp_sa_state *sa;
	__u32 spi = args->spi;
#ifdef BROKEN_ESP_SEQ_ZERO
	__u64 seq = args->seq_start; /* Bug: a new SA counts from 0 */
#else
	__u64 seq = args->seq_start ? args->seq_start : 1;
#endif
	int err;

	if (spi < ESP_SPI_MIN || seq > ESP_SEQ_MAX + 1 ||
	    (args->enc_key_len != 16 && args->enc_key_len != 24 && args->enc_key_len != 32) ||
	    (args->auth_key_len != 16 && args->auth_key_len != 24 && args->auth_key_len != 32))
		return -E_INVAL;
	if ((args->flags & ESP_F_ACTIVATE) && args->dir != ESP_DIR_OUT)
		return -E_INVAL;
	if (bpf_map_lookup_elem(map, &spi))
		return -E_EXIST;
	crypto_params_algo(&params, args->algo);
	if (!params.algo[0])
		__builtin_memcpy(params.algo, "cbc(aes)", sizeof("cbc(aes)"));
	/* Both contexts must be CBC: the data path passes a 16-byte IV and
	 * the CMAC needs the chaining. */
	if (params.algo[0] != 'c' || params.algo[1] != 'b' || params.algo[2] != 'c' ||
	    params.algo[3] != '(')
		return -E_INVAL;
	cipher = crypto_ctx_new(&params, args->enc_key, args->enc_key_len, &err);
	if (!cipher)
		return err;
	auth = crypto_ctx_new(&params, args->auth_key, args->auth_key_len, &err);
	if (!auth) {
		bpf_crypto_ctx_release(cipher);
		return err;
	}

	err = bpf_map_update_elem(map, &spi, sa_zero, BPF_NOEXIST);
	sa = err ? NULL : bpf_map_lookup_elem(map, &spi);
	if (!sa) {
		bpf_crypto_ctx_release(cipher);
		bpf_crypto_ctx_release(auth);
		return err ? err : -E_NOENT;
	}
	sa->spi = spi;
	sa->dir = args->dir;
	sa->generation = cfg->generation + 1;
	__builtin_memcpy(sa->k1, args->k1, ESP_BLOCK);
	__builtin_memcpy(sa->k2, args->k2, ESP_BLOCK);
	sa->seq_next = seq;
	crypto_ctx_swap(&sa->cipher, cipher);
	crypto_ctx_swap(&sa->auth, auth);
	if (args->flags & ESP_F_ACTIVATE)
		*(volatile __u32 *)&cfg->out_spi = spi;
	return 0;
}

/* Remove an SA: deleting the element releases its contexts (kptr
 * destructor, after an RCU grace period, so packets in flight finish).
 * The outbound SA is deselected first: egress then drops, fail closed. */
static __always_inline int del_sa(void *map, struct esp_provision *args, struct esp_config *cfg)
{
	__u32 spi = args->spi;

	if (!bpf_map_lookup_elem(map, &spi))
		return -E_NOENT;
	if (args->dir == ESP_DIR_OUT && cfg->out_spi == spi)
		*(volatile __u32 *)&cfg->out_spi = 0;
	return bpf_map_delete_elem(map, &spi);
}

/* Provisioning, run with BPF_PROG_RUN (ctx_in only). Rekeying is make
 * before break: the receiver adds the new inbound SA next to the old one,
 * the sender adds its new outbound SA and switches to it in one store
 * (ESP_OP_SET_OUT or ESP_F_ACTIVATE), and the old SAs are deleted once
 * the traffic has moved. */
SEC("syscall")
int provision(struct esp_provision *args)
{
	struct esp_config *cfg;
	__u32 zero = 0, spi;
	int err;

	cfg = bpf_map_lookup_elem(&esp_cfg, &zero);
	if (!cfg) {
		args->status = -E_NOENT;
		return 0;
	}
	switch (args->op) {
	case ESP_OP_ADD_SA:
		if (args->dir == ESP_DIR_IN)
			err = add_sa(&sa_in, args, cfg);
		else if (args->dir == ESP_DIR_OUT)
			err = add_sa(&sa_out, args, cfg);
		else
			err = -E_INVAL;
		break;
	case ESP_OP_DEL_SA:
		if (args->dir == ESP_DIR_IN)
			err = del_sa(&sa_in, args, cfg);
		else if (args->dir == ESP_DIR_OUT)
			err = del_sa(&sa_out, args, cfg);
		else
			err = -E_INVAL;
		break;
	case ESP_OP_SET_OUT:
		spi = args->spi;
		err = 0;
		if (spi && !bpf_map_lookup_elem(&sa_out, &spi))
			err = -E_NOENT;
		else
			*(volatile __u32 *)&cfg->out_spi = spi;
		break;
	default:
		err = -E_INVAL;
	}
	if (!err)
		__sync_fetch_and_add(&cfg->generation, 1);
	args->status = err;
	args->out_spi = cfg->out_spi;
	args->generation = cfg->generation;
	return 0;
}
