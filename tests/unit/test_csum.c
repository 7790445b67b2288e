// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* bpf/lib/csum.h against a byte-wise RFC 1071 reference. */
#include <criterion/criterion.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/types.h>
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#include "../../bpf/lib/csum.h"
#include "pkt.h"
#include "t_addr.h"

Test(csum, classic_ipv4_header)
{
	/* a textbook header whose checksum is 0xb861 */
	uint8_t h[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			  0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };
	__u16 c = cb_csum_fold(cb_csum_add(0, h, 20, 20));

	cr_expect_eq(ntohs(c), 0xb861);
	cr_expect_eq(t_csum(h, 20, 0), 0xb861);
}

Test(csum, tcp_with_pseudo_header_matches_reference)
{
	uint8_t frame[128], opts[20];
	struct t_tcp_spec s = {
		.saddr = 0xc6120001, .daddr = 0xc6120064, .sport = 40000, .dport = 80,
		.seq = 0x11223344, .flags = 0x02, .window = 64240,
	};
	size_t len;
	uint8_t *th;
	__u32 sum;

	s.optlen = t_syn_opts(opts, 1460, 1, 1, 0xabcdef01, 7);
	s.opts = opts;
	len = t_build(frame, sizeof(frame), &s);
	cr_assert_eq(t_verify_csums(frame, len), 0);

	th = frame + 34;
	th[16] = th[17] = 0;
	{
		union cb_addr sa = a4(s.saddr), da = a4(s.daddr);

		sum = cb_csum_pseudo(&sa, &da, (__u16)(20 + s.optlen));
	}
	sum = cb_csum_add(sum, th, (__u32)(20 + s.optlen), 60);
	memcpy(th + 16, &(__u16){ cb_csum_fold(sum) }, 2);
	cr_expect_eq(t_verify_csums(frame, len), 0);
}

/* The IPv6 pseudo-header (RFC 8200 8.1) against pkt.c's, which sums the
 * 16-byte addresses, a 32-bit length and the next header by bytes. */
Test(csum, ipv6_pseudo_header_matches_reference)
{
	static const char *pairs[][2] = {
		{ "2001:db8::1", "2001:db8::100" },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
		{ "::1", "::" },
		{ "fe80::1:2:3:4", "2001:db8:ffff:0:ffff:0:ffff:1" },
		{ "::fffe:c612:1", "::ffff:0:1" },      /* near the mapped prefix, not it */
	};
	uint8_t frame[160], opts[20], pay[7] = "payload";
	size_t i;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct t_tcp_spec s = {
			.sport = 40000, .dport = 80, .seq = 0x11223344, .ack = 0xfffffffe,
			.flags = 0x18, .window = 0xffff, .v6 = 1, .payload = pay,
			.paylen = (i & 1) ? 7 : 6,
		};
		union cb_addr sa = a6(pairs[i][0]), da = a6(pairs[i][1]);
		size_t len, tcplen;
		uint8_t *th;
		__u32 sum;

		memcpy(s.saddr6, sa.b, 16);
		memcpy(s.daddr6, da.b, 16);
		s.optlen = t_syn_opts(opts, 1460, 1, 1, 0xabcdef01, 7);
		s.opts = opts;
		len = t_build(frame, sizeof(frame), &s);
		cr_assert_eq(t_verify_csums(frame, len), 0, "%s: the reference", pairs[i][0]);
		th = frame + T_ETH_LEN + 40;
		tcplen = len - T_ETH_LEN - 40;
		th[16] = th[17] = 0;
		if (tcplen & 1)
			frame[len] = 0;         /* the pad byte cb_csum_add reads */
		sum = cb_csum_pseudo(&sa, &da, (__u16)tcplen);
		sum = cb_csum_add(sum, th, (__u32)tcplen, 128);
		memcpy(th + 16, &(__u16){ cb_csum_fold(sum) }, 2);
		cr_expect_eq(t_verify_csums(frame, len), 0, "%s -> %s", pairs[i][0], pairs[i][1]);
	}
}
