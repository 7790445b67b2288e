/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Socket image: a struct cb_sock_state as bytes that can cross the wire to
 * another host (docs/socket-image.md).  Fixed width, big-endian, written
 * field by field; family-agnostic; versioned.
 *
 * Version 1.0 (all integers big-endian, offsets in bytes):
 *
 *   off len field       meaning
 *     0   4 magic       "CBSI" (0x43 0x42 0x53 0x49)
 *     4   1 major       1; another major is refused (-EPROTONOSUPPORT)
 *     5   1 minor       0; a later minor only appends fields (hdr_len grows)
 *     6   2 hdr_len     offset of the first queue byte; >= 104
 *     8   4 valid       field groups that are meaningful (CB_IMG_V_*)
 *    12   1 family      4 (IPv4) or 6 (IPv6)
 *    13   1 tcp_state   Linux numbering: 1 ESTABLISHED, 4 FIN_WAIT1,
 *                       5 FIN_WAIT2, 8 CLOSE_WAIT, 9 LAST_ACK, 11 CLOSING
 *    14   1 opts        0x01 SACK, 0x02 timestamps, 0x04 window scaling
 *    15   1 flags       0x01 RTT probe (CB_SOCK_RTT_PROBE), 0x02 quiet
 *                       go-live (CB_SOCK_QUIET)
 *    16   1 snd_wscale  the peer's shift, 0..14
 *    17   1 rcv_wscale  ours, 0..14
 *    18   2 mss         the peer's MSS, 88..65535
 *    20  16 local addr  IPv4: 4 bytes then 12 zero bytes
 *    36  16 peer addr   same
 *    52   2 local port
 *    54   2 peer port
 *    56   4 snd_una     seq of the first byte of the send queue
 *    60   4 rcv_seq     seq of the first byte of the receive queue
 *    64   4 tsval       the TS clock's value when dumped (never an offset)
 *    68   4 snd_wl1     } TCP_REPAIR_WINDOW
 *    72   4 snd_wnd     }
 *    76   4 max_window  }
 *    80   4 rcv_wnd     }
 *    84   4 rcv_wup     }
 *    88   4 rcvq_len    received, unread bytes
 *    92   4 sndq_len    sent, unacknowledged bytes
 *    96   4 unsent_len  written by the app, never sent
 *   100   4 reserved    zero
 *   104     (fields of later minor versions, up to hdr_len)
 * hdr_len     receive queue, then sent-unacked, then unsent bytes; the
 *             image ends exactly after them
 */
#ifndef CB_IMAGE_H
#define CB_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "repair/repair.h"

#define CB_IMAGE_MAGIC     0x43425349u  /* "CBSI" */
#define CB_IMAGE_MAJOR     1
#define CB_IMAGE_MINOR     0
#define CB_IMAGE_HDR_LEN   104          /* version 1.0 */
#define CB_IMAGE_QUEUE_MAX (64u << 20)  /* bytes per queue: beyond any
					 * socket buffer worth moving */
#define CB_IMAGE_MSS_MIN   88           /* Linux's TCP_MIN_MSS */

/* valid: field groups.  Version 1.0 needs ADDR, SEQ, OPTS and WIN, and TS
 * exactly when the timestamps option is on; higher bits name groups of a
 * later minor version and are ignored. */
#define CB_IMG_V_ADDR 0x01              /* family, addresses, ports */
#define CB_IMG_V_SEQ  0x02              /* tcp_state, snd_una, rcv_seq */
#define CB_IMG_V_OPTS 0x04              /* opts, wscales, mss */
#define CB_IMG_V_TS   0x08              /* tsval */
#define CB_IMG_V_WIN  0x10              /* the five window fields */

/* Bytes the image of st takes. */
size_t cb_image_size(const struct cb_sock_state *st);

/*
 * Write the image of st into buf.  Returns its length, -ENOSPC when it does
 * not fit in cap (nothing is written then), or -EINVAL when st has values
 * the image cannot carry (those decode would refuse).
 */
ssize_t cb_image_encode(const struct cb_sock_state *st, uint8_t *buf, size_t cap);

/*
 * Read an image of exactly len bytes into *out.  Zero-copy: out's queue
 * pointers point into buf (never cb_sock_state_free() it).  Errors, checked
 * in this order:
 *   -EBADMSG          not a well-formed image: shorter than 8 bytes, bad
 *                     magic, hdr_len below 104 or past the end, or queue
 *                     lengths that do not add up to exactly the bytes after
 *                     the header (truncated, trailing bytes, overflow)
 *   -EPROTONOSUPPORT  a major version other than 1
 *   -EPROTO           well-formed, but a value is out of range: family,
 *                     tcp_state, an unknown option or flag bit, a wscale
 *                     over 14, an MSS below 88, a non-zero reserved field or
 *                     IPv4 address padding, a required group missing from
 *                     valid, a queue over CB_IMAGE_QUEUE_MAX
 * out is only written on success.
 */
int cb_image_decode(const uint8_t *buf, size_t len, struct cb_sock_state *out);

#endif
