/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The kernel's own sockets on a tuple, through sock_diag (netlink):
 *
 * - A TIME_WAIT socket holding the tuple a repaired socket must take.  A
 *   repair connect() takes over TIME_WAIT only when that old connection had
 *   timestamps (seen on 6.18: EADDRNOTAVAIL otherwise), while a client that
 *   reuses its port at once after the server closed first is normal TCP, and
 *   the kernel's own listener would accept it.  The TIME_WAIT socket is an
 *   older incarnation whose client is gone: destroy it (SOCK_DESTROY, as
 *   `ss -K` does) and connect again.
 * - Whether a socket exists at all: a restarted controller asks it of a flow
 *   its predecessor steered to a socket but may have died before handing
 *   over (that socket then died silently with it).
 */
#ifndef CB_TUPLE_H
#define CB_TUPLE_H

#include "repair/repair.h"

/* Destroy the TIME_WAIT socket local <-> peer: 0, -ENOENT (none), -errno. */
int cb_timewait_destroy(const union cb_sockaddr *local, const union cb_sockaddr *peer);
/*
 * How many connections (not listening, not closed, not TIME_WAIT) have this
 * local address and port: a node's "active" load for a service.  One
 * sock_diag dump filtered in the kernel by port; -errno on failure.
 */
int cb_tuple_count_local(const union cb_sockaddr *local);
/* The TCP state of the connection socket local <-> peer (TCP_ESTABLISHED,
 * TCP_TIME_WAIT...), -ENOENT when there is none (a listener does not count). */
int cb_tuple_state(const union cb_sockaddr *local, const union cb_sockaddr *peer);
/* The same for a flow of the table (IPv4: client -> service). */
int cb_tuple_state_of(const struct cb_flow_key *k);

#endif
