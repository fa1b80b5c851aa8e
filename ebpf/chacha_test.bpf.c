// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// lab-object: chacha_test
/*
 * The test harness of chacha20poly1305.h: not a data plane. One tc
 * program per operation runs on the single `jobs` entry, which the loader
 * fills (key, nonce, lengths, AAD, input) and reads back (output, tag,
 * status) around a BPF_PROG_TEST_RUN; the frame passed in is ignored.
 * tc and not SYSCALL programs, because only the former take `repeat` and
 * report a duration: the same programs give the RFC 8439 checks and the
 * per-call time. Input and output are separate buffers, so a repeated run
 * does the same work each time.
 *
 * Each program returns TC_ACT_OK when status is 0, TC_ACT_SHOT otherwise.
 */
#define BPFCRYPT_SCRATCH struct cp_state
#include "bpfcrypt_base.h"
#include "chacha20poly1305.h"

/* The value of `jobs` (lab/src/dataplane/chacha_test.rs mirrors it). */
struct chacha_job {
	__u8 key[CP_KEY];
	__u8 nonce[CP_NONCE];
	__u32 counter;       /* cp_chacha20 only: the first block's counter */
	__u32 aad_len;       /* seal and open */
	__u32 len;           /* bytes of in (and out) */
	__s32 status;        /* out: 0, -EINVAL, or -EBADMSG (open) */
	__u32 _pad;
	__u8 tag[CP_TAG];    /* seal, poly1305: out; open: in */
	__u8 aad[CP_MAX_AAD] __attribute__((aligned(8)));
	__u8 in[CP_BUF] __attribute__((aligned(8)));
	__u8 out[CP_BUF] __attribute__((aligned(8)));
};

SLOT_MAP(BPF_MAP_TYPE_ARRAY, struct chacha_job, jobs);

#define CP_OP_SEAL 1
#define CP_OP_OPEN 2
#define CP_OP_CHACHA20 3
#define CP_OP_POLY1305 4

static __always_inline int run(int op)
{
	struct chacha_job *job = slot(&jobs);
	struct cp_state *st = get_scratch();
	__u64 len, aad_len;
	int ret;

	if (!job || !st)
		return TC_ACT_SHOT;
	len = job->len;
	aad_len = job->aad_len;
	switch (op) {
	case CP_OP_SEAL:
		ret = cp_seal(st, job->key, job->nonce, job->aad, aad_len, job->in, job->out, len,
			      job->tag);
		break;
	case CP_OP_OPEN:
		ret = cp_open(st, job->key, job->nonce, job->aad, aad_len, job->in, job->out, len,
			      job->tag);
		break;
	case CP_OP_CHACHA20:
		ret = cp_chacha20(st, job->key, job->nonce, job->counter, job->in, job->out, len);
		break;
	default:
		ret = cp_poly1305(st, job->key, job->in, len, job->tag);
		break;
	}
	job->status = ret;
	return ret ? TC_ACT_SHOT : TC_ACT_OK;
}

/* Names start with cp_ (the kernel keeps 15 characters). */
SEC("tc")
int cp_seal_test(struct __sk_buff *skb)
{
	return run(CP_OP_SEAL);
}

SEC("tc")
int cp_open_test(struct __sk_buff *skb)
{
	return run(CP_OP_OPEN);
}

SEC("tc")
int cp_chacha20_test(struct __sk_buff *skb)
{
	return run(CP_OP_CHACHA20);
}

SEC("tc")
int cp_poly1305_test(struct __sk_buff *skb)
{
	return run(CP_OP_POLY1305);
}
