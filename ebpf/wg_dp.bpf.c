// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// lab-object: wireguard
/*
 * WireGuard data plane: the transport data messages of WireGuard (the
 * WireGuard paper, section 5.4.6) in UDP in IPv4, with ChaCha20-Poly1305
 * in plain BPF C (chacha20poly1305.h; bpf_crypto has no AEAD). Wire
 * format and ABI: wg_abi.h. The handshake is userspace's: it installs the
 * keypairs it derives through the `provision` SYSCALL program.
 *
 * TC egress tunnels IPv4 packets to the peer's allowed IPs: the inner
 * packet, its TCP/UDP checksum completed and zero-padded to 16 bytes, is
 * sealed under the sending keypair with the next counter and sent in UDP
 * to the peer's endpoint. Other IPv4 and non-IPv4 frames pass untouched
 * (the handshake's UDP among them). TC ingress takes the messages to our
 * port: handshake messages pass to userspace; a data message is opened
 * under the keypair of its receiver index (tag first, in constant time),
 * then its counter goes through the replay window, then the inner packet
 * is checked (IPv4, its length, its source within the allowed IPs) and
 * delivered in place of the outer one. Cleartext IPv4 from the allowed
 * IPs is dropped: the tunnel fails closed.
 *
 * One build: the payload is bounced through per-CPU scratch buffers (the
 * cipher reads and writes whole 8-byte words of map memory; an in-place
 * build would need the packet linear and the words past the message
 * writable, and brings nothing the bounce lacks: the cipher is the cost).
 *
 * Not here: IPv6 (inner or outer), ECN between the headers (the outer TOS
 * is 0), roaming (the endpoint is the loader's to set), GSO (super-packets
 * are dropped: segmentation offload must be off on the tunnel path).
 */
#define BPFCRYPT_STATS struct wg_stats
#define BPFCRYPT_SCRATCH struct wg_scratch
#include "bpfcrypt_base.h"
#include "wg_abi.h"
#include "chacha20poly1305.h"
#include "bpfcrypt_tamper.h"

/* Where the ciphertext starts in wg_scratch.out: 8-byte aligned for the
 * cipher, with the outer IPv4 and UDP headers and the message header
 * right in front of it, so that the whole message leaves in one store. */
#define CT_AT 48
#define MSG_AT (CT_AT - WG_ENCAP_LEN)
#define UDP_HLEN 8
#define IP_DF 0x4000
#define IP_FRAG_MASK 0x3fff

_Static_assert(MSG_AT >= 0 && MSG_AT % 4 == 0, "headers 4-byte aligned in front of the ciphertext");
_Static_assert((WG_MAX_INNER + WG_PAD - 1) / WG_PAD * WG_PAD <= CP_MAX_LEN, "padded inner fits");

/* Per-CPU scratch (map `scratch`): the cipher's state and its buffers,
 * which must be map memory (the state does not fit the stack). */
struct wg_scratch {
	struct cp_state cp;
	__u8 nonce[16] __attribute__((aligned(8))); /* 4 zero bytes | counter (LE) */
	__u8 tag[WG_TAG_LEN];                       /* ingress: the tag received */
	__u64 clen;                                 /* ingress: see receive() */
	/* The inner packet, zero-padded. The slack lets the verifier see the
	 * checksum's last slice in bounds from its separate bounds on the
	 * header length and the offset. */
	__u8 pt[CP_BUF + 64] __attribute__((aligned(8)));
	/* egress: outer IPv4 | UDP | message header | ciphertext | tag, from
	 * MSG_AT; ingress: the ciphertext, at CT_AT. */
	__u8 out[CT_AT + CP_BUF + WG_TAG_LEN] __attribute__((aligned(8)));
};

/* The peer (one element) and its keypairs. Only the provision program
 * writes them (ingress also confirms a keypair): BPF_F_RDONLY makes the
 * kernel refuse writes from userspace, so no key is ever written there. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_RDONLY);
	__type(key, __u32);
	__type(value, struct wg_peer);
} wg_peer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WG_KEYPAIRS);
	__uint(map_flags, BPF_F_RDONLY);
	__type(key, __u32);
	__type(value, struct wg_keypair);
} wg_keypairs SEC(".maps");

struct udp_hdr {
	__be16 source;
	__be16 dest;
	__be16 len;
	__be16 check;
};

/* The message header (after UDP), little-endian fields. */
struct wg_data_hdr {
	__u32 type; /* WG_MSG_DATA; the reserved bytes are its upper 24 bits */
	__u32 receiver;
	__u64 counter;
};

static __always_inline __u64 lifetime_ns(const struct wg_peer *p)
{
	return p->reject_after_ns ? p->reject_after_ns : WG_REJECT_AFTER_TIME_NS;
}

/* A peer may shorten the limit, never lengthen it: the replay window's
 * arithmetic (counter + 1 + WG_REPLAY_WINDOW) must not wrap. */
static __always_inline __u64 message_limit(const struct wg_peer *p)
{
	__u64 n = p->reject_after_messages;

	return n && n < WG_REJECT_AFTER_MESSAGES ? n : WG_REJECT_AFTER_MESSAGES;
}

/* Whether addr (network order) lies in one of the peer's allowed IPs. */
static __always_inline int allowed(const struct wg_peer *p, __u32 addr)
{
	__u32 n = p->n_allowed, i, len, mask;

	for (i = 0; i < WG_MAX_ALLOWED; i++) {
		if (i >= n)
			break;
		len = p->allowed[i].prefix_len;
		if (len > 32)
			continue;
		mask = len ? bpf_htonl(~0U << (32 - len)) : 0;
		if (((addr ^ p->allowed[i].addr) & mask) == 0)
			return 1;
	}
	return 0;
}

/* The message type of a WireGuard message at off (its first four bytes,
 * little-endian, as the kernel reads them: reserved bytes that are not
 * zero make an unknown type); 0 when it cannot be read. */
static __always_inline __u32 message_type(struct __sk_buff *skb, __u32 off)
{
	__u32 type;

	if (bpf_skb_load_bytes(skb, off, &type, sizeof(type)) < 0)
		return 0;
	return type;
}

static __always_inline int is_handshake(__u32 type)
{
	return type >= WG_MSG_INITIATION && type <= WG_MSG_COOKIE;
}

/* Egress: whether iph is the handshake's own UDP from our port to the
 * endpoint, which goes out as it is even when the allowed IPs cover the
 * endpoint. */
static __always_inline int handshake_out(struct __sk_buff *skb, const struct wg_peer *p,
					 const struct iphdr *iph)
{
	struct udp_hdr udp;
	__u32 hl = iph->ihl * 4;

	if (iph->protocol != IPPROTO_UDP || iph->daddr != p->endpoint_addr || hl < sizeof(*iph) ||
	    (iph->frag_off & bpf_htons(IP_FRAG_MASK)))
		return 0;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + hl, &udp, sizeof(udp)) < 0)
		return 0;
	return udp.source == p->local_port && udp.dest == p->endpoint_port &&
	       is_handshake(message_type(skb, ETH_HLEN + hl + UDP_HLEN));
}

#define READ_ONCE_U32(x) (*(volatile __u32 *)&(x))
#define READ_ONCE_U64(x) (*(volatile __u64 *)&(x))
#define WRITE_ONCE_U32(x, v) (*(volatile __u32 *)&(x) = (v))

/*
 * A keypair's epoch is its created_ns. The provision program replaces a
 * slot in this order: valid = 0, created_ns, then counters and keys, then
 * valid = 1 (clearing: valid = 0, then the keys wiped). A reader takes the
 * epoch first, then checks valid, uses the keypair, and checks the epoch
 * and valid again: a packet that met a replacement or a clearing is
 * dropped, so no key is ever used with a counter of another keypair (a
 * new key with an old counter, or the old key with a counter the new
 * keypair hands out again, would repeat a nonce). That the stores are seen
 * in that order is x86's (TSO); the barriers keep clang from reordering.
 */

/* The keypair in slot. Loops pass their counter here by value: a counter
 * whose address went to the helper would live on the stack, where the
 * verifier loses its value and with it the loop's bound. */
static __always_inline struct wg_keypair *keypair_at(__u32 slot)
{
	return bpf_map_lookup_elem(&wg_keypairs, &slot);
}

/* The keypair egress sends with: valid and confirmed, or NULL; its
 * epoch goes to *born. */
static __always_inline struct wg_keypair *sending_keypair(const struct wg_peer *p, __u64 *born)
{
	__u32 slot = READ_ONCE_U32(p->send_slot);
	struct wg_keypair *kp;

	if (slot >= WG_KEYPAIRS)
		return NULL; /* WG_NO_SLOT among them */
	kp = bpf_map_lookup_elem(&wg_keypairs, &slot);
	if (!kp)
		return NULL;
	*born = READ_ONCE_U64(kp->created_ns);
	barrier();
	if (!READ_ONCE_U32(kp->valid) || !READ_ONCE_U32(kp->confirmed))
		return NULL;
	return kp;
}

/* Whether kp is still the keypair of epoch born, after its use. */
static __always_inline int same_keypair(const struct wg_keypair *kp, __u64 born)
{
	barrier();
	return READ_ONCE_U64(kp->created_ns) == born && READ_ONCE_U32(kp->valid);
}

/* Ones' complement sum of the len bytes at p (the bytes up to the next
 * multiple of 4 must be zero), started from sum. 256-byte slices and
 * then the rest: older kernels (6.12 among them) refuse bpf_csum_diff
 * sizes over 512 bytes or not a multiple of 4. Negative on error. */
static __always_inline __s64 csum_buf(const __u8 *p, __u64 len, __u64 sum)
{
	__u64 off = 0, rem, i;
	__s64 ret;

	for (i = 0; i < CP_BUF / CSUM_CHUNK; i++) {
		if (len - off < CSUM_CHUNK)
			break;
		ret = bpf_csum_diff(NULL, 0, (__be32 *)(p + off), CSUM_CHUNK, (__wsum)sum);
		if (ret < 0)
			return ret;
		sum = ret;
		off += CSUM_CHUNK;
	}
	rem = (len - off + 3) & ~3ULL;
	if (rem == 0)
		return sum;
	if (rem > CSUM_CHUNK)
		return -1;
	return bpf_csum_diff(NULL, 0, (__be32 *)(p + off), rem, (__wsum)sum);
}

/* Completes the TCP or UDP checksum of the inner packet in s->pt (header
 * of hl bytes, tot in all, zeros after it): the receiver checks it after
 * decapsulation, and a CHECKSUM_PARTIAL skb only holds the pseudo-header
 * sum, which nobody completes once the packet is encrypted. Fragments
 * and other protocols (ICMP) carry a complete checksum already. */
static __always_inline int l4_checksum(struct wg_scratch *s, const struct iphdr *iph, __u64 hl,
				       __u64 tot)
{
	__u64 plen = tot - hl;
	__u8 *l4;
	__s64 sum;
	int off;

	if (iph->frag_off & bpf_htons(IP_FRAG_MASK))
		return 0;
	off = l4_csum_offset(iph, plen);
	if (off < 0)
		return 0;
	barrier_var(hl);
	hl &= 0x3c;
	l4 = s->pt + hl;
	*(__u16 *)(l4 + off) = 0;
	sum = l4_pseudo_sum(iph, plen);
	if (sum < 0)
		return -1;
	sum = csum_buf(l4, plen, sum);
	if (sum < 0)
		return -1;
	*(__u16 *)(l4 + off) = l4_csum_final(iph, sum);
	return 0;
}

/* Rewrites the inner IPv4 header checksum in s->pt: a round trip gives
 * back a valid header whatever egress was given. */
static __always_inline int inner_ip_checksum(struct wg_scratch *s, __u64 hl)
{
	struct iphdr *iph = (struct iphdr *)s->pt;
	__s64 sum;

	barrier_var(hl);
	hl &= 0x3c;
	if (hl < sizeof(*iph))
		return -1;
	iph->check = 0;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)s->pt, hl, 0);
	if (sum < 0)
		return -1;
	iph->check = (__u16)~csum_fold(sum);
	return 0;
}

/* Zeroes s->pt from byte tot up to the next multiple of 16 (and a word
 * past it): the padding, and the zeros the checksum reads. */
static __always_inline void zero_pad(struct wg_scratch *s, __u64 tot)
{
	__u64 *w = (__u64 *)s->pt;
	__u64 k = tot >> 3;

	if (k > WG_MAX_INNER / 8)
		return;
	w[k] &= cp_mask(tot, 8 * k);
	w[k + 1] = 0;
}

/* The outer IPv4 and UDP headers and the message header, in front of the
 * ciphertext in s->out. DF is set: nothing after tc egress fragments the
 * packet, and an atomic datagram needs no identification (RFC 6864). */
static __always_inline int outer_headers(struct wg_scratch *s, const struct wg_peer *p,
					 const struct wg_keypair *kp, __u64 counter, __u64 clen)
{
	struct iphdr *ip = (struct iphdr *)(s->out + MSG_AT);
	struct udp_hdr *udp = (struct udp_hdr *)(s->out + MSG_AT + sizeof(*ip));
	struct wg_data_hdr *h = (struct wg_data_hdr *)(s->out + MSG_AT + sizeof(*ip) + UDP_HLEN);
	__s64 sum;

	*(__u8 *)ip = 0x45; /* version 4, 5 words */
	ip->tos = 0;
	ip->tot_len = bpf_htons((__u16)(WG_ENCAP_LEN + clen + WG_TAG_LEN));
	ip->id = 0;
	ip->frag_off = bpf_htons(IP_DF);
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->check = 0;
	ip->saddr = p->local_addr;
	ip->daddr = p->endpoint_addr;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)ip, sizeof(*ip), 0);
	if (sum < 0)
		return -1;
	ip->check = (__u16)~csum_fold(sum);
	udp->source = p->local_port;
	udp->dest = p->endpoint_port;
	udp->len = bpf_htons((__u16)(UDP_HLEN + WG_DATA_HDR_LEN + clen + WG_TAG_LEN));
	udp->check = 0; /* optional over IPv4, and the kernel's WireGuard sends none */
	h->type = WG_MSG_DATA;
	h->receiver = kp->remote_index;
	h->counter = counter;
	return 0;
}

/* nonce = 4 zero bytes | counter (LE). */
static __always_inline void make_nonce(struct wg_scratch *s, __u64 counter)
{
	__u32 *n = (__u32 *)s->nonce;

	n[0] = 0;
	n[1] = (__u32)counter;
	n[2] = (__u32)(counter >> 32);
}

SEC("tcx/egress")
int encrypt_egress(struct __sk_buff *skb)
{
	struct wg_stats *st = get_stats();
	struct wg_scratch *s;
	struct wg_keypair *kp;
	struct wg_peer *peer;
	struct iphdr iph;
	__u64 hl, tot, clen, counter, len, born = 0;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		goto pass;
	peer = slot(&wg_peer);
	if (!peer)
		goto error;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &iph, sizeof(iph)) < 0)
		goto unsupported;
	if (!peer->configured || !allowed(peer, iph.daddr) || handshake_out(skb, peer, &iph))
		goto pass;

	/* To the tunnel from here on: what cannot be sealed is dropped. */
	hl = iph.ihl * 4;
	tot = bpf_ntohs(iph.tot_len);
	if (skb->gso_size != 0 || iph.version != 4 || hl < sizeof(iph) || tot < hl ||
	    tot > WG_MAX_INNER || skb->len < ETH_HLEN + tot)
		goto unsupported;
	kp = sending_keypair(peer, &born);
	if (!kp)
		return DROP(st, base.dropped_nokey);
	if (bpf_ktime_get_ns() - born >= lifetime_ns(peer))
		return DROP(st, expired);
	/* Each counter once: concurrent CPUs each take their own, and a
	 * counter taken by a packet dropped later is never sent. */
	counter = __sync_fetch_and_add(&kp->send_counter, 1);
	if (counter >= message_limit(peer))
		return DROP(st, seq_exhausted);
	s = get_scratch();
	if (!s)
		goto error;

	BOUND_LEN(tot, WG_MAX_INNER, goto error);
	if (bpf_skb_load_bytes(skb, ETH_HLEN, s->pt, tot) < 0)
		goto error;
	zero_pad(s, tot);
	if (l4_checksum(s, &iph, hl, tot) < 0 || inner_ip_checksum(s, hl) < 0)
		goto error;
	clen = (tot + WG_PAD - 1) & ~(__u64)(WG_PAD - 1);
	if (outer_headers(s, peer, kp, counter, clen) < 0)
		goto error;
	make_nonce(s, counter);
	barrier_var(clen);
	if (clen > WG_MAX_INNER)
		goto error;
	if (cp_seal(&s->cp, kp->send_key, s->nonce, s->nonce, 0, s->pt, s->out + CT_AT, clen,
		    s->out + CT_AT + clen) < 0)
		goto error;
	if (!same_keypair(kp, born)) {
		COUNT(st, base.dropped_nokey, 1); /* replaced or cleared meanwhile */
		return TC_ACT_SHOT;
	}

	len = WG_ENCAP_LEN + clen + WG_TAG_LEN;
	BOUND_LEN(len, WG_ENCAP_LEN + WG_MAX_INNER + WG_TAG_LEN, goto error);
	if (bpf_skb_change_tail(skb, ETH_HLEN + len, 0) < 0 ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, s->out + MSG_AT, len, 0) < 0)
		goto error;
	/* No later layer may take the (now encrypted) inner checksum as
	 * verified. CHECKSUM_PARTIAL stays (no helper clears it): checksum
	 * offload must be off on the tunnel path, as for ESP. */
	bpf_csum_level(skb, BPF_CSUM_LEVEL_RESET);
	COUNT(st, base.encrypted, 1);
	COUNT(st, base.encrypted_bytes, tot - hl);
	return TCX_NEXT;
pass:
	COUNT(st, base.passed, 1);
	return TCX_NEXT;
unsupported:
	return DROP(st, base.dropped_unsupported);
error:
	return DROP(st, base.errors);
}

/* The valid keypair whose local index is idx, its slot and epoch; NULL
 * if none. */
static __always_inline struct wg_keypair *receiving_keypair(__u32 idx, __u32 *slot_out,
							    __u64 *born)
{
	struct wg_keypair *kp;
	__u32 i;

	for (i = 0; i < WG_KEYPAIRS; i++) {
		kp = keypair_at(i);
		if (!kp)
			continue;
		*born = READ_ONCE_U64(kp->created_ns);
		barrier();
		if (READ_ONCE_U32(kp->valid) && kp->local_index == idx) {
			*slot_out = i;
			return kp;
		}
	}
	return NULL;
}

/* Verdicts of the critical section of receive(). */
#define REPLAYED 1
#define REPLACED 2 /* the keypair is not the one the message was opened with */

/* The replay window (RFC 6479, as the kernel's WireGuard has it), with
 * kp->lock held (no calls): REPLAYED when counter was seen before or lies
 * left of the window, else it is recorded and 0. replay_top is the
 * highest counter + 1; moving it clears the words the window enters. */
static __always_inline int replay_check_update(struct wg_keypair *kp, __u64 counter)
{
	__u64 top = kp->replay_top, idx, cur, n, bit, i;

	counter += 1;
	if (counter + WG_REPLAY_WINDOW < top)
		return REPLAYED;
	idx = counter >> 6;
	if (counter > top) {
		cur = top >> 6;
		n = idx - cur;
		for (i = 1; i <= WG_REPLAY_WORDS; i++) {
			if (i > n)
				break;
			kp->replay[(cur + i) & (WG_REPLAY_WORDS - 1)] = 0;
		}
		kp->replay_top = counter;
	}
	idx &= WG_REPLAY_WORDS - 1;
	bit = 1ULL << (counter & 63);
	if (kp->replay[idx] & bit)
		return REPLAYED;
	kp->replay[idx] |= bit;
	return 0;
}

/* After authentication and the replay window: the inner packet in s->pt
 * (clen bytes) checked and delivered in place of the outer one. */
static __always_inline int deliver(struct __sk_buff *skb, struct wg_stats *st,
				   const struct wg_peer *peer, struct wg_scratch *s, __u64 clen)
{
	struct iphdr *iph = (struct iphdr *)s->pt;
	__u64 hl, tot;

	if (clen < sizeof(*iph))
		return DROP(st, base.dropped_invalid);
	if (iph->version == 6)
		return DROP(st, base.dropped_unsupported);
	hl = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	if (iph->version != 4 || hl < sizeof(*iph) || tot < hl || tot > clen)
		return DROP(st, base.dropped_invalid);
	if (!allowed(peer, iph->saddr))
		return DROP(st, not_allowed);
	BOUND_LEN(tot, CP_MAX_LEN, goto error);
	if (bpf_skb_store_bytes(skb, ETH_HLEN, s->pt, tot, BPF_F_RECOMPUTE_CSUM) < 0 ||
	    bpf_skb_change_tail(skb, ETH_HLEN + tot, 0) < 0)
		goto error;
	COUNT(st, base.decrypted, 1);
	COUNT(st, base.decrypted_bytes, tot - hl);
	return TCX_NEXT;
error:
	return DROP(st, base.errors);
}

/* A message to our port, its UDP payload at off (wlen bytes). */
static __always_inline int receive(struct __sk_buff *skb, struct wg_stats *st,
				   struct wg_peer *peer, __u64 off, __u64 wlen)
{
	struct wg_data_hdr h;
	struct wg_scratch *s;
	struct wg_keypair *kp;
	__u32 kslot = 0, confirm = 0;
	__u64 clen, born = 0;
	int verdict;

	if (bpf_skb_load_bytes(skb, off, &h.type, sizeof(h.type)) < 0)
		goto invalid;
	if (is_handshake(h.type)) {
		COUNT(st, handshakes, 1);
		COUNT(st, base.passed, 1);
		return TCX_NEXT;
	}
	if (h.type != WG_MSG_DATA || wlen < WG_DATA_HDR_LEN + WG_TAG_LEN)
		goto invalid;
	clen = wlen - WG_DATA_HDR_LEN - WG_TAG_LEN;
	if (clen > CP_MAX_LEN)
		return DROP(st, base.dropped_unsupported);
	if (bpf_skb_load_bytes(skb, off, &h, sizeof(h)) < 0)
		goto error;
	kp = receiving_keypair(h.receiver, &kslot, &born);
	if (!kp)
		return DROP(st, unknown_spi);
	if (bpf_ktime_get_ns() - born >= lifetime_ns(peer))
		return DROP(st, expired);
	if (h.counter >= message_limit(peer))
		return DROP(st, seq_exhausted);
	s = get_scratch();
	if (!s)
		goto error;
	if (clen) {
		BOUND_LEN(clen, CP_MAX_LEN, goto error);
		if (bpf_skb_load_bytes(skb, off + WG_DATA_HDR_LEN, s->out + CT_AT, clen) < 0)
			goto error;
	}
	if (bpf_skb_load_bytes(skb, off + WG_DATA_HDR_LEN + clen, s->tag, WG_TAG_LEN) < 0)
		goto error;
	make_nonce(s, h.counter);
	/* The length goes through the map: the copy read back after the
	 * cipher is unknown to the verifier, so the paths that leave the
	 * cipher's loop at different chunks (each with its own range for
	 * clen) meet as one, and what follows is verified once, not once per
	 * chunk (it was 270 k verified instructions instead of 156 k). */
	s->clen = clen;
	/* Authenticate first: the window moves only for genuine messages. */
	if (cp_open(&s->cp, kp->recv_key, s->nonce, s->nonce, 0, s->out + CT_AT, s->pt, clen,
		    s->tag) < 0)
		return DROP(st, auth_failed);
	clen = *(volatile __u64 *)&s->clen;
	/* Check and record in one critical section, so that two CPUs
	 * receiving the same counter cannot both accept it; and against the
	 * window of the keypair the message was opened with (a replacement
	 * resets the window under this lock, after the epoch). */
	bpf_spin_lock(&kp->lock);
	if (kp->created_ns != born || !kp->valid)
		verdict = REPLACED;
	else
		verdict = replay_check_update(kp, h.counter);
	if (!verdict) {
		kp->received++;
		confirm = !kp->confirmed;
		kp->confirmed = 1;
	}
	bpf_spin_unlock(&kp->lock);
	if (verdict == REPLACED)
		return DROP(st, base.dropped_nokey);
	if (verdict == REPLAYED)
		return DROP(st, replayed);
	/* The responder's new keypair, confirmed by the initiator's first
	 * message under it, takes over sending (as in the kernel). */
	if (confirm)
		WRITE_ONCE_U32(peer->send_slot, kslot);
	if (clen == 0)
		return DROP(st, keepalives);
	return deliver(skb, st, peer, s, clen);
invalid:
	return DROP(st, base.dropped_invalid);
error:
	return DROP(st, base.errors);
}

SEC("tcx/ingress")
int decrypt_ingress(struct __sk_buff *skb)
{
	struct wg_stats *st = get_stats();
	struct wg_peer *peer;
	struct udp_hdr udp;
	struct iphdr iph;
	__u64 hl, tot;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		goto pass;
	peer = slot(&wg_peer);
	if (!peer)
		return DROP(st, base.errors);
	/* Too short for IPv4, or no peer yet: the stack's business. */
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &iph, sizeof(iph)) < 0 || !peer->configured)
		goto pass;
	hl = iph.ihl * 4;
	tot = bpf_ntohs(iph.tot_len);
	if (iph.version == 4 && hl >= sizeof(iph) && iph.protocol == IPPROTO_UDP &&
	    !(iph.frag_off & bpf_htons(IP_FRAG_MASK)) && tot >= hl + UDP_HLEN &&
	    skb->len >= ETH_HLEN + tot &&
	    bpf_skb_load_bytes(skb, ETH_HLEN + hl, &udp, sizeof(udp)) == 0 &&
	    udp.dest == peer->local_port)
		return receive(skb, st, peer, ETH_HLEN + hl + UDP_HLEN, tot - hl - UDP_HLEN);
	/* What the peer's addresses send comes through the tunnel or not at
	 * all. */
	if (allowed(peer, iph.saddr))
		return DROP(st, base.dropped_invalid);
pass:
	COUNT(st, base.passed, 1);
	return TCX_NEXT;
}

/* ---- Provisioning ---- */

static __always_inline int set_peer(struct wg_peer *peer, const struct wg_provision *args)
{
	__u32 n = args->peer.n_allowed, i;

	if (n > WG_MAX_ALLOWED || !args->peer.local_port)
		return -E_INVAL;
	for (i = 0; i < WG_MAX_ALLOWED; i++) {
		if (i < n && args->peer.allowed[i].prefix_len > 32)
			return -E_INVAL;
	}
	peer->local_addr = args->peer.local_addr;
	peer->endpoint_addr = args->peer.endpoint_addr;
	peer->local_port = args->peer.local_port;
	peer->endpoint_port = args->peer.endpoint_port;
	for (i = 0; i < WG_MAX_ALLOWED; i++) {
		peer->allowed[i].addr = i < n ? args->peer.allowed[i].addr : 0;
		peer->allowed[i].prefix_len = i < n ? args->peer.allowed[i].prefix_len : 0;
	}
	peer->n_allowed = n;
	peer->reject_after_ns = args->peer.reject_after_ns;
	peer->reject_after_messages = args->peer.reject_after_messages;
	if (!peer->configured) {
		peer->send_slot = WG_NO_SLOT; /* the map starts at slot 0 */
		peer->configured = 1;
	}
	return 0;
}

/* Empties a slot: no key left in it, and egress stops sending with it. */
static __always_inline void empty_slot(struct wg_peer *peer, __u32 slot)
{
	struct wg_keypair *kp = bpf_map_lookup_elem(&wg_keypairs, &slot);

	if (!kp)
		return;
	if (peer->send_slot == slot)
		WRITE_ONCE_U32(peer->send_slot, WG_NO_SLOT);
	WRITE_ONCE_U32(kp->valid, 0);
	barrier();
	kp->confirmed = 0;
	__builtin_memset(kp->send_key, 0, WG_KEY_LEN);
	__builtin_memset(kp->recv_key, 0, WG_KEY_LEN);
}

static __always_inline int clear_slots(struct wg_peer *peer, __u32 slot)
{
	__u32 i;

	if (slot != WG_NO_SLOT && slot >= WG_KEYPAIRS)
		return -E_INVAL;
	for (i = 0; i < WG_KEYPAIRS; i++) {
		if (slot == WG_NO_SLOT || slot == i)
			empty_slot(peer, i);
	}
	return 0;
}

/* Fills a slot. It is marked invalid first and valid last: a packet
 * that finds it in between is dropped, never handled with half a
 * keypair. Its local index must be unique among the valid slots. */
static __always_inline int install(struct wg_peer *peer, const struct wg_provision *args)
{
	__u32 slot = args->slot, i;
	struct wg_keypair *kp, *other;

	if (slot >= WG_KEYPAIRS)
		return -E_INVAL;
	for (i = 0; i < WG_KEYPAIRS; i++) {
		other = keypair_at(i);
		if (i != slot && other && other->valid && other->local_index == args->local_index)
			return -E_EXIST;
	}
	kp = bpf_map_lookup_elem(&wg_keypairs, &slot);
	if (!kp)
		return -E_NOENT;
	if (peer->send_slot == slot)
		WRITE_ONCE_U32(peer->send_slot, WG_NO_SLOT);
	WRITE_ONCE_U32(kp->valid, 0);
	barrier();
	*(volatile __u64 *)&kp->created_ns = bpf_ktime_get_ns();
	barrier();
	kp->local_index = args->local_index;
	kp->remote_index = args->remote_index;
	kp->send_counter = args->flags & WG_F_SKIP_FIRST ? 1 : 0;
	kp->received = 0;
	__builtin_memcpy(kp->send_key, args->send_key, WG_KEY_LEN);
	__builtin_memcpy(kp->recv_key, args->recv_key, WG_KEY_LEN);
	bpf_spin_lock(&kp->lock);
	kp->replay_top = 0;
	for (i = 0; i < WG_REPLAY_WORDS; i++)
		kp->replay[i] = 0;
	kp->confirmed = args->flags & WG_F_CONFIRMED ? 1 : 0;
	bpf_spin_unlock(&kp->lock);
	barrier();
	WRITE_ONCE_U32(kp->valid, 1);
	if (args->flags & WG_F_SEND)
		WRITE_ONCE_U32(peer->send_slot, slot);
	return 0;
}

/* Provisioning, run with BPF_PROG_RUN (ctx_in only). */
SEC("syscall")
int provision(struct wg_provision *args)
{
	struct wg_peer *peer = slot(&wg_peer);
	__u32 slot = args->slot;
	struct wg_keypair *kp;
	int err;

	if (!peer) {
		args->status = -E_NOENT;
		return 0;
	}
	switch (args->op) {
	case WG_OP_PEER:
		err = set_peer(peer, args);
		break;
	case WG_OP_KEYPAIR:
		err = install(peer, args);
		break;
	case WG_OP_CLEAR:
		err = clear_slots(peer, slot);
		break;
	case WG_OP_SEND:
		err = 0;
		if (slot != WG_NO_SLOT) {
			kp = bpf_map_lookup_elem(&wg_keypairs, &slot);
			if (!kp || !kp->valid)
				err = -E_NOENT;
		}
		if (!err)
			WRITE_ONCE_U32(peer->send_slot, slot);
		break;
	default:
		err = -E_INVAL;
	}
	if (!err)
		__sync_fetch_and_add(&peer->generation, 1);
	args->status = err;
	args->generation = peer->generation;
	return 0;
}
