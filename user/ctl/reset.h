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
