/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The tamper test program of both data planes (after bpfcrypt_base.h):
 * attached only by tamper scenarios, after encrypt_egress, it flips one
 * byte of the IPv4 payload (the ciphertext, or the ESP packet), keeping
 * the IP header valid, to see what the receiver delivers. Configured
 * through the map `tamper` (struct bpfcrypt_tamper); counts `tampered`.
 */
#ifndef BPFCRYPT_TAMPER_H
#define BPFCRYPT_TAMPER_H

SLOT_MAP(BPF_MAP_TYPE_ARRAY, struct bpfcrypt_tamper, tamper);

SEC("tcx/egress")
int tamper_egress(struct __sk_buff *skb)
{
	struct bpfcrypt_stats *st = common_stats(get_stats());
	struct bpfcrypt_tamper *cfg = slot(&tamper);
	struct iphdr iph;
	__u32 off;
	__u8 b;

	if (!cfg || !cfg->enabled || skb->protocol != bpf_htons(ETH_P_IP))
		return TCX_NEXT;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &iph, sizeof(iph)) < 0)
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

#endif /* BPFCRYPT_TAMPER_H */
