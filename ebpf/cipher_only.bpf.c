// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// lab-object: cipher_only
/*
 * The bench's cipher-only probe (`lab bench`, the kfunc alone): one
 * bpf_crypto_encrypt or bpf_crypto_decrypt call on probe.len bytes of the
 * raw data plane's own scratch buffers, with its own key context, and
 * nothing else. Run through the same BPF_PROG_TEST_RUN harness as the data
 * plane, its time is the limit of a data plane built on these kfuncs in
 * this kernel.
 *
 * The loader reuses the `keys` and `scratch` maps of a loaded, keyed raw
 * data plane (crypto_dp.bpf.c) before load, sets `probe` (struct
 * bpfcrypt_cipher_probe) and loads one of the two programs. They return TC_ACT_OK when the kfunc
 * succeeded, TC_ACT_SHOT otherwise; the packet is not touched.
 */
#include "bpfcrypt_base.h"

SLOT_MAP(BPF_MAP_TYPE_ARRAY, struct bpfcrypt_key_state, keys);

const volatile struct bpfcrypt_cipher_probe probe SEC(".rodata.probe") = {
	.len = BPFCRYPT_BLOCK,
};

static __always_inline int cipher_only(int decrypt)
{
	struct bpfcrypt_key_state *key = slot(&keys);
	struct bpf_dynptr src, dst, iv;
	struct bpfcrypt_scratch *s;
	struct bpf_crypto_ctx *ctx;
	__u32 len = probe.len;
	int ret;

	if (!key)
		return TC_ACT_SHOT;
	ctx = key->ctx;
	if (!ctx)
		return TC_ACT_SHOT;
	s = get_scratch();
	if (!s || len == 0 || len > BPFCRYPT_BUF)
		return TC_ACT_SHOT;
	bpf_dynptr_from_mem(s->src, len, 0, &src);
	bpf_dynptr_from_mem(s->dst, len, 0, &dst);
	if (probe.cbc) {
		bpf_dynptr_from_mem(s->iv, BPFCRYPT_BLOCK, 0, &iv);
		ret = decrypt ? bpf_crypto_decrypt(ctx, &src, &dst, &iv)
			      : bpf_crypto_encrypt(ctx, &src, &dst, &iv);
	} else {
		ret = decrypt ? bpf_crypto_decrypt(ctx, &src, &dst, NULL)
			      : bpf_crypto_encrypt(ctx, &src, &dst, NULL);
	}
	return ret < 0 ? TC_ACT_SHOT : TC_ACT_OK;
}

/* Names start with bcl_cipher: the bench test checks none is left loaded. */
SEC("tc")
int bcl_cipher_enc(struct __sk_buff *skb)
{
	return cipher_only(0);
}

SEC("tc")
int bcl_cipher_dec(struct __sk_buff *skb)
{
	return cipher_only(1);
}
