/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Internet checksum (RFC 1071) over small buffers on the stack.  Pure C:
 * compiled into the BPF programs and into the unit tests.
 */
#ifndef CB_CSUM_H
#define CB_CSUM_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#include <bpf/bpf_endian.h>

/* Sum of 16-bit words of buf[0..len), len even and <= max (a constant). */
static __always_inline __u32 cb_csum_add(__u32 sum, const void *buf, __u32 len, const __u32 max)
{
	const __u16 *w = buf;
	__u32 i;

	/* A bounded loop (not unrolled): the verifier sees max/2 iterations. */
	for (i = 0; i < max / 2; i++) {
		if (i * 2 >= len)
			break;
		sum += w[i];
	}
	return sum;
}

static __always_inline __u16 cb_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/*
 * TCP/IPv4 pseudo-header sum (addresses in network order; the result is to be
 * folded together with the TCP header and payload sums, all in memory order).
 */
static __always_inline __u32 cb_csum_pseudo(__u32 saddr_be, __u32 daddr_be, __u16 tcp_len)
{
	__u32 sum = 0;

	sum += saddr_be & 0xffff;
	sum += saddr_be >> 16;
	sum += daddr_be & 0xffff;
	sum += daddr_be >> 16;
	/* protocol (6) and length, as big-endian 16-bit words in memory order */
	sum += bpf_htons(6);
	sum += bpf_htons(tcp_len);
	return sum;
}

#endif /* CB_CSUM_H */
