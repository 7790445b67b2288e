/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The few operations that differ between the XDP and the TC hook.  The core
 * is written once against these; `hook` is a compile-time constant at every
 * call site, so the compiler keeps only the branch the program type allows.
 */
#ifndef CB_HOOK_H
#define CB_HOOK_H

enum cb_hook { CB_HOOK_XDP = 0, CB_HOOK_TC = 1 };

/*
 * Load a 32-bit context field with a single instruction at a fixed offset.
 * With plain C, clang may keep the offset in a register and add it to the
 * context pointer, which the verifier rejects ("dereference of modified ctx
 * ptr"); TC entries that read data/data_end twice hit exactly that.
 */
#define CB_CTX_LOAD32(ctx, type, field)                                      \
	({                                                                  \
		__u64 __v;                                                  \
		asm volatile("%0 = *(u32 *)(%1 + %2)"                       \
			     : "=r"(__v)                                    \
			     : "r"(ctx), "i"(__builtin_offsetof(type, field))); \
		__v;                                                        \
	})

/*
 * v & mask, done in an asm statement clang cannot see through or drop.  A C
 * mask after a range check is "provably" a no-op to clang, which then passes
 * an older, unchecked copy of the value to the helper and fails the verifier.
 */
#define CB_CLAMP(v, mask)                                                   \
	({                                                                  \
		__u64 __x = (v);                                            \
		asm volatile("%0 &= %1" : "+r"(__x) : "i"(mask));           \
		__x;                                                        \
	})

/* Final verdicts of the core, mapped to XDP_* / TC_ACT_* by each entry. */
enum cb_verdict { CB_V_PASS = 0, CB_V_DROP, CB_V_TX };

/* Whole frame length, including non-linear parts. */
static __always_inline __u32 cb_frame_len(void *ctx, const enum cb_hook hook)
{
	if (hook == CB_HOOK_XDP)
		return (__u32)bpf_xdp_get_buff_len(ctx);
	return ((struct __sk_buff *)ctx)->len;
}

static __always_inline long cb_load_bytes(void *ctx, const enum cb_hook hook, __u32 off,
					  void *to, __u32 len)
{
	if (hook == CB_HOOK_XDP)
		return bpf_xdp_load_bytes(ctx, off, to, len);
	return bpf_skb_load_bytes(ctx, off, to, len);
}

static __always_inline long cb_store_bytes(void *ctx, const enum cb_hook hook, __u32 off,
					   void *from, __u32 len)
{
	if (hook == CB_HOOK_XDP)
		return bpf_xdp_store_bytes(ctx, off, from, len);
	return bpf_skb_store_bytes(ctx, off, from, len, 0);
}

/* Resize the frame from len to new_len bytes at its tail (grow or shrink). */
static __always_inline long cb_resize_tail(void *ctx, const enum cb_hook hook, __u32 len,
					   __u32 new_len)
{
	if (hook == CB_HOOK_XDP)
		return bpf_xdp_adjust_tail(ctx, (int)new_len - (int)len);
	return bpf_skb_change_tail(ctx, new_len, 0);
}

/* Grow an XDP frame by n bytes in front of it (TC: not supported, -1). */
static __always_inline long cb_grow_head(void *ctx, const enum cb_hook hook, __u32 n)
{
	if (hook == CB_HOOK_XDP)
		return bpf_xdp_adjust_head(ctx, -(int)n);
	return -1;
}

#endif /* CB_HOOK_H */
