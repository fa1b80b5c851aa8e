/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ChaCha20-Poly1305 (RFC 8439) in plain BPF C: no kfunc offers this AEAD
 * (bpf_crypto has skciphers only), and WireGuard's transport needs it.
 *
 * Why it is shaped this way:
 * - State lives in a struct cp_state the caller keeps in a per-CPU map,
 *   the ChaCha20 working state included (CP_QR), not on the 512-byte
 *   stack: the test harness's programs use 216 bytes of it, so a data
 *   plane around them keeps room of its own.
 * - Messages are processed in one pass of 64-byte chunks (ChaCha20 block
 *   and the four Poly1305 blocks over its ciphertext together): a second
 *   pass after the first would be verified once per place the first can
 *   end, and the verified instructions would grow with the square of the
 *   largest length instead of linearly (about 150 k for a seal or open of
 *   up to 1536 bytes; see cp_chunks for the other half of it).
 * - Loops have constant trip counts with a break on the length, so the
 *   verifier sees a constant offset in every iteration.
 * - Bytes past the length are masked, not branched on: the last chunk and
 *   the last 16-byte block take an 8-byte mask per word.
 * - Poly1305 uses five 26-bit limbs and 64-bit products (BPF has no
 *   128-bit multiply); its reduction, the final selection and the tag
 *   comparison have no branch on secret data.
 *
 * Buffers (src, dst, aad) are 8-byte aligned map memory with room for
 * CP_BUF bytes: the last chunk reads and rewrites whole words, leaving the
 * bytes past the length as they were. src and dst may be the same buffer
 * (in place). Words are little-endian, as on every host the lab runs on
 * (bpfel).
 */
#ifndef CHACHA20POLY1305_H
#define CHACHA20POLY1305_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#define CP_KEY 32
#define CP_NONCE 12
#define CP_TAG 16
/* Largest message: a 1500-byte MTU's payload with room to spare. */
#define CP_MAX_LEN 1536
/* Largest additional data (WireGuard has none; the RFC vectors 12 bytes). */
#define CP_MAX_AAD 64 /* one chunk */
#define CP_CHUNK 64
/* The room of every buffer: the largest length rounded up to a chunk. */
#define CP_BUF ((CP_MAX_LEN + CP_CHUNK - 1) / CP_CHUNK * CP_CHUNK)

#define CP_E_INVAL 22
#define CP_E_BADMSG 74

/* The working state of one message (keep it in a per-CPU map). */
struct cp_state {
	__u32 in[16];            /* ChaCha20 input: constants, key, counter, nonce */
	__u32 x[16];             /* ChaCha20 working state */
	__u64 ks[8];             /* the last keystream block */
	__u64 r[5];              /* Poly1305 key r, clamped, 26-bit limbs */
	__u64 h[5];              /* Poly1305 accumulator, 26-bit limbs */
	__u32 s[4];              /* Poly1305 key s */
	__u8 tag[CP_TAG];        /* the computed tag */
};

static __always_inline __u32 cp_le32(const __u8 *p)
{
	return (__u32)p[0] | (__u32)p[1] << 8 | (__u32)p[2] << 16 | (__u32)p[3] << 24;
}

static __always_inline void cp_put_le32(__u8 *p, __u32 v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

/* The bytes of the 8-byte word at byte `at` that come before `len`, as a
 * mask. Computed without a branch: branches on the length would split the
 * verifier's states at every word of the last chunk. */
static __always_inline __u64 cp_mask(__u64 len, __u64 at)
{
	__s64 n = (__s64)(len - at), sign;

	/* The barriers hide the sign masks from clang, which would turn
	 * these clamps back into compares and jumps. */
	sign = n >> 63;
	barrier_var(sign);
	n &= ~sign; /* max(n, 0) */
	sign = (n - 8) >> 63;
	barrier_var(sign);
	n -= (n - 8) & ~sign; /* min(n, 8) */
	return ((1ULL << (4 * n)) << (4 * n)) - 1; /* two shifts: n = 8 shifts by 64 */
}

/* ---- ChaCha20 (RFC 8439 2.3, 2.4) ---- */

static __always_inline void cp_chacha_init(struct cp_state *st, const __u8 *key,
					   const __u8 *nonce, __u32 counter)
{
	int i;

	st->in[0] = 0x61707865;
	st->in[1] = 0x3320646e;
	st->in[2] = 0x79622d32;
	st->in[3] = 0x6b206574;
	for (i = 0; i < 8; i++)
		st->in[4 + i] = cp_le32(key + 4 * i);
	st->in[12] = counter;
	for (i = 0; i < 3; i++)
		st->in[13 + i] = cp_le32(nonce + 4 * i);
}

#define CP_ROTL(v, n) (((v) << (n)) | ((v) >> (32 - (n))))

/* One quarter round on words a, b, c, d of the working state x, which
 * stays in the map: the barrier makes clang store the four words back
 * instead of holding all sixteen in registers, which BPF lacks, and
 * spilling them to the stack. */
#define CP_QR(x, a, b, c, d)                                                                       \
	do {                                                                                       \
		__u32 A = x[a], B = x[b], C = x[c], D = x[d];                                      \
		A += B;                                                                            \
		D ^= A;                                                                            \
		D = CP_ROTL(D, 16);                                                                \
		C += D;                                                                            \
		B ^= C;                                                                            \
		B = CP_ROTL(B, 12);                                                                \
		A += B;                                                                            \
		D ^= A;                                                                            \
		D = CP_ROTL(D, 8);                                                                 \
		C += D;                                                                            \
		B ^= C;                                                                            \
		B = CP_ROTL(B, 7);                                                                 \
		x[a] = A;                                                                          \
		x[b] = B;                                                                          \
		x[c] = C;                                                                          \
		x[d] = D;                                                                          \
		asm volatile("" ::: "memory");                                                     \
	} while (0)

/* The keystream block of the current counter into st->ks; the counter
 * moves on. */
static __always_inline void cp_chacha_block(struct cp_state *st)
{
	__u32 *x = st->x;
	int i;

	for (i = 0; i < 16; i++)
		x[i] = st->in[i];
	for (i = 0; i < 10; i++) {
		CP_QR(x, 0, 4, 8, 12);
		CP_QR(x, 1, 5, 9, 13);
		CP_QR(x, 2, 6, 10, 14);
		CP_QR(x, 3, 7, 11, 15);
		CP_QR(x, 0, 5, 10, 15);
		CP_QR(x, 1, 6, 11, 12);
		CP_QR(x, 2, 7, 8, 13);
		CP_QR(x, 3, 4, 9, 14);
	}
	for (i = 0; i < 8; i++)
		st->ks[i] = (__u64)(__u32)(x[2 * i] + st->in[2 * i]) |
			    (__u64)(__u32)(x[2 * i + 1] + st->in[2 * i + 1]) << 32;
	st->in[12]++;
}

/* dst = src ^ keystream over a whole chunk. */
static __always_inline void cp_xor_full(struct cp_state *st, const __u8 *src, __u8 *dst)
{
	const __u64 *s = (const __u64 *)src;
	__u64 *d = (__u64 *)dst;
	int w;

	for (w = 0; w < 8; w++)
		d[w] = s[w] ^ st->ks[w];
}

/* The same over the first len (< 64) bytes of a chunk; the rest of the
 * chunk is rewritten unchanged. */
static __always_inline void cp_xor_tail(struct cp_state *st, const __u8 *src, __u8 *dst,
					__u64 len)
{
	const __u64 *s = (const __u64 *)src;
	__u64 *d = (__u64 *)dst;
	__u64 m;
	int w;

	for (w = 0; w < 8; w++) {
		m = cp_mask(len, 8 * w);
		d[w] = (d[w] & ~m) | ((s[w] ^ st->ks[w]) & m);
	}
}

/* ---- Poly1305 (RFC 8439 2.5) ---- */

#define CP_M26 0x3ffffffULL

/* Keys Poly1305 with a 32-byte one-time key: r (clamped) and s. */
static __always_inline void cp_poly_init(struct cp_state *st, const __u8 *key)
{
	__u64 lo = cp_le32(key) | (__u64)cp_le32(key + 4) << 32;
	__u64 hi = cp_le32(key + 8) | (__u64)cp_le32(key + 12) << 32;
	int i;

	st->r[0] = lo & 0x3ffffff;
	st->r[1] = (lo >> 26) & 0x3ffff03;
	st->r[2] = ((lo >> 52) | (hi << 12)) & 0x3ffc0ff;
	st->r[3] = (hi >> 14) & 0x3f03fff;
	st->r[4] = (hi >> 40) & 0x00fffff;
	for (i = 0; i < 5; i++)
		st->h[i] = 0;
	for (i = 0; i < 4; i++)
		st->s[i] = cp_le32(key + 16 + 4 * i);
}

/* h = (h + block) * r mod 2^130 - 5, the 128-bit block given as two
 * words and its top bit (2^128 for a full block, 0 for the padded last
 * block of a raw message). */
static __always_inline void cp_poly_block(struct cp_state *st, __u64 lo, __u64 hi, __u64 top)
{
	__u64 r0 = st->r[0], r1 = st->r[1], r2 = st->r[2], r3 = st->r[3], r4 = st->r[4];
	__u64 s1 = r1 * 5, s2 = r2 * 5, s3 = r3 * 5, s4 = r4 * 5;
	__u64 h0 = st->h[0] + (lo & CP_M26);
	__u64 h1 = st->h[1] + ((lo >> 26) & CP_M26);
	__u64 h2 = st->h[2] + (((lo >> 52) | (hi << 12)) & CP_M26);
	__u64 h3 = st->h[3] + ((hi >> 14) & CP_M26);
	__u64 h4 = st->h[4] + ((hi >> 40) | top);
	__u64 d0, d1, d2, d3, d4, c;

	d0 = h0 * r0 + h1 * s4 + h2 * s3 + h3 * s2 + h4 * s1;
	d1 = h0 * r1 + h1 * r0 + h2 * s4 + h3 * s3 + h4 * s2;
	d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s4 + h4 * s3;
	d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s4;
	d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0;
	c = d0 >> 26;
	h0 = d0 & CP_M26;
	d1 += c;
	c = d1 >> 26;
	h1 = d1 & CP_M26;
	d2 += c;
	c = d2 >> 26;
	h2 = d2 & CP_M26;
	d3 += c;
	c = d3 >> 26;
	h3 = d3 & CP_M26;
	d4 += c;
	c = d4 >> 26;
	h4 = d4 & CP_M26;
	h0 += c * 5;
	c = h0 >> 26;
	st->h[0] = h0 & CP_M26;
	st->h[1] = h1 + c;
	st->h[2] = h2;
	st->h[3] = h3;
	st->h[4] = h4;
}

#define CP_FULL (1ULL << 24) /* 2^128 in the top limb: a full block */
#define CP_PAD_ZERO 0         /* AEAD: a short block is zero-padded to 16 bytes */
#define CP_PAD_ONE 1          /* raw Poly1305: a 1 byte follows a short block */

/* MACs the 16-byte block at p of which len bytes (>= 1) belong to the
 * message, the rest masked off (and the 1 byte of a raw short block put
 * after them), without a branch on len. */
static __always_inline void cp_poly_masked(struct cp_state *st, const __u8 *p, __u64 len,
					   int pad)
{
	const __u64 *w = (const __u64 *)p;
	__u64 m0 = cp_mask(len, 0), m1 = cp_mask(len, 8);
	__u64 lo = w[0] & m0, hi = w[1] & m1, top = CP_FULL;

	if (pad == CP_PAD_ONE) {
		lo |= (cp_mask(len + 1, 0) ^ m0) & 0x0101010101010101ULL;
		hi |= (cp_mask(len + 1, 8) ^ m1) & 0x0101010101010101ULL;
		top = (m1 >> 63) << 24; /* only a full block has 2^128 */
	}
	cp_poly_block(st, lo, hi, top);
}

/* MACs a whole chunk: four full blocks. */
static __always_inline void cp_poly_full(struct cp_state *st, const __u8 *p)
{
	const __u64 *w = (const __u64 *)p;
	int b;

	for (b = 0; b < CP_CHUNK / 16; b++)
		cp_poly_block(st, w[2 * b], w[2 * b + 1], CP_FULL);
}

/* MACs the first len (1 to 63) bytes of a chunk. The first block is
 * always there, so no compare has a result the verifier knows in advance
 * (which would make it track the length precisely, see cp_chunks). */
static __always_inline void cp_poly_tail(struct cp_state *st, const __u8 *p, __u64 len, int pad)
{
	int b;

	cp_poly_masked(st, p, len, pad);
	for (b = 1; b < CP_CHUNK / 16; b++) {
		if (16 * b >= len)
			break;
		cp_poly_masked(st, p + 16 * b, len - 16 * b, pad);
	}
}

/* The tag: h fully reduced mod 2^130 - 5, plus s, mod 2^128. */
static __always_inline void cp_poly_finish(struct cp_state *st, __u8 *tag)
{
	__u64 h0 = st->h[0], h1 = st->h[1], h2 = st->h[2], h3 = st->h[3], h4 = st->h[4];
	__u64 g0, g1, g2, g3, g4, c, mask, f;

	c = h1 >> 26;
	h1 &= CP_M26;
	h2 += c;
	c = h2 >> 26;
	h2 &= CP_M26;
	h3 += c;
	c = h3 >> 26;
	h3 &= CP_M26;
	h4 += c;
	c = h4 >> 26;
	h4 &= CP_M26;
	h0 += c * 5;
	c = h0 >> 26;
	h0 &= CP_M26;
	h1 += c;

	/* g = h + 5 - 2^130: h when it borrows (h < p), g otherwise. */
	g0 = h0 + 5;
	c = g0 >> 26;
	g0 &= CP_M26;
	g1 = h1 + c;
	c = g1 >> 26;
	g1 &= CP_M26;
	g2 = h2 + c;
	c = g2 >> 26;
	g2 &= CP_M26;
	g3 = h3 + c;
	c = g3 >> 26;
	g3 &= CP_M26;
	g4 = h4 + c - (1ULL << 26);
	mask = (g4 >> 63) - 1; /* all ones: take g */
	h0 = (h0 & ~mask) | (g0 & mask);
	h1 = (h1 & ~mask) | (g1 & mask);
	h2 = (h2 & ~mask) | (g2 & mask);
	h3 = (h3 & ~mask) | (g3 & mask);
	h4 = (h4 & ~mask) | (g4 & mask);

	/* 32-bit words of h mod 2^128, plus s with the carry carried. */
	f = ((h0 | (h1 << 26)) & 0xffffffff) + st->s[0];
	cp_put_le32(tag, f);
	f = (((h1 >> 6) | (h2 << 20)) & 0xffffffff) + st->s[1] + (f >> 32);
	cp_put_le32(tag + 4, f);
	f = (((h2 >> 12) | (h3 << 14)) & 0xffffffff) + st->s[2] + (f >> 32);
	cp_put_le32(tag + 8, f);
	f = (((h3 >> 18) | (h4 << 8)) & 0xffffffff) + st->s[3] + (f >> 32);
	cp_put_le32(tag + 12, f);
}

/* 1 when the tags are equal; the time does not depend on where they differ. */
static __always_inline int cp_tag_equal(const __u8 *a, const __u8 *b)
{
	__u32 diff = 0;
	int i;

	for (i = 0; i < CP_TAG; i++)
		diff |= a[i] ^ b[i];
	barrier_var(diff);
	return diff == 0;
}

/* ---- One pass over a message ---- */

#define CP_XOR 1     /* dst = src ^ ChaCha20 keystream */
#define CP_MAC_SRC 2 /* Poly1305 over src (before dst is written: open, raw MAC) */
#define CP_MAC_DST 4 /* Poly1305 over dst (after: seal) */

/* Runs `what` over the len bytes of src/dst, chunk by chunk. The
 * verifier walks every iteration; what keeps that linear in the length
 * is that it never needs the length precisely: len only meets compares
 * whose outcome it cannot know in advance (a known outcome makes it track
 * len exactly), and the last, short chunk leaves the loop at once rather
 * than through the next iteration's compare. Then the states that leave
 * the loop at different chunks differ only in an imprecise len, and the
 * code after the loop is verified once instead of once per chunk. */
static __always_inline void cp_chunks(struct cp_state *st, const __u8 *src, __u8 *dst,
				      __u64 len, int what, int pad)
{
	__u64 at, rem;
	int k;

	for (k = 0; k < CP_BUF / CP_CHUNK; k++) {
		at = CP_CHUNK * k;
		if (at >= len)
			break;
		rem = len - at;
		if (what & CP_XOR)
			cp_chacha_block(st);
		if (rem >= CP_CHUNK) {
			if (what & CP_MAC_SRC)
				cp_poly_full(st, src + at);
			if (what & CP_XOR)
				cp_xor_full(st, src + at, dst + at);
			if (what & CP_MAC_DST)
				cp_poly_full(st, dst + at);
			continue;
		}
		if (what & CP_MAC_SRC)
			cp_poly_tail(st, src + at, rem, pad);
		if (what & CP_XOR)
			cp_xor_tail(st, src + at, dst + at, rem);
		if (what & CP_MAC_DST)
			cp_poly_tail(st, dst + at, rem, pad);
		break;
	}
}

/* ---- The raw primitives, as the RFC's 2.4.2 and 2.5.2 vectors test them ---- */

/* dst = src ^ ChaCha20(key, nonce) from block `counter`; 0 or -EINVAL. */
static __always_inline int cp_chacha20(struct cp_state *st, const __u8 *key, const __u8 *nonce,
				       __u32 counter, const __u8 *src, __u8 *dst, __u64 len)
{
	if (len > CP_MAX_LEN)
		return -CP_E_INVAL;
	cp_chacha_init(st, key, nonce, counter);
	cp_chunks(st, src, dst, len, CP_XOR, CP_PAD_ZERO);
	return 0;
}

/* tag = Poly1305(key, msg); 0 or -EINVAL. */
static __always_inline int cp_poly1305(struct cp_state *st, const __u8 *key, const __u8 *msg,
				       __u64 len, __u8 *tag)
{
	if (len > CP_MAX_LEN)
		return -CP_E_INVAL;
	cp_poly_init(st, key);
	cp_chunks(st, msg, (__u8 *)msg, len, CP_MAC_SRC, CP_PAD_ONE);
	cp_poly_finish(st, tag);
	return 0;
}

/* ---- The AEAD (RFC 8439 2.8) ---- */

/* The one-time Poly1305 key from block 0, then the AAD, zero-padded;
 * the counter is left at 1 for the text. */
static __always_inline void cp_aead_start(struct cp_state *st, const __u8 *key,
					  const __u8 *nonce, const __u8 *aad, __u64 aad_len)
{
	cp_chacha_init(st, key, nonce, 0);
	cp_chacha_block(st);
	cp_poly_init(st, (const __u8 *)st->ks);
	cp_chunks(st, aad, (__u8 *)aad, aad_len, CP_MAC_SRC, CP_PAD_ZERO);
}

/* The lengths block and the tag into st->tag. */
static __always_inline void cp_aead_finish(struct cp_state *st, __u64 aad_len, __u64 len)
{
	cp_poly_block(st, aad_len, len, CP_FULL);
	cp_poly_finish(st, st->tag);
}

/* Encrypts len bytes of src into dst and writes the 16-byte tag (RFC
 * 8439 2.8). 0, or -EINVAL for a length over the bounds. */
static __always_inline int cp_seal(struct cp_state *st, const __u8 *key, const __u8 *nonce,
				   const __u8 *aad, __u64 aad_len, const __u8 *src, __u8 *dst,
				   __u64 len, __u8 *tag)
{
	int i;

	if (len > CP_MAX_LEN || aad_len > CP_MAX_AAD)
		return -CP_E_INVAL;
	cp_aead_start(st, key, nonce, aad, aad_len);
	cp_chunks(st, src, dst, len, CP_XOR | CP_MAC_DST, CP_PAD_ZERO);
	cp_aead_finish(st, aad_len, len);
	for (i = 0; i < CP_TAG; i++)
		tag[i] = st->tag[i];
	return 0;
}

/* Checks the tag and decrypts len bytes of src into dst, in the same
 * pass (a second pass would double the verifier's work). 0; -EBADMSG
 * when the tag does not match, and then dst's first len bytes are zeroed
 * (no unauthenticated plaintext is left; without a branch on len, over
 * all of dst's CP_BUF bytes); -EINVAL for a length over the bounds. */
static __always_inline int cp_open(struct cp_state *st, const __u8 *key, const __u8 *nonce,
				   const __u8 *aad, __u64 aad_len, const __u8 *src, __u8 *dst,
				   __u64 len, const __u8 *tag)
{
	__u64 *d = (__u64 *)dst;
	int w;

	if (len > CP_MAX_LEN || aad_len > CP_MAX_AAD)
		return -CP_E_INVAL;
	cp_aead_start(st, key, nonce, aad, aad_len);
	cp_chunks(st, src, dst, len, CP_MAC_SRC | CP_XOR, CP_PAD_ZERO);
	cp_aead_finish(st, aad_len, len);
	if (cp_tag_equal(st->tag, tag))
		return 0;
	for (w = 0; w < CP_BUF / 8; w++)
		d[w] &= ~cp_mask(len, 8 * w);
	return -CP_E_BADMSG;
}

#endif /* CHACHA20POLY1305_H */
