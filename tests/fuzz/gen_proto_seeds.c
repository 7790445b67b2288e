// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Writes the seed corpus of fuzz_proto (tests/fuzz/corpus/proto/): one
 * valid frame of each type, plus the variants that reach other branches
 * (IPv4 and IPv6 flows, no services and the most services, an empty rule).
 * Run once when the codec changes; the seeds are committed:
 *   cc -Iuser tests/fuzz/gen_proto_seeds.c user/peer/proto.c -o /tmp/g && /tmp/g tests/fuzz/corpus/proto
 */
#include <stdio.h>
#include <string.h>
#include "peer/proto.h"

static uint8_t buf[CB_MSG_MAX];
static const uint8_t image[] = "CBSI\x01\x00\x00\x68 an opaque socket image";

static int write_seed(const char *dir, const char *name, const struct cb_msg *m)
{
	char path[512];
	ssize_t n = cb_msg_encode(m, buf, sizeof(buf));
	FILE *f;

	if (n < 0)
		return fprintf(stderr, "%s: encode failed\n", name), 1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, (size_t)n, f) != (size_t)n || fclose(f))
		return perror(path), 1;
	return 0;
}

static void flow(struct cb_msg_flow *f, int family)
{
	memset(f, 0, sizeof(*f));
	f->family = (uint8_t)family;
	f->client[0] = 198, f->client[1] = 18, f->client[3] = 100;
	f->service[0] = 198, f->service[1] = 18, f->service[3] = 10;
	if (family == 6)
		f->client[15] = f->service[15] = 1;
	f->client_port = 40000;
	f->service_port = 80;
}

int main(int argc, char **argv)
{
	static const char *const refs[] = {
		[CB_MSG_PREPARED] = "prepared", [CB_MSG_REFUSED] = "refused",
		[CB_MSG_COMMIT] = "commit", [CB_MSG_ABORT] = "abort",
		[CB_MSG_DONE] = "done", [CB_MSG_CLOSED] = "closed",
	};
	const char *dir = argc > 1 ? argv[1] : ".";
	struct cb_msg m = { .type = CB_MSG_HELLO, .msg_id = 1 };
	int err = 0, t;

	m.hello.node_id = 1;
	strcpy(m.hello.cluster, "prod");
	memcpy(m.hello.mac, "\x02\x00\x00\x00\x00\x01", 6);
	m.hello.n_services = 2;
	strcpy(m.hello.services[0], "web");
	strcpy(m.hello.services[1], "api");
	err |= write_seed(dir, "hello", &m);
	m.hello.n_services = 0;
	err |= write_seed(dir, "hello-no-services", &m);
	for (t = 0; t < CB_MSG_SVC_MAX; t++)
		snprintf(m.hello.services[t], sizeof(m.hello.services[t]), "s%d", t);
	m.hello.n_services = CB_MSG_SVC_MAX;    /* at the limit: one more is E2BIG */
	err |= write_seed(dir, "hello-most-services", &m);

	memset(&m, 0, sizeof(m));
	m.type = CB_MSG_LOAD;
	m.load.seq = 77;
	m.load.n_services = 2;
	m.load.svc[0] = (struct cb_msg_svc_load){ "web", 2, 100, 40, 3, 1 };
	m.load.svc[1] = (struct cb_msg_svc_load){ "api", 1, 10, 10, 9, 0 };
	err |= write_seed(dir, "load", &m);
	for (t = 0; t < CB_MSG_SVC_MAX; t++)
		snprintf(m.load.svc[t].name, sizeof(m.load.svc[t].name), "s%d", t);
	m.load.n_services = CB_MSG_SVC_MAX;
	err |= write_seed(dir, "load-most-services", &m);

	memset(&m, 0, sizeof(m));
	m.type = CB_MSG_SHIP;
	flow(&m.ship.flow, 4);
	m.ship.epoch = 3;
	strcpy(m.ship.service, "web");
	strcpy(m.ship.rule, "api");
	strcpy(m.ship.app, "backend");
	m.ship.deadline_ms = 50;
	m.ship.image = image;
	m.ship.image_len = sizeof(image) - 1;
	err |= write_seed(dir, "ship", &m);
	flow(&m.ship.flow, 6);
	m.ship.rule[0] = '\0';
	err |= write_seed(dir, "ship-v6-default-rule", &m);
	/* a live connection's move: the app's blob, a target node */
	m.type = CB_MSG_MOVE;
	m.ship.blob = image;
	m.ship.blob_len = 16;
	m.ship.target = 3;
	err |= write_seed(dir, "move", &m);
	memset(&m, 0, sizeof(m));
	m.type = CB_MSG_DRAIN;
	m.drain.node_id = 2;
	m.drain.draining = 1;
	err |= write_seed(dir, "drain", &m);
	memset(&m, 0, sizeof(m));
	m.type = CB_MSG_RESUME;
	flow(&m.ref.flow, 4);
	m.ref.epoch = 9;
	m.ref.reason = CB_REFUSE_FULL;
	err |= write_seed(dir, "resume", &m);
	m.type = CB_MSG_MOVED;
	err |= write_seed(dir, "moved", &m);

	for (t = CB_MSG_PREPARED; t <= CB_MSG_CLOSED; t++) {
		memset(&m, 0, sizeof(m));
		m.type = (uint8_t)t;
		flow(&m.ref.flow, t % 2 ? 4 : 6);
		m.ref.epoch = (uint32_t)t;
		m.ref.reason = CB_REFUSE_NO_APP;
		err |= write_seed(dir, refs[t], &m);
	}
	return err;
}
