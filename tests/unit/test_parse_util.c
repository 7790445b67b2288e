// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include "util/parse_util.h"

Test(parse_util, service_ok)
{
	struct cb_service_key k;
	char buf[32];

	cr_assert_eq(cb_parse_service("198.18.0.100:8080", &k), 0);
	cr_expect_eq(k.vip.w[3], inet_addr("198.18.0.100"));
	cr_expect(cb_addr_is_v4(&k.vip));
	cr_expect_eq(ntohs(k.port_be), 8080);
	cr_expect_eq(k.pad, 0);
	cr_expect_str_eq(cb_fmt_service(&k, buf, sizeof(buf)), "198.18.0.100:8080");
}

Test(parse_util, service_rejects)
{
	struct cb_service_key k;
	const char *bad[] = { "", ":80", "198.18.0.1", "198.18.0.1:", "198.18.0.1:0",
			      "198.18.0.1:65536", "198.18.0.1:80x", "198.18.0:80", "host:80",
			      "198.18.0.1:-1", "198.18.0.1: 80" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_neq(cb_parse_service(bad[i], &k), 0, "accepted '%s'", bad[i]);
}

Test(parse_util, u32_strict)
{
	uint32_t v;

	cr_expect_eq(cb_parse_u32("42", 0, 100, &v), 0);
	cr_expect_eq(v, 42);
	cr_expect_neq(cb_parse_u32("101", 0, 100, &v), 0);
	cr_expect_neq(cb_parse_u32("4x", 0, 100, &v), 0);
	cr_expect_neq(cb_parse_u32("-1", 0, 100, &v), 0);
	cr_expect_neq(cb_parse_u32("", 0, 100, &v), 0);
	cr_expect_neq(cb_parse_u32("99999999999999999999", 0, UINT32_MAX, &v), 0);
}

Test(parse_util, modes)
{
	uint32_t m;

	cr_expect_eq(cb_parse_mode("native", &m), 0);
	cr_expect_eq(m, CB_MODE_NATIVE);
	cr_expect_eq(cb_parse_mode("skb", &m), 0);
	cr_expect_eq(m, CB_MODE_SKB);
	cr_expect_eq(cb_parse_mode("tc", &m), 0);
	cr_expect_eq(m, CB_MODE_TC);
	cr_expect_neq(cb_parse_mode("offload", &m), 0);
	cr_expect_str_eq(cb_mode_name(CB_MODE_TC), "tc");
}
