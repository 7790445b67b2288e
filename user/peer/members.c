// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Cluster membership (members.h): providers, checks, and the link's view. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "peer/members.h"

static int config_load(void *src, struct cb_members *out)
{
	if (!src)
		return -EINVAL;
	memcpy(out, src, sizeof(*out));
	return 0;
}

const struct cb_members_ops cb_members_config = { .load = config_load };

static bool member_ok(const struct cb_member *m)
{
	return m->id && m->name[0] && memchr(m->name, 0, sizeof(m->name)) &&
	       memchr(m->addr, 0, sizeof(m->addr)) && m->n_services <= CB_MSG_SVC_MAX;
}

int cb_members_load(const struct cb_members_ops *ops, void *src, struct cb_members *out)
{
	int err = ops->load(src, out), i, j;

	if (err)
		return err;
	if (out->n < 0 || out->n > CB_MEMBERS_MAX)
		return -EINVAL;
	for (i = 0; i < out->n; i++) {
		if (!member_ok(&out->m[i]))
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (out->m[j].id == out->m[i].id || !strcmp(out->m[j].name, out->m[i].name))
				return -EINVAL;
	}
	return 0;
}

const struct cb_member *cb_members_find(const struct cb_members *ms, uint32_t id)
{
	int i;

	for (i = 0; i < ms->n; i++)
		if (ms->m[i].id == id)
			return &ms->m[i];
	return NULL;
}

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int cb_member_set_mac(struct cb_member *m, const char *s)
{
	uint8_t mac[6];
	int i, hi, lo;

	if (!strcmp(s, "auto")) {
		m->mac_auto = true;
		memset(m->mac, 0, sizeof(m->mac));
		return 0;
	}
	if (strlen(s) != 17)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		hi = hex(s[3 * i]);
		lo = hex(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(m->mac, mac, sizeof(mac));
	m->mac_auto = false;
	return 0;
}

int cb_members_to_links(const struct cb_members *ms, uint32_t self_id, struct cb_links_cfg *cfg)
{
	int i, n = 0;

	if (!cb_members_find(ms, self_id))
		return -ENOENT;
	for (i = 0; i < ms->n; i++) {
		const struct cb_member *m = &ms->m[i];
		struct cb_link_peer_cfg *p = &cfg->peers[n];

		if (m->id == self_id)
			continue;
		if (n == CB_LINK_PEERS_MAX)
			return -E2BIG;
		p->id = m->id;
		snprintf(p->name, sizeof(p->name), "%s", m->name);
		snprintf(p->addr, sizeof(p->addr), "%s", m->addr);
		n++;
	}
	cfg->self_id = self_id;
	cfg->n_peers = n;
	return 0;
}

int cb_members_hello(struct cb_members *ms, const struct cb_msg_hello *h)
{
	struct cb_member *m = (struct cb_member *)cb_members_find(ms, h->node_id);

	if (!m)
		return -ENOENT;
	if (m->mac_auto) {
		memcpy(m->mac, h->mac, sizeof(m->mac));
		return 0;
	}
	return memcmp(m->mac, h->mac, sizeof(m->mac)) ? -EPROTO : 0;
}
