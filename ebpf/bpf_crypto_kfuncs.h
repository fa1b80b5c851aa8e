/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The bpf_crypto kernel types and kfuncs (Linux 6.10+) and the dynptr
 * kfuncs the data planes use, shared by every object (bpfcrypt_base.h).
 * Needs <linux/bpf.h> and <bpf/bpf_helpers.h> first. Declared weak: an
 * object references only those it calls.
 */
#ifndef BPF_CRYPTO_KFUNCS_H
#define BPF_CRYPTO_KFUNCS_H

/* A definition, not a forward declaration: libbpf matches kfunc prototypes
 * against the kernel BTF and a FWD does not match a STRUCT. Never accessed. */
struct bpf_crypto_ctx {
	int opaque;
};
struct bpf_crypto_params {
	char type[14];
	__u8 reserved[2];
	char algo[128];
	__u8 key[256];
	__u32 key_len;
	__u32 authsize;
};
extern struct bpf_crypto_ctx *bpf_crypto_ctx_create(const struct bpf_crypto_params *params,
						    __u32 params__sz, int *err) __ksym __weak;
extern void bpf_crypto_ctx_release(struct bpf_crypto_ctx *ctx) __ksym __weak;
extern int bpf_crypto_encrypt(struct bpf_crypto_ctx *ctx, const struct bpf_dynptr *src,
			      const struct bpf_dynptr *dst, const struct bpf_dynptr *siv) __ksym __weak;
extern int bpf_crypto_decrypt(struct bpf_crypto_ctx *ctx, const struct bpf_dynptr *src,
			      const struct bpf_dynptr *dst, const struct bpf_dynptr *siv) __ksym __weak;

extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags,
			       struct bpf_dynptr *ptr__uninit) __ksym __weak;
extern int bpf_dynptr_clone(const struct bpf_dynptr *ptr, struct bpf_dynptr *clone__uninit) __ksym __weak;
extern int bpf_dynptr_adjust(const struct bpf_dynptr *ptr, __u32 start, __u32 end) __ksym __weak;
extern void *bpf_dynptr_slice(const struct bpf_dynptr *ptr, __u32 offset, void *buffer__opt,
			      __u32 buffer__szk) __ksym __weak;

#endif /* BPF_CRYPTO_KFUNCS_H */
