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
#include <connbroker/shared.h>       /* union cb_addr */

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

/* Sum of an address's 16-bit words: 2 of them for IPv4 (mapped), 8 for IPv6. */
static __always_inline __u32 cb_csum_addr(const union cb_addr *a)
{
	__u32 sum = (a->w[3] & 0xffff) + (a->w[3] >> 16);

	if (!cb_addr_is_v4(a))
		sum += (a->w[0] & 0xffff) + (a->w[0] >> 16) + (a->w[1] & 0xffff) +
		       (a->w[1] >> 16) + (a->w[2] & 0xffff) + (a->w[2] >> 16);
	return sum;
}

/*
 * TCP pseudo-header sum, IPv4 (RFC 793) or IPv6 (RFC 8200 8.1) by the
 * addresses' family (network order; the result is to be folded together
 * with the TCP header and payload sums, all in memory order).  Both put the
 * protocol and a length below 64 KiB in the same two words.
 */
static __always_inline __u32 cb_csum_pseudo(const union cb_addr *saddr,
					    const union cb_addr *daddr, __u16 tcp_len)
{
	__u32 sum = cb_csum_addr(saddr) + cb_csum_addr(daddr);

	/* protocol (6) and length, as big-endian 16-bit words in memory order */
	sum += bpf_htons(6);
	sum += bpf_htons(tcp_len);
	return sum;
}

#endif /* CB_CSUM_H */
