// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Membership (user/peer/members.c): the configuration provider, its checks,
 * the link's view of it, and MACs learned from HELLO. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "peer/members.h"

static struct cb_members *cfg, *ms;

static void add(uint32_t id, const char *name, const char *addr, const char *mac)
{
	struct cb_member *m = &cfg->m[cfg->n++];

	m->id = id;
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->addr, sizeof(m->addr), "%s", addr);
	cr_assert_eq(cb_member_set_mac(m, mac), 0);
	m->n_services = 1;
	snprintf(m->services[0], sizeof(m->services[0]), "web");
}

static void setup(void)
{
	cfg = calloc(1, sizeof(*cfg));
	ms = calloc(1, sizeof(*ms));
	add(1, "a", "10.0.0.1:7400", "02:00:00:00:00:01");
	add(2, "b", "10.0.0.2:7400", "auto");
	add(3, "c", "[2001:db8::3]:7400", "02:00:00:00:00:03");
}

static void teardown(void)
{
	free(cfg);
	free(ms);
}

TestSuite(members, .init = setup, .fini = teardown);

Test(members, from_the_configuration)
{
	const struct cb_member *b;

	cr_assert_eq(cb_members_load(&cb_members_config, cfg, ms), 0);
	cr_expect_eq(ms->n, 3);
	b = cb_members_find(ms, 2);
	cr_assert(b);
	cr_expect_str_eq(b->name, "b");
	cr_expect(b->mac_auto);
	cr_expect_eq(cb_members_find(ms, 4), NULL);
	cr_expect_eq(cb_members_load(&cb_members_config, NULL, ms), -EINVAL);
}

Test(members, checks)
{
	cfg->m[2].id = 1;
	cr_expect_eq(cb_members_load(&cb_members_config, cfg, ms), -EINVAL);
	cfg->m[2].id = 0;
	cr_expect_eq(cb_members_load(&cb_members_config, cfg, ms), -EINVAL);
	cfg->m[2].id = 3;
	strcpy(cfg->m[2].name, "a");
	cr_expect_eq(cb_members_load(&cb_members_config, cfg, ms), -EINVAL);
	cfg->m[2].name[0] = '\0';
	cr_expect_eq(cb_members_load(&cb_members_config, cfg, ms), -EINVAL);
	memset(cfg->m[2].name, 'x', sizeof(cfg->m[2].name));
	cr_expect_eq(cb_members_load(&cb_members_config, cfg, ms), -EINVAL);
	strcpy(cfg->m[2].name, "c");
	cfg->m[2].n_services = CB_MSG_SVC_MAX + 1;
	cr_expect_eq(cb_members_load(&cb_members_config, cfg, ms), -EINVAL);
	cfg->m[2].n_services = 1;
	cfg->n = CB_MEMBERS_MAX + 1;
	cr_expect_eq(cb_members_load(&cb_members_config, cfg, ms), -EINVAL);
	cfg->n = 3;
	cr_expect_eq(cb_members_load(&cb_members_config, cfg, ms), 0);
}

Test(members, macs)
{
	struct cb_member m = { 0 };

	cr_expect_eq(cb_member_set_mac(&m, "aa:bb:cc:dd:ee:0f"), 0);
	cr_expect_eq(memcmp(m.mac, "\xaa\xbb\xcc\xdd\xee\x0f", 6), 0);
	cr_expect(!m.mac_auto);
	cr_expect_eq(cb_member_set_mac(&m, "aa:bb:cc:dd:ee"), -EINVAL);
	cr_expect_eq(cb_member_set_mac(&m, "aa:bb:cc:dd:ee:0fx"), -EINVAL);
	cr_expect_eq(cb_member_set_mac(&m, "aa-bb-cc-dd-ee-0f"), -EINVAL);
	cr_expect_eq(cb_member_set_mac(&m, "aa:bb:cc:dd:ee:zz"), -EINVAL);
	cr_expect_eq(cb_member_set_mac(&m, "AUTO"), -EINVAL);
	cr_expect_eq(cb_member_set_mac(&m, " a:bb:cc:dd:ee:0f"), -EINVAL);
	cr_expect_eq(cb_member_set_mac(&m, "AA:BB:CC:DD:EE:0F"), 0);
	cr_expect_eq(cb_member_set_mac(&m, "auto"), 0);
	cr_expect(m.mac_auto);
}

Test(members, the_links_view)
{
	struct cb_links_cfg *lc = calloc(1, sizeof(*lc));

	cr_assert_eq(cb_members_load(&cb_members_config, cfg, ms), 0);
	cr_assert_eq(cb_members_to_links(ms, 2, lc), 0);
	cr_expect_eq(lc->self_id, 2);
	cr_expect_eq(lc->n_peers, 2);
	cr_expect_eq(lc->peers[0].id, 1);
	cr_expect_str_eq(lc->peers[1].name, "c");
	cr_expect_str_eq(lc->peers[1].addr, "[2001:db8::3]:7400");
	cr_expect_eq(cb_members_to_links(ms, 9, lc), -ENOENT);
	free(lc);
}

Test(members, macs_from_hello)
{
	struct cb_msg_hello h = { .node_id = 2, .mac = { 2, 0, 0, 0, 0, 0x22 } };

	cr_assert_eq(cb_members_load(&cb_members_config, cfg, ms), 0);
	cr_expect_eq(cb_members_hello(ms, &h), 0);
	cr_expect_eq(cb_members_find(ms, 2)->mac[5], 0x22);
	h.node_id = 1;                  /* configured: must agree */
	cr_expect_eq(cb_members_hello(ms, &h), -EPROTO);
	h.mac[5] = 1;
	cr_expect_eq(cb_members_hello(ms, &h), 0);
	h.node_id = 7;
	cr_expect_eq(cb_members_hello(ms, &h), -ENOENT);
}
