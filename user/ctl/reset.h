/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Fail-closed answers: a connection the broker cannot deliver is reset (or,
 * when the service asks for it, answered with HTTP 503), never left hanging.
 */
#ifndef CB_RESET_H
#define CB_RESET_H

#include <stdint.h>
#include <connbroker/shared.h>

/*
 * Why the controller reset (or answered 503 to) a flow it held:
 * X(NAME, "label", "meaning").  Metric connbroker_resets_total{reason} and
 * the decision log (decision_log in [broker]); the cluster's (node_lost and
 * after) are counted through cb_cluster_env.resets.
 */
#define CB_RESET_REASONS(X) \
	X(NO_SERVICE,     "no_service",     "no [service] listens on its address (any more)") \
	X(NO_APP,         "no_app_in_time", "no instance of its app within wait_ms: on_timeout = rst") \
	X(QUEUE_FULL,     "queue_full",     "its service's queue of waiting flows was full") \
	X(TABLE_FULL,     "table_full",     "the controller's table of pending flows was full") \
	X(SOURCE_FULL,    "source_full",    "its client (IPv4 address, IPv6 /64) held its share of the table") \
	X(VANISHED,       "vanished",       "its flow entry vanished (evicted) while it waited") \
	X(BUILD_FAILED,   "build_failed",   "TCP_REPAIR could not build its socket") \
	X(HANDOFF_FAILED, "handoff_failed", "no instance of its app took its built socket within wait_ms") \
	X(SPAWN_FAILED,   "spawn_failed",   "an inetd-style app could not be started for it") \
	X(TUPLE_REUSED,   "tuple_reused",   "a newer connection took its tuple while it was handed off") \
	X(NODE_LOST,      "node_lost",      "the node it was steered to went down past the grace, or no longer has it") \
	X(ADOPT_FAILED,   "adopt_failed",   "shipped or moved here, its socket could not be built or no app took it") \
	X(MOVE_FAILED,    "move_failed",    "its live migration failed and it could not go on where it was") \
	X(ORPHANED,       "orphaned",       "found steered with no steering entry after a restart")

#define CB_RESET_ENUM(name, label, help) CB_RESET_##name,
enum cb_reset_reason { CB_RESET_REASONS(CB_RESET_ENUM) CB_RESET_MAX };
#undef CB_RESET_ENUM

const char *cb_reset_reason_name(enum cb_reset_reason r);

/*
 * A RST|ACK from the service address to the client of k (seq, ack in host
 * order: our snd_nxt and the client's next byte), through a raw socket, for a
 * flow that has no socket to be reset with.  The flow's entry must be gone
 * already, or the TC egress guard drops this RST as it would the kernel's.
 */
int cb_reset_send(const struct cb_flow_key *k, uint32_t seq, uint32_t ack);
/* Close a socket so that the kernel sends the RST (linger 0). */
void cb_reset_socket(int fd);
/* "503 Service Unavailable", then close without resetting (the request is drained). */
void cb_answer_503(int fd);

#endif
