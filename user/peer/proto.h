/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The peer protocol's messages, as frames (docs/peer-protocol.md).  Pure: no
 * allocation, no I/O, no global state, so it can be fuzzed alone
 * (tests/fuzz/fuzz_proto.c).  The channel (link.h) carries the frames inside
 * TLS; nothing here trusts the bytes it reads.
 *
 * Frame: a 16-byte header, big-endian, then body_len bytes of TLVs.
 *
 *   off len field
 *     0   4 magic     "CBPM" (0x43 0x42 0x50 0x4d)
 *     4   1 version   1
 *     5   1 type      enum cb_msg_type
 *     6   2 flags     0
 *     8   4 body_len  bytes after the header; the frame is at most CB_MSG_MAX
 *    12   4 msg_id    the sender's counter, for logs; never interpreted
 *
 * TLV: u16 tag, u16 reserved (0), u32 len, then len bytes of value.  Tags
 * are one number space for every type; a tag a type does not know is
 * skipped, so a later version may add fields.  Integers are big-endian,
 * strings are 0..CB_MSG_NAME_MAX bytes with no NUL (no terminator on the
 * wire).
 */
#ifndef CB_PEER_PROTO_H
#define CB_PEER_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CB_MSG_MAGIC    0x4342504du     /* "CBPM" */
#define CB_MSG_VERSION  1
#define CB_MSG_HDR_LEN  16
#define CB_MSG_TLV_LEN  8               /* a TLV's header */
#define CB_MSG_MAX      (256u << 10)    /* a whole frame, header included */
#define CB_MSG_NAME_MAX 63              /* bytes of a name on the wire */
#define CB_MSG_SVC_MAX  64              /* services per HELLO or LOAD
					 * (= CB_CFG_MAX_SERVICES) */
#define CB_MSG_FLOW_LEN 40              /* the FLOW value */

enum cb_msg_type {
	CB_MSG_HELLO = 1,       /* first message each way on a channel */
	CB_MSG_LOAD,            /* every 100 ms: load, and the heartbeat */
	CB_MSG_SHIP,            /* director -> target: a socket to build */
	CB_MSG_PREPARED,        /* target: built, inert, waiting for COMMIT */
	CB_MSG_REFUSED,         /* target: will not take it (reason) */
	CB_MSG_COMMIT,          /* director: steering flipped, go live */
	CB_MSG_ABORT,           /* director: forget it */
	CB_MSG_DONE,            /* target: live and handed to an app */
	CB_MSG_CLOSED,          /* owner: the connection ended */
	CB_MSG_MOVE,            /* a live connection's owner -> its director: move it
				 * (SHIP's fields; its socket is frozen, inert) */
	CB_MSG_MOVED,           /* director -> the old owner: committed elsewhere;
				 * close your socket silently */
	CB_MSG_RESUME,          /* director -> the old owner: it stays yours; go
				 * live again (reason) */
	CB_MSG_DRAIN,           /* any node -> node NODE_ID: drain (DRAINING 1) or
				 * take connections again (0) */
	CB_MSG_TYPE_MAX = CB_MSG_DRAIN,
};

enum cb_msg_tag {
	CB_TAG_NODE_ID = 1,     /* u32, not 0 */
	CB_TAG_CLUSTER,         /* string, not empty */
	CB_TAG_MAC,             /* 6 bytes */
	CB_TAG_SERVICE,         /* string, not empty */
	CB_TAG_SEQ,             /* u64 */
	CB_TAG_SVC_LOAD,        /* nested TLVs: SERVICE, APPS .. INFLIGHT */
	CB_TAG_APPS,            /* u32 */
	CB_TAG_CAPACITY,        /* u32 */
	CB_TAG_ACTIVE,          /* u32 */
	CB_TAG_WAITING,         /* u32 */
	CB_TAG_INFLIGHT,        /* u32 */
	CB_TAG_FLOW,            /* CB_MSG_FLOW_LEN bytes */
	CB_TAG_EPOCH,           /* u32 */
	CB_TAG_RULE,            /* string, may be empty */
	CB_TAG_APP,             /* string, not empty */
	CB_TAG_DEADLINE,        /* u32, milliseconds from receipt */
	CB_TAG_IMAGE,           /* bytes: a socket image (repair/image.h) */
	CB_TAG_REASON,          /* u32, enum cb_refuse_reason */
	CB_TAG_BLOB,            /* bytes, 0..CB_MSG_BLOB_MAX: the app's state */
	CB_TAG_TARGET,          /* u32: the node a MOVE asks for; 0 or absent: any */
	CB_TAG_DRAINING,        /* u32, 0 or 1: LOAD (optional), DRAIN (required) */
};

#define CB_MSG_BLOB_MAX 4096            /* = CB_APP_BLOB_MAX (connbroker.h) */

/* Why a target refuses a SHIP.  Any value decodes (a newer peer may know
 * more reasons); a receiver treats one it does not know as CB_REFUSE_OTHER. */
enum cb_refuse_reason {
	CB_REFUSE_OTHER = 0,
	CB_REFUSE_NO_APP,       /* no app for that service here */
	CB_REFUSE_FULL,         /* at capacity */
	CB_REFUSE_STALE_EPOCH,  /* an epoch as new was already seen for the tuple */
	CB_REFUSE_BAD_IMAGE,    /* the socket image did not decode */
	CB_REFUSE_BUILD_FAILED, /* the socket could not be built */
	CB_REFUSE_STOPPING,     /* this node is shutting down */
	CB_REFUSE_TUPLE_BUSY,   /* a live socket here holds the tuple */
};

/* Why a CLOSED (REASON, absent when 0). */
enum cb_closed_reason {
	CB_CLOSED_ENDED = 0,    /* the connection ended (its socket is gone) */
	CB_CLOSED_UNKNOWN,      /* a COMMIT for a connection with no socket here */
	CB_CLOSED_FAILED,       /* it could not go live here; its client was reset */
};

/* A client's connection to a service.  On the wire: family u8, 3 zero
 * bytes, client address (16), service address (16), client port, service
 * port; an IPv4 address fills 4 bytes and the other 12 are zero. */
struct cb_msg_flow {
	uint8_t family;                 /* 4 or 6 (never an AF_* value) */
	uint8_t client[16];             /* network order */
	uint8_t service[16];
	uint16_t client_port;           /* host order */
	uint16_t service_port;
};

struct cb_msg_hello {
	uint32_t node_id;               /* required, not 0 */
	char cluster[CB_MSG_NAME_MAX + 1];      /* required */
	uint8_t mac[6];                 /* required: where to steer this node's flows */
	uint32_t n_services;            /* SERVICE tags, 0..CB_MSG_SVC_MAX */
	char services[CB_MSG_SVC_MAX][CB_MSG_NAME_MAX + 1];
};

struct cb_msg_svc_load {
	char name[CB_MSG_NAME_MAX + 1];
	uint32_t apps;                  /* app instances attached */
	uint32_t capacity;              /* flows they take at most */
	uint32_t active;                /* flows they hold */
	uint32_t waiting;               /* flows queued for an app */
	uint32_t inflight;              /* hand-offs to this node not yet DONE */
};

struct cb_msg_load {
	uint64_t seq;                   /* required; grows by one per LOAD sent */
	uint32_t draining;              /* 1: takes no new connections, moves its own off */
	uint32_t n_services;            /* SVC_LOAD tags, 0..CB_MSG_SVC_MAX */
	struct cb_msg_svc_load svc[CB_MSG_SVC_MAX];
};

struct cb_msg_ship {
	struct cb_msg_flow flow;        /* required */
	uint32_t epoch;                 /* required */
	char service[CB_MSG_NAME_MAX + 1];      /* required */
	char rule[CB_MSG_NAME_MAX + 1]; /* "" (or absent): the service's default */
	char app[CB_MSG_NAME_MAX + 1];  /* required */
	uint32_t deadline_ms;           /* required: time left to answer, relative
					 * (two nodes' clocks are not comparable) */
	const uint8_t *image;           /* required; decode: points into the frame */
	uint32_t image_len;
	const uint8_t *blob;            /* optional: the state the last app released it
					 * with, for the next (decode: into the frame) */
	uint32_t blob_len;              /* 0..CB_MSG_BLOB_MAX */
	uint32_t target;                /* MOVE only: node id asked for, 0: any */
};

/* PREPARED, REFUSED, COMMIT, ABORT, DONE, CLOSED, MOVED, RESUME: a flow and
 * its epoch. */
struct cb_msg_ref {
	struct cb_msg_flow flow;        /* required */
	uint32_t epoch;                 /* required */
	uint32_t reason;                /* REFUSED (required), CLOSED and RESUME (optional) */
};

/* DRAIN: which node, and on or off. */
struct cb_msg_drain {
	uint32_t node_id;               /* required, not 0 */
	uint32_t draining;              /* required, 0 or 1 */
};

struct cb_msg {
	uint8_t type;                   /* enum cb_msg_type: selects the member */
	uint32_t msg_id;
	union {
		struct cb_msg_hello hello;
		struct cb_msg_load load;
		struct cb_msg_ship ship;        /* SHIP, MOVE */
		struct cb_msg_ref ref;  /* PREPARED .. CLOSED, MOVED, RESUME */
		struct cb_msg_drain drain;
	};
};

struct cb_msg_hdr {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t body_len;
	uint32_t msg_id;
};

/*
 * Write m as one frame into buf.  Returns the frame's length, or
 *   -EINVAL    m holds what decode would refuse (unknown type, node id 0,
 *              a name too long or empty where required, too many services,
 *              a bad family or address padding, no image)
 *   -EMSGSIZE  the frame would exceed CB_MSG_MAX
 *   -ENOSPC    it does not fit in cap
 * On an error nothing usable is written (a header there is zeroed).
 */
ssize_t cb_msg_encode(const struct cb_msg *m, uint8_t *buf, size_t cap);

/*
 * Read the header at buf, for stream framing: the frame's whole length once
 * the 16 header bytes are there, 0 while fewer are, or -EBADMSG,
 * -EPROTONOSUPPORT, -EMSGSIZE as decode (below) would for that header: no
 * frame can follow.  hdr (may be NULL) is filled when the result is > 0.
 */
ssize_t cb_msg_peek(const uint8_t *buf, size_t len, struct cb_msg_hdr *hdr);

/*
 * Read exactly one frame of len bytes into *out.  Zero-copy: a SHIP's image
 * points into buf.  Errors:
 *   -ENODATA          truncated: fewer than 16 bytes, or fewer than the header
 *                     announces (a stream reader waits for more)
 *   -EBADMSG          bad magic: not this protocol
 *   -EPROTONOSUPPORT  a version other than 1
 *   -EMSGSIZE         bad lengths: body_len over CB_MSG_MAX - 16, bytes after
 *                     the frame, a TLV running past its enclosure, a
 *                     fixed-width value of the wrong length
 *   -ENOMSG           unknown type
 *   -EPROTO           bad value: non-zero flags or TLV reserved field; a
 *                     string too long, with a NUL, or empty where it may not
 *                     be; node id 0; family not 4/6 or non-zero address
 *                     padding; a single-valued tag repeated; a service named
 *                     twice
 *   -E2BIG            more than CB_MSG_SVC_MAX services
 *   -ENOENT           a required field is missing
 * The order: under 16 bytes, then magic, version, body_len, the frame's
 * length against len, type, flags, then the TLVs in order (a nested TLV's
 * required fields when it ends), then the required fields, then the values
 * that need the whole message (node id, empty names, family, duplicates).
 * *out is undefined on error.
 */
int cb_msg_decode(const uint8_t *buf, size_t len, struct cb_msg *out);

/* "HELLO" .. "CLOSED", or "?" */
const char *cb_msg_type_name(unsigned int type);
/* What a decode error means, for messages: "bad magic", "truncated", ... */
const char *cb_msg_strerror(int err);

#endif
