// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// lab-object: type_probe
/*
 * Which bpf_crypto types and cipher names the kernel takes (`lab probe`):
 * the data planes create `skcipher` contexts only, and an `aead` type has
 * been proposed upstream. One SYSCALL program creates a context of the
 * type, algorithm and key length in its run context and releases it at
 * once; the status tells the loader whether the type is registered
 * (-ENOENT: no such type) and, if it is, whether it takes the algorithm.
 */
#include "bpfcrypt_base.h"

SEC("syscall")
int type_probe(struct bpfcrypt_type_probe *args)
{
	struct bpf_crypto_params params = {};
	struct bpf_crypto_ctx *ctx;
	int err = 0;

	__builtin_memcpy(params.type, args->type, sizeof(params.type));
	params.type[sizeof(params.type) - 1] = 0;
	crypto_params_algo(&params, args->algo);
	params.authsize = args->authsize;
	if (args->key_len > 32) {
		args->status = -E_INVAL;
		return 0;
	}
	ctx = crypto_ctx_new(&params, args->key, args->key_len, &err);
	if (ctx)
		bpf_crypto_ctx_release(ctx);
	args->status = err;
	return 0;
}
