// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for the BPF programs: `make fuzz FUZZ=bpf` (root).
 *
 * The XDP and the TC objects (bpf/cb_xdp.bpf.c, bpf/cb_tc.bpf.c: one packet
 * core, bpf/lib/core.h) are loaded once, with one service VIP:VPORT and a
 * fixed cookie secret, as tests/unit/test_bpf_fx.c does.  Each input is a
 * small script: a header choosing the program and its configuration, then
 * operations (handshakes, data, FIN/RST, controller state changes, floods,
 * raw and IPv6 frames, and mutations of the next frame built).  Every packet
 * runs through bpf_prog_test_run_opts(); the map state lives across the
 * packets of one input and is reset between inputs (flows and steering
 * entries deleted, ring drained, counters zeroed), so a run is reproducible.
 *
 * Script format (missing bytes read as 0):
 *   byte 0   instance, & 3: 0 XDP, 1 TC, 2 XDP with a 16 KiB ring and an
 *            8-entry flow table, 3 the same at TC
 *   byte 1   config: bits 0-1 flow cap {65536, 4000, 200, 0}; bits 2-3
 *            rst_rate {1000, 0, 1, 1000}; bit 4 no checksum verification;
 *            bit 5 own_mac all zero; bits 6-7 our MSS {1460, 536, 9000, 1460}
 *   byte 2   bits 0-1 our wscale {7, 0, 14, 2}; bit 2 new cookies use
 *            secret slot 1; bit 3 the ring is not drained after every packet
 *   then up to MAX_OPS operations: an opcode byte (% OP_MAX), its arguments
 *   (enum op below).  A client byte k: bit 7 the family (IPv6), (k & 127) % 6
 *   the client.  IPv4 clients 0-3 are CLIENT + k/2 : CPORT + k to VIP:VPORT;
 *   4 and 5 are loopback tuples to a second service (127.0.0.1 and a port of
 *   ours) on which this process holds a kernel socket, ESTABLISHED for 4,
 *   TIME_WAIT for 5 (renewed every 30 s: it lives 60 s).  IPv6 clients are
 *   the same with 2001:db8::1 + k/2 to [2001:db8::100]:VPORT and [::1].
 *   IPv6 frames get extension headers from M_EXT6 (and M_IPOPT: a hop-by-hop
 *   header, M_FRAG: a fragment header).
 *
 * Invariants, checked after every packet (abort() with a message on stderr):
 *   I1  the verdict is one of the program's (XDP_DROP/PASS/TX; TC_ACT_OK/
 *       SHOT/REDIRECT at ingress, TC_ACT_OK/SHOT at egress)
 *   I2  PASS: the frame comes out byte-identical
 *   I3  counters: PKT_SEEN moves by one per ingress packet; exactly one
 *       "reason" counter moves, by one (DATA_QUEUED + FIN_UNBOUND count as
 *       one; a consumed handshake ACK counts only ACK_COOKIE_OK), and its
 *       class (pass/drop/tx) is the verdict's; DATA_BYTES = the bytes of the
 *       DATA records the ring got, DATA_QUEUED = their number; OPEN + CLOSE
 *       records + EVENT_LOST = ACK_COOKIE_OK + FIN_UNBOUND + RST_UNBOUND;
 *       egress moves exactly one EGRESS_* counter and nothing else
 *   I4  the parse class agrees with an independent parser (pv_parse, written
 *       from parse.h's specification): not IPv4 or IPv6 (VLAN, ARP...) =
 *       PASS_NOT_IP, fragments (IPv4, or an IPv6 fragment header) =
 *       PASS_FRAGMENT, IPv6 extension headers not walked (AH, ESP, routing
 *       with segments left, more than 4 or 512 bytes) = PASS_IPV6_EXT, ...;
 *       PKT_IPV6 moves iff the frame is IPv6 (its ethertype), whatever follows
 *   I5  every flow in the table has snd_nxt - 1 a valid cookie for its tuple
 *       and client_isn (cookie.h's cb_cookie_check, userspace), and
 *       rcv_nxt = client_isn + 1 + bytes_in,
 *       bytes_in <= rcv_wnd; a flow appears only on a packet that is an ACK
 *       (no SYN/RST) carrying a valid cookie for its own tuple, and such a
 *       packet with no flow creates one; a packet changes no other tuple's
 *       flow or steering entry (LRU eviction on the small table excepted) and
 *       changes no flow's state; at the end of the input every flow is known
 *   I6  ring records are for the packet's tuple, OPEN at its seq/ack; DATA is
 *       contiguous per flow, is the packet's own payload bytes, and never
 *       exceeds the flow cap; bytes_in = the bytes the ring took (the ring is
 *       read from its own mapping, so this holds even while not drained)
 *   I7  what the program acknowledges to a client (ack of its ACK / RST|ACK
 *       replies, relative to client_isn + 1) never exceeds what the ring
 *       took for that flow; ACK replies carry snd_nxt, rcv_nxt, the window
 *       left and the timestamp state of the flow
 *   I8  TX replies are of the segment's family (IPv4: 20-byte header, TTL
 *       64; IPv6: no extension header, hop limit 64, flow label 0) with valid
 *       IP and TCP checksums (the IPv6 pseudo-header), swapped addresses and
 *       MACs; a SYN-ACK carries a valid cookie (options encoded in it) for
 *       the SYN; RSTs to segments of no flow follow RFC 793 (seq = their
 *       ack, or ack = their seq + length); a steered frame keeps L3/L4 and
 *       gets the peer's and our MAC
 *   I9  with checksum verification on, data whose TCP checksum is wrong
 *       (length <= our MSS) is never queued; a right one is never DATA_BAD_CSUM
 *   I10 a segment of an UNBOUND flow is counted as an established socket's
 *       checks say (RST only at rcv_nxt, challenge ACKs, ACK = snd_nxt, PAWS,
 *       gap, duplicate, past the window): a reference model of core.h's rules
 *
 * libFuzzer's coverage (cov/ft) covers only this userspace code.  For the
 * BPF side every (instance, verdict, counter) a packet moved and every pair
 * of consecutive reason counters is fed to libFuzzer as extra counters, and
 * at exit the distinct (verdict, counter) pairs reached are printed
 * (stat::bpf_*), with the counters no input reached.
 * CB_FUZZ_BPF_TRACE=1 prints every packet (op, verdict, counters moved).
 * CB_FUZZ_BPF_WRITE_SEEDS=DIR writes the seed scripts to DIR and exits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <connbroker/shared.h>
#include "lib/cookie.h"
#include "cb_xdp.skel.h"
#include "cb_tc.skel.h"
#include "pkt.h"

/* ---- constants ------------------------------------------------------ */
#define CLIENT 0xc6120001u      /* 198.18.0.1 */
#define VIP 0xc6120064u         /* 198.18.0.100 */
/* IPv6: 2001:db8::1 (+ k/2) -> [2001:db8::100]:VPORT, as tests/net does */
#define NET6_W0 0x20010db8u
#define CLIENT6_LO 0x0001u
#define VIP6_LO 0x0100u
#define CPORT 40000
#define VPORT 80
#define CISN 1000000u

/* XDP's test_run takes multi-buffer frames up to ~70 KB (the payload is read
 * with bpf_xdp_load_bytes, as a GRO'd skb-mode frame's would be): the largest
 * IPv4 packet.  TC's takes 3,712 bytes, and needs the whole IP header. */
#define MAX_FRAME_XDP (14 + 65535)
#define MAX_FRAME_TC 3700
#define MAX_FRAME MAX_FRAME_XDP
#define BUF_LEN (MAX_FRAME + 512)
#define NROLE 6                 /* clients of one family */
#define NCL (2 * NROLE)         /* 0..5 IPv4, 6..11 IPv6 */
#define MAX_OPS 96
#define MAX_PKTS 160
#define MAX_TRK 64
#define MAX_MUT 8
#define MAX_CPUS 256
#define NINST 4

#define XDP_DROP_ 1
#define XDP_PASS_ 2
#define XDP_TX_ 3
#define TC_OK_ 0
#define TC_SHOT_ 2
#define TC_REDIRECT_ 7

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

static const __u32 KEYS[2][2] = { { 0x11111111, 0x22222222 }, { 0x33333333, 0x44444444 } };

/* Script operations; the arguments each reads, in order. */
enum op {
	OP_SYN,         /* k, opts (b0 sack, b1 ts, b2-3 mss {1460,536,none,1300}, b4-7 ws, 15 none), isn, paylen */
	OP_ACK,         /* k, corr: the handshake ACK with the cookie (0 exact; 0x40|b flip ack bit b;
			 * 0x80|b flip seq bit b; 0xc0|n with n bytes of data; else ack += (corr & 63) - 32) */
	OP_DATA,        /* k, len (<200: len*7; else a table), off (int8), fl (b0 FIN, b1 PSH,
			 * b2 no ACK flag, b3 ack+1, b4 old TSval, b5 no TS, b7 off in bytes else *64) */
	OP_FIN,         /* k, off (int8) */
	OP_RST,         /* k, off (int8), fl (b0 off in bytes else *1000, b1 RST|ACK) */
	OP_MUT,         /* kind, a, b (+ raw option bytes for TCPOPT/IPOPT): applies to the next frame */
	OP_RAW,         /* len, template (b0-1: 0 nothing, 1 Ethernet for IPv4, 2 an IPv4 header
			 * to the service, 3 Ethernet for IPv6, with b4 an IPv6 header to the
			 * IPv6 service; b2 the service's port; b3 checksums fixed), len bytes
			 * (IPv6 header and b5: then its next header byte) */
	OP_IPV6,        /* k, ext (b0-1 count, then 2 bits each: HBH, ROUTING, FRAG, DSTOPTS), fl
			 * (b0 routing with segments left, b1 fragment M, b2 not TCP (b3 no next
			 * header, else UDP), b4 an ACK with data, else a SYN): a raw IPv6 frame
			 * of IPv6 client k (& 127) % 6 */
	OP_CTL,         /* k, what, arg: the controller's changes (state, delete, cb_remote, cb_peers) */
	OP_DRAIN,       /* mode: b0 drain now, b1 toggle draining after every packet */
	OP_SECRET,      /* (none): new cookies use the other secret slot */
	OP_REPLAY,      /* (none): the last frame again (with queued byte mutations) */
	OP_FLOOD,       /* n, seed: n % 32 + 1 SYNs from other clients (n b7: IPv6 ones) */
	OP_FORGE,       /* n, seed: n % 16 + 1 ACKs with guessed cookies (n b7: IPv6) */
	OP_EGRESS,      /* k, fl (b0 RST, b1 data, b2 FIN): a segment from the service (TC egress) */
	OP_PUREACK,     /* k, ackd (int8), seqd (int8) */
	OP_MAX
};

enum mut_kind {
	M_FLIP, M_SETB, M_TRUNC, M_EXTEND, M_TCPOPT, M_IPOPT, M_FRAG, M_BADTCSUM, M_BADIPCSUM,
	M_VLAN, M_IPV6, M_ETHERTYPE, M_FIXCSUM, M_TUPLE, M_FLAGS, M_HDRLEN, M_WINDOW, M_IPVER,
	M_PROTO, M_EXT6, M_MAX
};

/*
 * M_EXT6 a, b: an IPv6 extension header after those already queued (IPv6
 * frames only; up to MAX_EXT): a & 7 the type {hop-by-hop, destination
 * options, routing with segments left 0, routing with segments left b | 1,
 * fragment (b: b0 M, b1-7 offset), AH, ESP, b as the next header (UDP, no
 * next header, ICMPv6, TCP...)}; (a >> 3) & 3 extra 8-byte units (with b7
 * of b and a < 0x80: 32 more, so the headers pass 512 bytes); a >> 5 + 1
 * copies of it.  The frame's last next header stays TCP.
 */
#define MAX_EXT 12
#define MAX_EXT_BYTES 1200

static const char *const op_names[OP_MAX] = {
	"SYN", "ACK", "DATA", "FIN", "RST", "MUT", "RAW", "IPV6", "CTL", "DRAIN", "SECRET",
	"REPLAY", "FLOOD", "FORGE", "EGRESS", "PUREACK",
};

/* ---- counters ------------------------------------------------------- */
#define STAT_NAME(name, help) #name,
static const char *const stat_names[CB_STAT_MAX] = { CB_STATS(STAT_NAME) };
#undef STAT_NAME

enum vclass { VC_PASS, VC_DROP, VC_TX, VC_MOD, VC_EGRESS };

static int stat_class(int c)
{
	switch (c) {
	case CB_STAT_PASS_NOT_IP: case CB_STAT_PASS_NOT_TCP: case CB_STAT_PASS_FRAGMENT:
	case CB_STAT_PASS_NOT_SERVICE: case CB_STAT_PASS_LOCAL: case CB_STAT_PASS_NO_CONFIG:
	case CB_STAT_PASS_MALFORMED: case CB_STAT_PASS_KERNEL_SOCK: case CB_STAT_PASS_IPV6_EXT:
		return VC_PASS;
	case CB_STAT_DROP_MALFORMED: case CB_STAT_DROP_BAD_OPTIONS: case CB_STAT_SYN_TX_FAIL:
	case CB_STAT_FLOW_INSERT_FAIL: case CB_STAT_DATA_TOO_BIG: case CB_STAT_DATA_RING_FULL:
	case CB_STAT_DATA_BAD_CSUM: case CB_STAT_DROP_BAD_ACK: case CB_STAT_DROP_BAD_SEQ:
	case CB_STAT_RST_UNBOUND: case CB_STAT_DROP_FROZEN: case CB_STAT_DROP_SHIPPING:
	case CB_STAT_DROP_PENDING: case CB_STAT_DROP_MOVING: case CB_STAT_DROP_REDIRECT_PEER_DOWN:
	case CB_STAT_DROP_REDIRECT_NO_REMOTE: case CB_STAT_DROP_REDIRECT_FAIL:
	case CB_STAT_RST_RATE_LIMITED: case CB_STAT_DROP_RST_NO_FLOW: case CB_STAT_PURE_ACK:
		return VC_DROP;
	case CB_STAT_SYN_COOKIE_SENT: case CB_STAT_DATA_QUEUED: case CB_STAT_DATA_OUT_OF_ORDER:
	case CB_STAT_DATA_DUP: case CB_STAT_DATA_OVER_CAP: case CB_STAT_DATA_PAWS:
	case CB_STAT_CHALLENGE_ACK: case CB_STAT_FIN_UNBOUND: case CB_STAT_REDIRECTED:
	case CB_STAT_REDIRECT_PEER_DOWN_RST: case CB_STAT_RST_NO_FLOW:
		return VC_TX;
	case CB_STAT_EGRESS_RST_BLOCKED: case CB_STAT_EGRESS_PENDING_DROP:
	case CB_STAT_EGRESS_MOVING_DROP: case CB_STAT_EGRESS_PASS:
		return VC_EGRESS;
	default:        /* PKT_SEEN, PKT_IPV6, LOCAL_REUSED, SYN_WITH_DATA, ACK_COOKIE_*, EVENT_LOST,
			 * REPLY_GROWN_AT_TAIL, REDIRECT_BY_REMOTE/REUSED/CLOSING, DATA_BYTES,
			 * DROP_REPLY_FAIL: they come with a reason counter */
		return VC_MOD;
	}
}

/* ---- BPF-side coverage: extra counters for libFuzzer, totals at exit ---- */
#define XC_PAIRS (NINST * 2 * 3 * CB_STAT_MAX)     /* instance, family, verdict, counter */
#define XC_EGRESS (NINST * 2 * CB_STAT_MAX)
#define XC_SEQ ((CB_STAT_MAX + 1) * CB_STAT_MAX)
__attribute__((section("__libfuzzer_extra_counters"), used))
static uint8_t xc[XC_PAIRS + XC_EGRESS + XC_SEQ];
static uint8_t seen_pair[NINST][3][CB_STAT_MAX], seen_eg[NINST][2][CB_STAT_MAX];
static uint8_t seen_fam[2][CB_STAT_MAX];        /* counters IPv4 / IPv6 frames moved */
static uint64_t total_pkts, total_inputs;

/* Not invariants (documented behaviour, see the report at exit): what the
 * program accepted that the kernel's own checks would have dropped. */
enum { OBS_FLOW_BAD_TCSUM, OBS_RST_BAD_TCSUM, OBS_FIN_BAD_TCSUM, OBS_SYN_BAD_TCSUM,
       OBS_BAD_IPCSUM, OBS_SYNACK_LIVE_SOCK, OBS_MAX };
static const char *const obs_names[OBS_MAX] = {
	"flow_created_by_ack_with_bad_tcp_csum", "flow_reset_by_rst_with_bad_tcp_csum",
	"flow_ended_by_fin_with_bad_tcp_csum", "synack_to_syn_with_bad_tcp_csum",
	"answered_or_created_with_bad_ip_csum", "synack_on_tuple_of_live_kernel_socket",
};
static uint64_t obs[OBS_MAX];

/* ---- one loaded object ---------------------------------------------- */
struct inst {
	const char *name;
	int tc;
	struct cb_xdp *xdp;
	struct cb_tc *tcs;
	int prog, egress;
	int cfg_fd, sec_fd, svc_fd, flows_fd, stats_fd, peers_fd, remote_fd, bucket_fd, ring_fd;
	int syn_isn_fd;                 /* cb_syn_isn: the ISN hints */
	uint32_t ring_bytes, max_flows;
	struct ring_buffer *rb;
	/* our own read-only view of the ring: read after every packet, consumed on drain */
	volatile uint64_t *cons_pos, *prod_pos;
	const uint8_t *ring_data;
	size_t prod_len, cons_len;
	uint64_t peek_pos;
};

static struct inst insts[NINST];
static int ncpus, enabled, trace;
static int mapped6;                     /* send v4-mapped IPv6 (unless CB_FUZZ_BPF_NO_V4MAPPED) */
static __u32 stat_keys[CB_STAT_MAX];
static uint64_t stat_vals[CB_STAT_MAX * MAX_CPUS];

/* ---- per-input state ------------------------------------------------ */
struct client {
	int v6;
	union cb_addr saddr, daddr;     /* network order; IPv4 mapped */
	uint16_t sport, dport;
	uint32_t isn, nxt;              /* our ISN; the next sequence number we send */
	uint32_t cookie;                /* the server's ISN from its SYN-ACK */
	int have_cookie;
	uint32_t tsval, srv_tsval;
	uint8_t ts;                     /* timestamps offered in the last SYN */
};

struct trk {                            /* a tuple we know of */
	struct cb_flow_key k;
	int has_f, has_r;
	struct cb_flow f;               /* the table's entry after the last packet */
	struct cb_remote r;
	int inc;                        /* the ring's view of its latest flow */
	uint32_t inc_snd_nxt, inc_start, inc_end;
};

struct mut {
	uint8_t kind, a, b, rawlen;
	uint8_t raw[40];
};

struct peer {
	uint8_t up, mac[6];
};

/* The family and addresses of the next frame built (the spec's saddr/daddr
 * are IPv4 only), and its IPv6 extension headers. */
struct fam {
	int v6;
	union cb_addr sa, da;
};

struct ext6 {
	uint8_t code;                   /* its type, in the previous next header */
	uint16_t off, len;              /* in the chain's bytes */
};

static struct {
	struct inst *I;
	int ii;
	struct cb_config cfg;
	uint32_t slot;
	int autodrain, ctl_bogus;
	uint64_t stats[CB_STAT_MAX];
	struct trk trk[MAX_TRK];
	int ntrk, trk_overflow;
	struct peer peers[CB_MAX_PEERS];
	uint64_t peers_touched;
	struct client cl[NCL];
	uint8_t last[BUF_LEN];
	size_t last_len;
	int last_egress;
	struct mut muts[MAX_MUT];
	int nmut;
	struct fam nf;                  /* the next frame's family (build() resets it) */
	int fam6;                       /* the packet being checked is IPv6 */
	struct ext6 ext[MAX_EXT];
	int next6;
	size_t extlen;
	uint8_t extb[MAX_EXT_BYTES];
	int npkt, prev_primary;
	uint64_t unconsumed;
	const char *op;
} S;

/* ---- small helpers -------------------------------------------------- */
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

struct rd {
	const uint8_t *p;
	size_t n, i;
};

static uint8_t rd8(struct rd *r) { return r->i < r->n ? r->p[r->i++] : 0; }

/* A client byte: bit 7 the family, the rest the client of that family. */
static int rdk(struct rd *r)
{
	uint8_t b = rd8(r);

	return (b & 0x7f) % NROLE + ((b & 0x80) ? NROLE : 0);
}

static union cb_addr a4(uint32_t host)
{
	union cb_addr a;

	cb_addr_set_v4(&a, htonl(host));
	return a;
}

/* 2001:db8::lo (net6), or ::lo */
static union cb_addr a6(int net6, uint32_t lo)
{
	union cb_addr a = { { 0 } };

	if (net6)
		a.w[0] = htonl(NET6_W0);
	a.w[3] = htonl(lo);
	return a;
}

static int addr_eq(const union cb_addr *a, const union cb_addr *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static const char *astr(const union cb_addr *a)
{
	static char buf[4][INET6_ADDRSTRLEN];
	static int i;
	char *p = buf[i++ & 3];

	if (cb_addr_is_v4(a))
		inet_ntop(AF_INET, &a->w[3], p, INET6_ADDRSTRLEN);
	else
		inet_ntop(AF_INET6, a, p, INET6_ADDRSTRLEN);
	return p;
}

static size_t max_frame(void)
{
	return S.I->tc ? MAX_FRAME_TC : MAX_FRAME_XDP;
}

/* ---- kernel sockets on the loopback services (cb_kernel_sock_state) ---- */
#define LO_ADDR 0x7f000001u
/* [0] IPv4 127.0.0.1, [1] IPv6 ::1 */
static uint16_t lo_port[2], lo_est_port[2], lo_tw_port[2];
static int lo_listen[2] = { -1, -1 }, lo_est[2][2] = { { -1, -1 }, { -1, -1 } };
static time_t lo_tw_at;

static socklen_t lo_sa(int f6, struct sockaddr_storage *ss, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (f6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		return sizeof(*a);
	}
	((struct sockaddr_in *)ss)->sin_family = AF_INET;
	((struct sockaddr_in *)ss)->sin_port = htons(port);
	((struct sockaddr_in *)ss)->sin_addr.s_addr = htonl(LO_ADDR);
	return sizeof(struct sockaddr_in);
}

static uint16_t sock_port(int fd, int peer)
{
	struct sockaddr_storage a;
	socklen_t l = sizeof(a);

	if (peer ? getpeername(fd, (struct sockaddr *)&a, &l) : getsockname(fd, (struct sockaddr *)&a, &l))
		return 0;
	return ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port
					     : ((struct sockaddr_in *)&a)->sin_port);
}

/* A connected pair on the loopback: *srv the accepted end (local lo_port). */
static int lo_pair(int f6, int *cli, int *srv)
{
	struct sockaddr_storage a;
	socklen_t l = lo_sa(f6, &a, lo_port[f6]);

	*cli = socket(f6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*cli < 0 || connect(*cli, (struct sockaddr *)&a, l))
		return -1;
	*srv = accept4(lo_listen[f6], NULL, NULL, SOCK_CLOEXEC);
	return *srv < 0 ? -1 : 0;
}

static void ksock_setup(void)
{
	int one = 1, f6;

	for (f6 = 0; f6 < 2; f6++) {
		struct sockaddr_storage a;
		socklen_t l = lo_sa(f6, &a, 0);

		lo_listen[f6] = socket(f6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(lo_listen[f6], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (f6)
			setsockopt(lo_listen[f6], IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (lo_listen[f6] < 0 || bind(lo_listen[f6], (struct sockaddr *)&a, l) ||
		    listen(lo_listen[f6], 8) || !(lo_port[f6] = sock_port(lo_listen[f6], 0)) ||
		    lo_pair(f6, &lo_est[f6][0], &lo_est[f6][1])) {
			fprintf(stderr, "fuzz_bpf: loopback sockets (%s): %s\n", f6 ? "IPv6" : "IPv4",
				strerror(errno));
			exit(1);
		}
		/* the accepted end's peer is the client port: the tuple client -> lo_port */
		lo_est_port[f6] = sock_port(lo_est[f6][1], 1);
	}
}

/* The server end closes first, so its socket (local lo_port) is TIME_WAIT
 * for 60 s; a new one every 30 s keeps one there. */
static void ksock_renew(void)
{
	int cli, srv, f6;
	char c;

	if (lo_tw_at && time(NULL) - lo_tw_at < 30)
		return;
	for (f6 = 0; f6 < 2; f6++) {
		if (lo_pair(f6, &cli, &srv)) {
			fprintf(stderr, "fuzz_bpf: loopback pair: %s\n", strerror(errno));
			exit(1);
		}
		lo_tw_port[f6] = sock_port(srv, 1);
		close(srv);
		if (read(cli, &c, 1) != 0) {            /* its FIN */
			fprintf(stderr, "fuzz_bpf: loopback pair: no FIN\n");
			exit(1);
		}
		close(cli);
	}
	lo_tw_at = time(NULL);
}

static uint32_t tai_counter(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_TAI, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec >> CB_COOKIE_PERIOD_SHIFT);
}

static int cookie_valid(const struct cb_flow_key *k, uint32_t cookie, uint32_t client_isn,
			struct cb_cookie_info *ci)
{
	struct cb_cookie_info tmp;

	return cb_cookie_check(KEYS[cb_cookie_slot(cookie)], cookie, &k->saddr, &k->daddr,
			       k->sport_be, k->dport_be, client_isn, tai_counter(),
			       ci ? ci : &tmp) == 0;
}

/*
 * The client ISN a cookie ACK makes its flow with (core.h's
 * cb_handshake_cookie_ok): seq - 1, or else the ISN the hint its SYN left
 * says, if the hint is at most CB_SYN_HINT_MS old and seq lies within the
 * window the SYN-ACK offered, and the cookie is valid for either; -1 when
 * neither.  (have_hint: the slot of the cookie, read just before the
 * packet, holds that cookie's hint; inputs last milliseconds, far from the
 * age limit.)
 */
static int64_t cookie_isn(const struct cb_flow_key *k, uint32_t cookie, uint32_t seq,
			  int have_hint, struct cb_syn_hint hint, struct cb_cookie_info *ci)
{
	uint32_t win = S.cfg.flow_byte_cap > 0xffff ? 0xffff : S.cfg.flow_byte_cap;
	struct timespec ts;
	uint32_t now_ms;

	if (cookie_valid(k, cookie, seq - 1, ci))
		return seq - 1;
	if (!have_hint || hint.isn == seq - 1 || seq - (hint.isn + 1) > win)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now_ms = (uint32_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
	if (now_ms - hint.at_ms > CB_SYN_HINT_MS)
		return -1;
	/* int64_t on both sides: a uint32_t one would make -1 0xffffffff */
	return cookie_valid(k, cookie, hint.isn, ci) ? (int64_t)hint.isn : -1;
}

static void hexdump(const char *what, const uint8_t *p, size_t n)
{
	size_t i;

	fprintf(stderr, "  %s (%zu bytes):", what, n);
	for (i = 0; i < n && i < 128; i++)
		fprintf(stderr, "%s%02x", i % 32 ? " " : "\n    ", p[i]);
	fprintf(stderr, "%s\n", n > 128 ? " ..." : "");
}

/* Context of the packet being checked, for the message of a violation. */
static struct {
	const uint8_t *in, *out;
	size_t in_len, out_len;
	int verdict;
	const uint64_t *d;
} C;

__attribute__((format(printf, 1, 2), noreturn))
static void fail(const char *fmt, ...)
{
	va_list ap;
	int i;

	fprintf(stderr, "\nfuzz_bpf: INVARIANT VIOLATED on %s, packet #%d (op %s): ",
		S.I ? S.I->name : "?", S.npkt, S.op ? S.op : "-");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  verdict %d\n", C.verdict);
	if (C.d) {
		fprintf(stderr, "  counters moved:");
		for (i = 0; i < CB_STAT_MAX; i++)
			if (C.d[i])
				fprintf(stderr, " %s+%llu", stat_names[i], (unsigned long long)C.d[i]);
		fprintf(stderr, "\n");
	}
	if (C.in)
		hexdump("frame in", C.in, C.in_len);
	if (C.out)
		hexdump("frame out", C.out, C.out_len);
	abort();
}

/* ---- loading -------------------------------------------------------- */
static int quiet_print(enum libbpf_print_level l, const char *fmt, va_list ap)
{
	if (l != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int on_consume(void *ctx, void *data, size_t size)
{
	(void)ctx; (void)data; (void)size;
	S.unconsumed--;
	return 0;
}

static void inst_open(struct inst *I, const char *name, int tc, uint32_t ring_bytes,
		      uint32_t max_flows)
{
	struct bpf_object *obj;
	long pg = sysconf(_SC_PAGESIZE);
	int err;

	I->name = name;
	I->tc = tc;
	if (!tc) {
		I->xdp = cb_xdp__open();
		obj = I->xdp ? I->xdp->obj : NULL;
	} else {
		I->tcs = cb_tc__open();
		obj = I->tcs ? I->tcs->obj : NULL;
	}
	if (!obj) {
		fprintf(stderr, "fuzz_bpf: open %s: %s\n", name, strerror(errno));
		exit(1);
	}
	if (ring_bytes)
		bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "cb_events"), ring_bytes);
	if (max_flows)
		bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "cb_flows"), max_flows);
	/* the controller's 64 MiB stash is not used by the programs */
	bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "cb_stash"), 1);
	err = tc ? cb_tc__load(I->tcs) : cb_xdp__load(I->xdp);
	if (err) {
		fprintf(stderr, "fuzz_bpf: load %s: %s\n", name, strerror(-err));
		exit(1);
	}
	I->prog = bpf_program__fd(bpf_object__find_program_by_name(obj, tc ? "cb_tc_ingress" : "cb_xdp"));
	I->egress = tc ? bpf_program__fd(I->tcs->progs.cb_tc_egress) : -1;
	I->cfg_fd = bpf_object__find_map_fd_by_name(obj, "cb_config");
	I->sec_fd = bpf_object__find_map_fd_by_name(obj, "cb_secrets");
	I->svc_fd = bpf_object__find_map_fd_by_name(obj, "cb_services");
	I->flows_fd = bpf_object__find_map_fd_by_name(obj, "cb_flows");
	I->stats_fd = bpf_object__find_map_fd_by_name(obj, "cb_stats");
	I->peers_fd = bpf_object__find_map_fd_by_name(obj, "cb_peers");
	I->remote_fd = bpf_object__find_map_fd_by_name(obj, "cb_remote");
	I->syn_isn_fd = bpf_object__find_map_fd_by_name(obj, "cb_syn_isn");
	I->bucket_fd = bpf_object__find_map_fd_by_name(obj, "cb_rst_bucket");
	I->ring_fd = bpf_object__find_map_fd_by_name(obj, "cb_events");
	I->ring_bytes = bpf_map__max_entries(bpf_object__find_map_by_name(obj, "cb_events"));
	I->max_flows = bpf_map__max_entries(bpf_object__find_map_by_name(obj, "cb_flows"));
	I->rb = ring_buffer__new(I->ring_fd, on_consume, NULL, NULL);
	if (!I->rb) {
		fprintf(stderr, "fuzz_bpf: ring_buffer__new: %s\n", strerror(errno));
		exit(1);
	}
	/* the layout libbpf maps too: consumer page, then producer page + data twice */
	I->cons_len = (size_t)pg;
	I->cons_pos = mmap(NULL, I->cons_len, PROT_READ, MAP_SHARED, I->ring_fd, 0);
	I->prod_len = (size_t)pg + 2 * (size_t)I->ring_bytes;
	I->prod_pos = mmap(NULL, I->prod_len, PROT_READ, MAP_SHARED, I->ring_fd, pg);
	if (I->cons_pos == MAP_FAILED || I->prod_pos == MAP_FAILED) {
		fprintf(stderr, "fuzz_bpf: mmap ring: %s\n", strerror(errno));
		exit(1);
	}
	I->ring_data = (const uint8_t *)I->prod_pos + pg;
	I->peek_pos = *I->cons_pos;
	{
		struct cb_service_key k[4] = {
			{ .vip = a4(VIP), .port_be = htons(VPORT) },
			{ .vip = a4(LO_ADDR), .port_be = htons(lo_port[0]) },
			{ .vip = a6(1, VIP6_LO), .port_be = htons(VPORT) },
			{ .vip = a6(0, 1), .port_be = htons(lo_port[1]) },
		};
		int i;

		for (i = 0; i < 4; i++) {
			struct cb_service v = { .id = (__u32)i };

			if (bpf_map_update_elem(I->svc_fd, &k[i], &v, BPF_ANY)) {
				fprintf(stderr, "fuzz_bpf: service: %s\n", strerror(errno));
				exit(1);
			}
		}
	}
}

static void inst_close(struct inst *I)
{
	if (I->prod_pos)
		munmap((void *)I->prod_pos, I->prod_len);
	if (I->cons_pos)
		munmap((void *)I->cons_pos, I->cons_len);
	ring_buffer__free(I->rb);
	cb_xdp__destroy(I->xdp);
	cb_tc__destroy(I->tcs);
	memset(I, 0, sizeof(*I));
}

/* ---- counters ------------------------------------------------------- */
static void stats_read(uint64_t *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 count = CB_STAT_MAX, next = 0;
	int i, c, err;

	err = bpf_map_lookup_batch(S.I->stats_fd, NULL, &next, stat_keys, stat_vals, &count, &o);
	if ((err && errno != ENOENT) || count != CB_STAT_MAX) {
		for (i = 0; i < CB_STAT_MAX; i++) {
			stat_keys[i] = (__u32)i;
			if (bpf_map_lookup_elem(S.I->stats_fd, &stat_keys[i],
						stat_vals + (size_t)i * (size_t)ncpus))
				fail("reading counter %d: %s", i, strerror(errno));
		}
	}
	for (i = 0; i < CB_STAT_MAX; i++) {
		uint64_t sum = 0;

		for (c = 0; c < ncpus; c++)
			sum += stat_vals[(size_t)i * (size_t)ncpus + (size_t)c];
		out[stat_keys[i]] = sum;
	}
}

static void stats_zero(void)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 count = CB_STAT_MAX;
	int i;

	memset(stat_vals, 0, sizeof(stat_vals));
	for (i = 0; i < CB_STAT_MAX; i++)
		stat_keys[i] = (__u32)i;
	if (bpf_map_update_batch(S.I->stats_fd, stat_keys, stat_vals, &count, &o) ||
	    count != CB_STAT_MAX)
		for (i = 0; i < CB_STAT_MAX; i++)
			bpf_map_update_elem(S.I->stats_fd, &stat_keys[i], stat_vals, BPF_ANY);
	memset(S.stats, 0, sizeof(S.stats));
}

/* ---- an independent parse of a frame (the spec of bpf/lib/parse.h) ---- */
enum { PV_OK, PV_NOT_IP, PV_NOT_TCP, PV_FRAG, PV_MALFORMED, PV_BADOPT, PV_V6EXT };

struct pv {
	int cls;
	int v6;                                 /* the ethertype is IPv6 (PKT_IPV6) */
	struct cb_flow_key key;
	union cb_addr sa, da;                   /* network order, IPv4 mapped */
	uint32_t seq, ack;                      /* host order */
	uint16_t sport, dport, window;
	uint8_t flags;
	size_t ihl, thl, tot, pay_off, pay_len; /* ihl: IP header + extension headers;
						 * tot: ihl + TCP header + payload */
	int next6;                              /* IPv6 extension headers walked */
	int mss, ws, sack, ts;                  /* mss 0 / ws -1: absent */
	uint32_t tsval, tsecr;
	int tcsum_ok, ipcsum_ok;
	const uint8_t *smac, *dmac;
};

static uint32_t pseudo4(uint32_t sa, uint32_t da, size_t len)
{
	return (sa >> 16) + (sa & 0xffff) + (da >> 16) + (da & 0xffff) + 6 + (uint32_t)len;
}

/* RFC 8200 8.1: both addresses, the upper-layer length (32 bits), next header 6. */
static uint32_t pseudo6(const uint8_t *sa, const uint8_t *da, size_t len)
{
	uint32_t sum = 6 + (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff);
	int i;

	for (i = 0; i < 16; i += 2)
		sum += get16(sa + i) + get16(da + i);
	return sum;
}

/* The sum the TCP checksum covers, whichever family: pseudo-header seed. */
static uint32_t pseudo_of(const union cb_addr *sa, const union cb_addr *da, size_t len)
{
	if (cb_addr_is_v4(sa))
		return pseudo4(ntohl(sa->w[3]), ntohl(da->w[3]), len);
	return pseudo6(sa->b, da->b, len);
}

static int walk_opts(const uint8_t *o, size_t len, struct pv *v)
{
	size_t i = 0;

	v->mss = 0;
	v->ws = -1;
	v->sack = v->ts = 0;
	v->tsval = v->tsecr = 0;
	while (i < len) {
		uint8_t kind = o[i], olen;

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 2 > len)
			return -1;
		olen = o[i + 1];
		if (olen < 2 || i + olen > len)
			return -1;
		if (kind == 2) {
			if (olen != 4)
				return -1;
			v->mss = get16(o + i + 2);
		} else if (kind == 3) {
			if (olen != 3)
				return -1;
			v->ws = o[i + 2] > 14 ? 14 : o[i + 2];
		} else if (kind == 4) {
			if (olen != 2)
				return -1;
			v->sack = 1;
		} else if (kind == 8) {
			if (olen != 10)
				return -1;
			v->ts = 1;
			v->tsval = get32(o + i + 2);
			v->tsecr = get32(o + i + 6);
		}
		i += olen;
	}
	return 0;
}

/* TCP at l4 (ihl bytes after the Ethernet header), tcp_len bytes of segment
 * by the IP header; the addresses are set. */
static int pv_tcp(const uint8_t *b, size_t n, struct pv *v, size_t tcp_len)
{
	const uint8_t *th = b + 14 + v->ihl;

	if (14 + v->ihl + 20 > n || tcp_len < 20)
		return v->cls = PV_MALFORMED;
	v->thl = (size_t)(th[12] >> 4) * 4;
	if (v->thl < 20 || v->thl > tcp_len || 14 + v->ihl + v->thl > n)
		return v->cls = PV_MALFORMED;
	v->tot = v->ihl + tcp_len;
	v->sport = get16(th);
	v->dport = get16(th + 2);
	v->seq = get32(th + 4);
	v->ack = get32(th + 8);
	v->flags = th[13];
	v->window = get16(th + 14);
	v->key.saddr = v->sa;
	v->key.daddr = v->da;
	v->key.sport_be = htons(v->sport);
	v->key.dport_be = htons(v->dport);
	v->pay_off = 14 + v->ihl + v->thl;
	v->pay_len = tcp_len - v->thl;
	v->tcsum_ok = t_csum(th, tcp_len, pseudo_of(&v->sa, &v->da, tcp_len)) == 0;
	if (walk_opts(th + 20, v->thl - 20, v))
		return v->cls = PV_BADOPT;
	return v->cls = PV_OK;
}

/*
 * IPv6 as parse.h specifies it: the 40-byte header (version 6, payload
 * length neither 0 nor past the frame), then at most 4 extension headers a
 * TCP endpoint skips (hop-by-hop as the first only, destination options,
 * routing with segments left 0) in at most 512 bytes; a fragment header is a
 * fragment; AH, ESP, routing with segments left, a fifth header or more
 * bytes are passed on purpose; another next header is not TCP; a header
 * whose first 8 bytes are not in the frame, or headers longer than the
 * payload, are malformed.
 */
static int pv_parse6(const uint8_t *b, size_t n, struct pv *v)
{
	const uint8_t *ip = b + 14;
	size_t plen, off = 40;
	uint8_t nh;
	int i;

	if (n < 14 + 40 || (ip[0] >> 4) != 6)
		return v->cls = PV_MALFORMED;
	plen = get16(ip + 4);
	if (plen == 0 || 14 + 40 + plen > n)
		return v->cls = PV_MALFORMED;
	nh = ip[6];
	for (i = 0; i < 4 && nh != 6; i++) {
		const uint8_t *x = ip + off;

		if (nh == 0 && i != 0)
			return v->cls = PV_MALFORMED;
		if (nh == 44)
			return v->cls = PV_FRAG;
		if (nh == 50 || nh == 51)
			return v->cls = PV_V6EXT;
		if (nh != 0 && nh != 60 && nh != 43)
			return v->cls = PV_NOT_TCP;
		if (14 + off + 8 > n)
			return v->cls = PV_MALFORMED;
		if (nh == 43 && x[3] != 0)
			return v->cls = PV_V6EXT;
		nh = x[0];
		off += ((size_t)x[1] + 1) * 8;
		v->next6++;
		if (off > 40 + 512)
			return v->cls = PV_V6EXT;
	}
	if (nh != 6)
		return v->cls = PV_V6EXT;
	if (off - 40 > plen)
		return v->cls = PV_MALFORMED;
	memcpy(&v->sa, ip + 8, 16);
	memcpy(&v->da, ip + 24, 16);
	/* An IPv4-mapped address never appears on the wire (RFC 4291 2.5.5.2;
	 * Linux drops such a source in ip6_rcv_core), and as a key it would be
	 * an IPv4 flow's; a multicast or unspecified source is no TCP peer:
	 * all passed as malformed (the fuzzer sends mapped ones unless
	 * CB_FUZZ_BPF_NO_V4MAPPED is set). */
	{
		static const uint8_t zero[16];

		if (cb_addr_is_v4(&v->sa) || cb_addr_is_v4(&v->da) || v->sa.b[0] == 0xff ||
		    !memcmp(&v->sa, zero, 16))
			return v->cls = PV_MALFORMED;
	}
	v->ihl = off;
	v->ipcsum_ok = 1;               /* IPv6 has none */
	return pv_tcp(b, n, v, plen - (off - 40));
}

static int pv_parse(const uint8_t *b, size_t n, struct pv *v)
{
	const uint8_t *ip = b + 14;
	size_t tot;

	memset(v, 0, sizeof(*v));
	v->cls = PV_MALFORMED;
	if (n < 14)
		return v->cls;
	v->dmac = b;
	v->smac = b + 6;
	if (get16(b + 12) == 0x86dd) {
		v->v6 = 1;
		return pv_parse6(b, n, v);
	}
	if (get16(b + 12) != 0x0800)
		return v->cls = PV_NOT_IP;
	if (n < 34 || (ip[0] >> 4) != 4 || (ip[0] & 15) < 5)
		return v->cls;
	if (ip[9] != 6)
		return v->cls = PV_NOT_TCP;
	if (get16(ip + 6) & 0x3fff)
		return v->cls = PV_FRAG;
	v->ihl = (size_t)(ip[0] & 15) * 4;
	tot = get16(ip + 2);
	if (tot < v->ihl + 20 || 14 + tot > n)
		return v->cls;
	v->sa = a4(get32(ip + 12));
	v->da = a4(get32(ip + 16));
	v->ipcsum_ok = t_csum(ip, v->ihl, 0) == 0;
	return pv_tcp(b, n, v, tot - v->ihl);
}

static int is_service(const struct pv *v)
{
	union cb_addr vip = a4(VIP), lo = a4(LO_ADDR), vip6 = a6(1, VIP6_LO), lo6 = a6(0, 1);

	return (addr_eq(&v->da, &vip) && v->dport == VPORT) ||
	       (addr_eq(&v->da, &lo) && v->dport == lo_port[0]) ||
	       (addr_eq(&v->da, &vip6) && v->dport == VPORT) ||
	       (addr_eq(&v->da, &lo6) && v->dport == lo_port[1]);
}

/* ---- tracking ------------------------------------------------------- */
static int key_eq(const struct cb_flow_key *a, const struct cb_flow_key *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static struct trk *trk_find(const struct cb_flow_key *k)
{
	int i;

	for (i = 0; i < S.ntrk; i++)
		if (key_eq(&S.trk[i].k, k))
			return &S.trk[i];
	return NULL;
}

static void trk_snap(struct trk *t)
{
	t->has_f = !bpf_map_lookup_elem(S.I->flows_fd, &t->k, &t->f);
	t->has_r = !bpf_map_lookup_elem(S.I->remote_fd, &t->k, &t->r);
}

static struct trk *trk_add(const struct cb_flow_key *k)
{
	struct trk *t = trk_find(k);

	if (t)
		return t;
	if (S.ntrk == MAX_TRK) {
		S.trk_overflow = 1;
		return NULL;
	}
	t = &S.trk[S.ntrk++];
	memset(t, 0, sizeof(*t));
	t->k = *k;
	trk_snap(t);
	return t;
}

static struct cb_flow_key client_key(int k)
{
	struct cb_flow_key key = { S.cl[k].saddr, S.cl[k].daddr, htons(S.cl[k].sport),
				   htons(S.cl[k].dport) };

	return key;
}

/* ---- the ring, read in place ---------------------------------------- */
struct rec {
	struct cb_event ev;
	const uint8_t *data;
};

#define MAX_RECS 64

/* Records published since the last call (single-threaded: none is busy). */
static int ring_peek(struct rec *out, int max)
{
	struct inst *I = S.I;
	uint64_t prod = __atomic_load_n(I->prod_pos, __ATOMIC_ACQUIRE);
	uint64_t mask = I->ring_bytes - 1;
	int n = 0;

	while (I->peek_pos < prod) {
		const uint8_t *h = I->ring_data + (I->peek_pos & mask);
		uint32_t len = __atomic_load_n((const uint32_t *)h, __ATOMIC_ACQUIRE), sz;

		if (len & BPF_RINGBUF_BUSY_BIT)
			fail("ring record busy after the program returned");
		sz = len & ~(uint32_t)(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
			if (n == max)
				fail("more than %d ring records from one packet", max);
			if (sz < sizeof(struct cb_event))
				fail("ring record of %u bytes, less than its header", sz);
			memcpy(&out[n].ev, h + BPF_RINGBUF_HDR_SZ, sizeof(out[n].ev));
			out[n].data = h + BPF_RINGBUF_HDR_SZ + sizeof(struct cb_event);
			if (sz != sizeof(struct cb_event) + out[n].ev.len)
				fail("ring record of %u bytes carries len %u", sz, out[n].ev.len);
			n++;
		}
		S.unconsumed++;
		I->peek_pos += (sz + BPF_RINGBUF_HDR_SZ + 7) & ~7u;
	}
	return n;
}

static void ring_drain(void)
{
	int n = ring_buffer__consume(S.I->rb);

	if (n < 0)
		fail("ring_buffer__consume: %d", n);
	if (S.unconsumed != 0 || *S.I->cons_pos != S.I->peek_pos)
		fail("ring: libbpf consumed to %llu, records read to %llu (%lld left over)",
		     (unsigned long long)*S.I->cons_pos, (unsigned long long)S.I->peek_pos,
		     (long long)S.unconsumed);
}

/* ---- frames --------------------------------------------------------- */
static uint8_t pat(int k, uint32_t rel)
{
	return (uint8_t)(rel * 131u + (uint32_t)k * 17u + (rel >> 8));
}

/*
 * Where a frame's TCP header is, loosely (for mutations and fix_csums, not a
 * model): after the IPv4 header, or after every IPv6 extension header (a
 * fragment's 8 bytes, AH by its own length unit) up to TCP; 0 if not found.
 * *tl: the TCP length the IP header gives, clamped to the frame.
 */
static size_t l4_of(const uint8_t *b, size_t n, size_t *tl)
{
	const uint8_t *ip = b + 14;
	size_t off, end;
	uint8_t nh;
	int i;

	*tl = 0;
	if (n >= 34 && get16(b + 12) == 0x0800) {
		off = (size_t)(ip[0] & 15) * 4;
		if (off < 20 || ip[9] != 6)
			return 0;
		end = get16(ip + 2);
	} else if (n >= 54 && get16(b + 12) == 0x86dd) {
		nh = ip[6];
		off = 40;
		for (i = 0; i < MAX_EXT + 4 && nh != 6; i++) {
			uint8_t cur = nh;

			if (14 + off + 8 > n || nh == 50 || nh == 59)
				return 0;
			nh = ip[off];
			off += cur == 44 ? 8 : cur == 51 ? ((size_t)ip[off + 1] + 2) * 4
							 : ((size_t)ip[off + 1] + 1) * 8;
		}
		if (nh != 6)
			return 0;
		end = 40 + (size_t)get16(ip + 4);
	} else {
		return 0;
	}
	if (end > n - 14)
		end = n - 14;
	if (end < off + 18)
		return 0;
	*tl = end - off;
	return 14 + off;
}

static void fix_csums(uint8_t *b, size_t n)
{
	uint8_t *ip = b + 14, *th;
	size_t ihl, l4, tl;

	if (n >= 34 && get16(b + 12) == 0x0800) {
		ihl = (size_t)(ip[0] & 15) * 4;
		if (ihl < 20 || 14 + ihl > n)
			return;
		put16(ip + 10, 0);
		put16(ip + 10, t_csum(ip, ihl, 0));
	}
	l4 = l4_of(b, n, &tl);
	if (!l4)
		return;
	th = b + l4;
	put16(th + 16, 0);
	if (get16(b + 12) == 0x0800)
		put16(th + 16, t_csum(th, tl, pseudo4(get32(ip + 12), get32(ip + 16), tl)));
	else
		put16(th + 16, t_csum(th, tl, pseudo6(ip + 8, ip + 24, tl)));
}

/* An IPv6 frame carrying tcp (tcplen bytes, its checksum redone for v6),
 * behind up to 3 extension headers (the fuzzer's first IPv6 frames: kept for
 * what they reach).  fl b0: routing with segments left, and the addresses
 * v4-mapped (see mapped6). */

static size_t build_v6(uint8_t *b, const uint8_t *tcp, size_t tcplen, uint8_t ext, uint8_t fl,
		       const union cb_addr *sa, const union cb_addr *da)
{
	static const uint8_t types[4] = { 0, 43, 44, 60 };
	uint8_t *ip = b + 14, *p;
	int next_off = 6, i, n = ext & 3;
	size_t len;
	uint8_t last = (fl & 4) ? ((fl & 8) ? 59 : 17) : 6;

	if (14 + 40 + 8 * 3 + tcplen > max_frame())
		tcplen = max_frame() - 14 - 40 - 24;
	memcpy(b, T_MAC_DIR, 6);
	memcpy(b + 6, T_MAC_CLIENT, 6);
	put16(b + 12, 0x86dd);
	memset(ip, 0, 40);
	ip[0] = 0x60;
	ip[7] = 64;
	if (mapped6 && (fl & 1)) {
		/* the v4-mapped client and VIP */
		ip[18] = ip[19] = 0xff;
		put32(ip + 20, CLIENT);
		ip[34] = ip[35] = 0xff;
		put32(ip + 36, VIP);
	} else {
		memcpy(ip + 8, sa, 16);
		memcpy(ip + 24, da, 16);
	}
	p = ip + 40;
	for (i = 0; i < n; i++) {
		uint8_t t = types[(ext >> (2 + 2 * i)) & 3];

		(next_off == 6 ? ip : p - 8)[next_off] = t;
		memset(p, 0, 8);
		if (t == 44)            /* fragment header: offset 0, M from fl */
			put16(p + 2, (fl & 2) ? 1 : 0);
		if (t == 43)            /* routing: type 4 (SRH), segments left */
			p[2] = 4, p[3] = fl & 1;
		next_off = 0;
		p += 8;
	}
	(next_off == 6 ? ip : p - 8)[next_off] = last;
	memcpy(p, tcp, tcplen);
	len = (size_t)(p - ip) - 40 + tcplen;
	put16(ip + 4, (uint16_t)len);
	if (tcplen >= 18 && last == 6) {
		put16(p + 16, 0);
		put16(p + 16, t_csum(p, tcplen, pseudo6(ip + 8, ip + 24, tcplen)));
	}
	return 14 + 40 + (size_t)(p - ip - 40) + tcplen;
}

/* Queue an IPv6 extension header: code, len bytes (a multiple of 8, >= 8),
 * its length field (byte 1) as given; byte 0 is set when the chain is built. */
static uint8_t *ext_add(uint8_t code, size_t len, uint8_t lenfield)
{
	uint8_t *p;

	if (S.next6 == MAX_EXT || S.extlen + len > MAX_EXT_BYTES)
		return NULL;
	p = S.extb + S.extlen;
	memset(p, 0, len);
	p[1] = lenfield;
	S.ext[S.next6].code = code;
	S.ext[S.next6].off = (uint16_t)S.extlen;
	S.ext[S.next6].len = (uint16_t)len;
	S.next6++;
	S.extlen += len;
	return p;
}

/* M_EXT6 (enum mut_kind) */
static void ext_mut(uint8_t a, uint8_t bb)
{
	static const uint8_t codes[8] = { 0, 60, 43, 43, 44, 51, 50, 0 };
	int copies = (a >> 5) + 1, i, kind = a & 7;
	size_t units = (a >> 3) & 3, lie = 0;
	uint8_t *p;

	if (kind <= 2 && (bb & 0x80))
		units += bb & 0x7f;
	else if (kind <= 1 && (bb & 0x40))
		lie = (bb & 0x3f) + 1u;         /* the length field claims more */
	for (i = 0; i < copies; i++) {
		switch (kind) {
		case 4:                                 /* fragment: always 8 bytes */
			p = ext_add(44, 8, 0);
			if (p)
				put16(p + 2, (uint16_t)(((bb >> 1) << 3) | (bb & 1)));
			break;
		case 5:                                 /* AH: length in 4-byte units - 2 */
			p = ext_add(51, 8 * (units + 2), (uint8_t)(2 * units + 2));
			if (p)
				put32(p + 4, 0x1000u + bb);    /* SPI */
			break;
		case 6:                                 /* ESP: SPI, sequence, ciphertext */
			p = ext_add(50, 8 * (units + 2), 0);
			if (p) {
				put32(p, 0x2000u + bb);
				put32(p + 4, 1);
			}
			break;
		case 7:                                 /* any next header, 8-byte units */
			p = ext_add(bb, 8 * (units + 1), (uint8_t)units);
			break;
		default:
			p = ext_add(codes[kind], 8 * (units + 1), (uint8_t)(units + lie));
			if (p && kind >= 2) {
				p[2] = 4;                       /* routing type 4 (SRH) */
				p[3] = kind == 3 ? (bb | 1) : 0;
			} else if (p) {
				p[2] = 1;                       /* PadN over the rest */
				p[3] = (uint8_t)(8 * units + 4 > 255 ? 255 : 8 * units + 4);
			}
			break;
		}
	}
}

/*
 * The IPv6 frame of s (its addresses from f), with the queued extension
 * headers: eth, IPv6 (hop limit 64), the chain, TCP as t_build makes it.
 */
static size_t build6(uint8_t *b, size_t cap, struct t_tcp_spec *s, const struct fam *f)
{
	size_t thl = 20 + s->optlen, room, len, tl;
	uint8_t *ip = b + 14, *p, *th;
	int i;

	room = cap - 14 - 40 - S.extlen - thl;
	if (room > 65535 - S.extlen - thl)
		room = 65535 - S.extlen - thl;
	if (s->paylen > room)
		s->paylen = room;
	tl = thl + s->paylen;
	len = 14 + 40 + S.extlen + tl;
	memset(b, 0, 14 + 40);
	memcpy(b, T_MAC_DIR, 6);
	memcpy(b + 6, T_MAC_CLIENT, 6);
	put16(b + 12, 0x86dd);
	put32(ip, 0x60000000u | ((uint32_t)(s->window & 0xff) << 20) | 0x12345u);
	put16(ip + 4, (uint16_t)(S.extlen + tl));
	ip[7] = 64;
	memcpy(ip + 8, &f->sa, 16);
	memcpy(ip + 24, &f->da, 16);
	p = ip + 40;
	ip[6] = S.next6 ? S.ext[0].code : 6;
	for (i = 0; i < S.next6; i++) {
		memcpy(p, S.extb + S.ext[i].off, S.ext[i].len);
		p[0] = i + 1 < S.next6 ? S.ext[i + 1].code : 6;
		p += S.ext[i].len;
	}
	th = p;
	memset(th, 0, thl);
	put16(th, s->sport);
	put16(th + 2, s->dport);
	put32(th + 4, s->seq);
	put32(th + 8, s->ack);
	th[12] = (uint8_t)((thl / 4) << 4);
	th[13] = s->flags;
	put16(th + 14, s->window);
	if (s->optlen)
		memcpy(th + 20, s->opts, s->optlen);
	if (s->paylen)
		memcpy(th + thl, s->payload, s->paylen);
	put16(th + 16, t_csum(th, tl, pseudo6(ip + 8, ip + 24, tl)));
	return len;
}

/* Spec-level mutations, then the frame, then byte-level ones. */
static size_t build(uint8_t *b, struct t_tcp_spec *s)
{
	static uint8_t opts[40], ipopts[40];
	int fix = 0, i, v6 = S.nf.v6;
	size_t n, l4, tl;
	uint8_t *p;

	S.next6 = 0;
	S.extlen = 0;
	for (i = 0; i < S.nmut; i++) {
		const struct mut *m = &S.muts[i];

		switch (m->kind) {
		case M_TCPOPT:
			memset(opts, 0, sizeof(opts));
			memcpy(opts, m->raw, m->rawlen);
			s->opts = opts;
			s->optlen = (m->rawlen + 3u) & ~3u;
			break;
		case M_IPOPT:
			if (v6) {               /* the options in a hop-by-hop header */
				size_t len = (m->rawlen + 2 + 7u) & ~7u;

				p = ext_add(0, len, (uint8_t)(len / 8 - 1));
				if (p)
					memcpy(p + 2, m->raw, m->rawlen);
				break;
			}
			memcpy(ipopts, m->raw, m->rawlen);
			s->ipopts = ipopts;
			s->ipoptlen = m->rawlen & ~3u;
			break;
		case M_FRAG:
			if (v6) {
				p = ext_add(44, 8, 0);
				if (p)
					put16(p + 2, (uint16_t)(m->a << 8 | m->b));
				break;
			}
			s->frag_off = (uint16_t)(m->a << 8 | m->b);
			if (!s->frag_off)
				s->frag_off = 0x2000;   /* 0 means DF to t_build */
			break;
		case M_EXT6:
			if (v6)
				ext_mut(m->a, m->b);
			break;
		case M_TUPLE:
			if (v6) {
				switch (m->a & 3) {
				case 0: s->dport = (uint16_t)(s->dport + 1 + m->b); break;
				case 1: S.nf.da.w[3] = htonl(ntohl(S.nf.da.w[3]) + 1 + m->b); break;
				case 2: s->sport = (uint16_t)(s->sport ^ (m->b | 0x100)); break;
				default: S.nf.sa.b[13] ^= (uint8_t)(m->b + 1); break;
				}
				break;
			}
			switch (m->a & 3) {
			case 0: s->dport = (uint16_t)(s->dport + 1 + m->b); break;
			case 1: s->daddr = s->daddr + 1 + m->b; break;
			case 2: s->sport = (uint16_t)(s->sport ^ (m->b | 0x100)); break;
			default: s->saddr ^= (uint32_t)(m->b + 1) << 8; break;
			}
			break;
		case M_FLAGS:
			s->flags ^= m->a;
			break;
		case M_WINDOW:
			s->window = (uint16_t)(m->a << 8 | m->b);
			break;
		}
	}
	if (s->paylen > max_frame() - 14 - 120)
		s->paylen = max_frame() - 14 - 120;
	if (s->paylen > 65535 - 120)
		s->paylen = 65535 - 120;
	n = v6 ? build6(b, max_frame(), s, &S.nf) : t_build(b, max_frame(), s);
	memset(&S.nf, 0, sizeof(S.nf));
	for (i = 0; i < S.nmut; i++) {
		const struct mut *m = &S.muts[i];

		switch (m->kind) {
		case M_FLIP:
			if (n)
				b[m->a % n] ^= (uint8_t)(1u << (m->b & 7));
			break;
		case M_SETB:
			if (n)
				b[m->a % n] = m->b;
			break;
		case M_TRUNC:
			n = m->b & 1 ? (n > m->a ? n - m->a : 14) : (m->a < n ? m->a : n);
			if (n < 14)
				n = 14;
			break;
		case M_EXTEND:
			if (n + m->a <= max_frame()) {
				memset(b + n, m->b, m->a);
				n += m->a;
			}
			break;
		case M_BADTCSUM:
			l4 = l4_of(b, n, &tl);
			if (l4)
				b[l4 + 16 + (m->b & 1)] ^= (uint8_t)(m->a | 1);
			else if (n > 14 && 14 + (size_t)(b[14] & 15) * 4 + 18 <= n)
				b[14 + (size_t)(b[14] & 15) * 4 + 16 + (m->b & 1)] ^= (uint8_t)(m->a | 1);
			break;
		case M_BADIPCSUM:
			if (v6 && n >= 18)      /* none: traffic class and flow label bits */
				b[15 + (m->b & 1)] ^= (uint8_t)(m->a | 1);
			else if (n >= 26)
				b[24 + (m->b & 1)] ^= (uint8_t)(m->a | 1);
			break;
		case M_VLAN:
			if (n >= 14 && n + 8 <= max_frame()) {
				int tags = (m->a & 2) ? 2 : 1, t;

				for (t = 0; t < tags; t++) {
					memmove(b + 16, b + 12, n - 12);
					put16(b + 12, (m->a & 1) && t == tags - 1 ? 0x88a8 : 0x8100);
					put16(b + 14, (uint16_t)(m->b | (t << 8)));
					n += 4;
				}
			}
			break;
		case M_IPV6: {          /* an IPv4 frame's TCP in IPv6 from its client's IPv6 twin */
			static uint8_t tmp[BUF_LEN];
			union cb_addr sa = a6(1, CLIENT6_LO), da = a6(1, VIP6_LO);

			if (v6)
				break;
			l4 = 14 + (n > 14 && (b[14] & 15) >= 5 ? (size_t)(b[14] & 15) * 4 : 20);
			if (l4 > n)
				l4 = n;
			if (n >= 34)
				sa.w[3] = htonl(CLIENT6_LO + (get32(b + 26) & 0xff) - (CLIENT & 0xff));
			memcpy(tmp, b + l4, n - l4);
			n = build_v6(b, tmp, n - l4, m->a, m->b, &sa, &da);
			v6 = 1;
			break;
		}
		case M_ETHERTYPE: {
			static const uint16_t et[8] = { 0x0806, 0x86dd, 0x8100, 0x88a8, 0x0000,
							0xffff, 0x0800, 0x0801 };

			put16(b + 12, (m->a & 8) ? (uint16_t)(m->a << 8 | m->b) : et[m->a & 7]);
			break;
		}
		case M_FIXCSUM:
			fix = 1;
			break;
		case M_HDRLEN:
			if (n < 34)
				break;
			if (v6 && n >= 54) {
				l4 = l4_of(b, n, &tl);
				switch (m->b % 3) {
				case 0:         /* payload length */
					put16(b + 18, (uint16_t)(get16(b + 18) + (int8_t)m->a));
					break;
				case 1:
					if (l4 && l4 + 13 <= n)
						b[l4 + 12] = (uint8_t)((m->a << 4) | (b[l4 + 12] & 15));
					break;
				default:        /* the first extension header's length */
					if (n > 55 && b[20] != 6)
						b[55] = (uint8_t)(b[55] + (int8_t)m->a);
					else
						put16(b + 18, (uint16_t)(m->a << 8 | m->b));
					break;
				}
				break;
			}
			switch (m->b % 3) {
			case 0: b[14] = (uint8_t)((b[14] & 0xf0) | (m->a & 15)); break;
			case 1:
				if (14 + (size_t)(b[14] & 15) * 4 + 13 <= n && (b[14] & 15) >= 5) {
					size_t o = 14 + (size_t)(b[14] & 15) * 4 + 12;

					b[o] = (uint8_t)((m->a << 4) | (b[o] & 15));
				}
				break;
			default: put16(b + 16, (uint16_t)(get16(b + 16) + (int8_t)m->a)); break;
			}
			break;
		case M_IPVER:
			if (n > 14)
				b[14] = (uint8_t)((m->a << 4) | (b[14] & 15));
			break;
		case M_PROTO:
			if (v6 && n > 20)
				b[20] = m->a;   /* the first next header */
			else if (n > 23)
				b[23] = m->a;
			break;
		}
	}
	if (fix)
		fix_csums(b, n);
	S.nmut = 0;
	return n;
}

/* ---- running one packet --------------------------------------------- */
static int vclass_of(int egress, int retval)
{
	if (!S.I->tc) {
		switch (retval) {
		case XDP_DROP_: return VC_DROP;
		case XDP_PASS_: return VC_PASS;
		case XDP_TX_: return VC_TX;
		}
	} else {
		switch (retval) {
		case TC_SHOT_: return VC_DROP;
		case TC_OK_: return VC_PASS;
		case TC_REDIRECT_: return egress ? -1 : VC_TX;
		}
	}
	return -1;
}

static int test_run(int prog, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = BUF_LEN, .repeat = 1);

	if (bpf_prog_test_run_opts(prog, &o))
		fail("bpf_prog_test_run_opts: %s (frame of %zu bytes)", strerror(errno), len);
	*out_len = o.data_size_out;
	return (int)o.retval;
}

static uint32_t window_left(const struct cb_flow *f)
{
	uint32_t w = cb_flow_window_left(f);

	if (f->opts & CB_OPT_WSCALE)
		w >>= f->rcv_wscale;
	return w > 0xffff ? 0xffff : w;
}

static void check_flow_content(const struct cb_flow_key *k, const struct cb_flow *f,
			       const char *when)
{
	if (!cookie_valid(k, cb_flow_isn(f), f->client_isn, NULL)) {
		fail("%s: flow %s:%u -> %s:%u has snd_nxt %#x, not a valid cookie + 1 for "
		     "client_isn %#x", when, astr(&k->saddr), ntohs(k->sport_be),
		     astr(&k->daddr), ntohs(k->dport_be), f->snd_nxt, f->client_isn);
	}
	if (f->rcv_nxt != f->client_isn + 1 + f->bytes_in)
		fail("%s: flow rcv_nxt %#x != client_isn %#x + 1 + bytes_in %u", when, f->rcv_nxt,
		     f->client_isn, f->bytes_in);
	if (f->bytes_in > f->rcv_wnd)
		fail("%s: flow bytes_in %u over its window %u", when, f->bytes_in, f->rcv_wnd);
	if (f->state < CB_FLOW_UNBOUND || f->state >= CB_FLOW_STATE_MAX) {
		if (!S.ctl_bogus)
			fail("%s: flow in state %u", when, f->state);
	}
}

/* A segment the program sent, parsed here (either family). */
struct rview {
	int v6;
	uint8_t smac[6], dmac[6];
	union cb_addr sa, da;
	uint16_t sport, dport, window;
	uint32_t seq, ack;
	uint8_t flags;
	size_t optlen, paylen;
	int mss, wscale, sack_ok, ts;           /* -1: absent */
	uint32_t tsval, tsecr;
};

/* Parse and check a reply's headers; NULL if well formed, else what is not. */
static const char *rv_parse(const uint8_t *f, size_t len, struct rview *v)
{
	const uint8_t *ip = f + 14, *th, *o;
	size_t l3, tl, i;

	memset(v, 0, sizeof(*v));
	v->mss = v->wscale = -1;
	if (len < 14 + 20)
		return "shorter than Ethernet + IPv4";
	memcpy(v->dmac, f, 6);
	memcpy(v->smac, f + 6, 6);
	if (get16(f + 12) == 0x86dd) {
		v->v6 = 1;
		l3 = 40;
		if (len < 14 + 40 + 20)
			return "IPv6 reply shorter than its headers";
		if (get32(ip) != 0x60000000u)
			return "IPv6 version, traffic class or flow label not 6, 0, 0";
		if (ip[6] != 6 || ip[7] != 64)
			return "IPv6 next header not TCP or hop limit not 64";
		if (14 + 40 + (size_t)get16(ip + 4) != len)
			return "IPv6 payload length is not the frame's";
		memcpy(&v->sa, ip + 8, 16);
		memcpy(&v->da, ip + 24, 16);
		if (cb_addr_is_v4(&v->sa) || cb_addr_is_v4(&v->da))
			return "IPv6 reply with a v4-mapped address";
	} else if (get16(f + 12) == 0x0800) {
		l3 = 20;
		if (len < 14 + 40)
			return "IPv4 reply shorter than its headers";
		if (ip[0] != 0x45 || ip[8] != 64 || ip[9] != 6 || get16(ip + 6) != 0x4000)
			return "IPv4 header not 20 bytes, TTL 64, TCP, DF";
		if (14 + (size_t)get16(ip + 2) != len)
			return "IPv4 total length is not the frame's";
		if (t_csum(ip, 20, 0))
			return "bad IPv4 header checksum";
		v->sa = a4(get32(ip + 12));
		v->da = a4(get32(ip + 16));
	} else {
		return "neither IPv4 nor IPv6";
	}
	th = ip + l3;
	tl = len - 14 - l3;
	if ((size_t)(th[12] >> 4) * 4 < 20 || (size_t)(th[12] >> 4) * 4 > tl)
		return "TCP data offset out of the segment";
	if (t_csum(th, tl, pseudo_of(&v->sa, &v->da, tl)))
		return "bad TCP checksum";
	v->sport = get16(th);
	v->dport = get16(th + 2);
	v->seq = get32(th + 4);
	v->ack = get32(th + 8);
	v->flags = th[13];
	v->window = get16(th + 14);
	v->optlen = (size_t)(th[12] >> 4) * 4 - 20;
	v->paylen = tl - 20 - v->optlen;
	o = th + 20;
	for (i = 0; i < v->optlen;) {
		uint8_t k = o[i];

		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		if (i + 2 > v->optlen || o[i + 1] < 2 || i + o[i + 1] > v->optlen)
			return "malformed TCP options";
		if (k == 2 && o[i + 1] == 4)
			v->mss = get16(o + i + 2);
		else if (k == 3 && o[i + 1] == 3)
			v->wscale = o[i + 2];
		else if (k == 4 && o[i + 1] == 2)
			v->sack_ok = 1;
		else if (k == 8 && o[i + 1] == 10) {
			v->ts = 1;
			v->tsval = get32(o + i + 2);
			v->tsecr = get32(o + i + 6);
		} else
			return "an unexpected TCP option";
		i += o[i + 1];
	}
	return NULL;
}

/* Reply checks common to every segment the program built (I8). */
static void check_reply_shape(const struct pv *in, const uint8_t *out, size_t out_len,
			      struct rview *v)
{
	const char *why;

	if (in->cls != PV_OK)
		fail("TX of a frame the parser does not accept");
	why = rv_parse(out, out_len, v);
	if (why)
		fail("TX reply malformed: %s", why);
	if (v->v6 != in->v6 || cb_addr_is_v4(&in->sa) == v->v6)
		fail("TX reply is IPv%d for an IPv%d segment from %s", v->v6 ? 6 : 4,
		     in->v6 ? 6 : 4, astr(&in->sa));
	if (memcmp(v->dmac, in->smac, 6) || memcmp(v->smac, in->dmac, 6))
		fail("TX reply MACs are not the segment's, swapped");
	if (!addr_eq(&v->sa, &in->da) || !addr_eq(&v->da, &in->sa) || v->sport != in->dport ||
	    v->dport != in->sport)
		fail("TX reply addresses are not the segment's, swapped");
	if (v->paylen != 0)
		fail("TX reply with %zu bytes of payload", v->paylen);
}

static const uint16_t mss_table[4] = { 536, 1300, 1440, 1460 };

/* The MSS offered: cb_config.mss is IPv4's (MTU - 40); over IPv6 20 bytes
 * less (MTU - 60), not below IPv4's minimum 536. */
static unsigned our_mss(const struct pv *v)
{
	return v->v6 && S.cfg.mss > 556 ? S.cfg.mss - 20u : S.cfg.mss;
}

static void check_synack(const struct pv *in, const struct rview *v)
{
	struct cb_cookie_info ci;
	int idx = 0;

	if (!cookie_valid(&in->key, v->seq, in->seq, &ci))
		fail("SYN-ACK seq %#x is not a valid cookie for the SYN (seq %#x)", v->seq, in->seq);
	if (cb_cookie_slot(v->seq) != S.slot)
		fail("SYN-ACK cookie made with slot %u, current is %u", cb_cookie_slot(v->seq), S.slot);
	if (v->ack != in->seq + 1)
		fail("SYN-ACK acks %#x, SYN seq %#x", v->ack, in->seq);
	if (v->mss != our_mss(in))
		fail("SYN-ACK MSS %d, configured %u (IPv%d: %u)", v->mss, S.cfg.mss,
		     in->v6 ? 6 : 4, our_mss(in));
	if ((in->ws >= 0) != (v->wscale >= 0) || (in->ws >= 0 && v->wscale != S.cfg.wscale))
		fail("SYN-ACK window scale %d for a SYN with %d", v->wscale, in->ws);
	if (v->sack_ok != in->sack || v->ts != in->ts || (in->ts && v->tsecr != in->tsval))
		fail("SYN-ACK options sack %d ts %d tsecr %u for sack %d ts %d tsval %u",
		     v->sack_ok, v->ts, v->tsecr, in->sack, in->ts, in->tsval);
	if (v->window != (S.cfg.flow_byte_cap > 0xffff ? 0xffff : S.cfg.flow_byte_cap))
		fail("SYN-ACK window %u, cap %u", v->window, S.cfg.flow_byte_cap);
	if (in->mss >= 1300) idx = 1;
	if (in->mss >= 1440) idx = 2;
	if (in->mss >= 1460) idx = 3;
	if (ci.mss != mss_table[idx] || ci.sack != in->sack ||
	    ci.wscale != (in->ws >= 0 ? in->ws : CB_WSCALE_NONE))
		fail("cookie carries mss %u sack %u ws %u for a SYN with mss %d sack %d ws %d",
		     ci.mss, ci.sack, ci.wscale, in->mss, in->sack, in->ws);
}

/* I7: what an ACK or RST|ACK to the flow's client claims, against the ring. */
static void check_claim(struct trk *t, const struct rview *v, const char *what)
{
	if (!t || !t->inc || t->inc_snd_nxt != v->seq)
		fail("%s (seq %#x, ack %#x) for a flow created in no packet of this input", what,
		     v->seq, v->ack);
	if (v->ack - t->inc_start > t->inc_end - t->inc_start)
		fail("%s acknowledges %u bytes, the ring took %u for the flow", what,
		     v->ack - t->inc_start, t->inc_end - t->inc_start);
}

/*
 * I10: what a segment of an UNBOUND flow must be counted, from the rules the
 * program states (core.h, cb_on_unbound: an established socket's checks).
 * -1: the segment is to be queued (then DATA_QUEUED, or DATA_BAD_CSUM,
 * DATA_RING_FULL, ... decide).
 */
static int expect_unbound(const struct cb_flow *f, const struct pv *v)
{
	int32_t off = (int32_t)(f->rcv_nxt - v->seq);

	if (v->flags & F_RST) {
		if (off == 0)
			return CB_STAT_RST_UNBOUND;
		if (off < 0 && (uint32_t)-off < f->rcv_wnd)
			return CB_STAT_CHALLENGE_ACK;
		return CB_STAT_DROP_BAD_SEQ;
	}
	if (v->flags & F_SYN)
		return CB_STAT_CHALLENGE_ACK;
	if (!(v->flags & F_ACK) || v->ack != f->snd_nxt)
		return CB_STAT_DROP_BAD_ACK;
	if ((f->opts & CB_OPT_TS) && v->ts && (int32_t)(v->tsval - f->ts_recent) < 0)
		return CB_STAT_DATA_PAWS;
	if (v->pay_len == 0) {
		if (off != 0)
			return CB_STAT_DATA_OUT_OF_ORDER;
		return (v->flags & F_FIN) ? CB_STAT_FIN_UNBOUND : CB_STAT_PURE_ACK;
	}
	if (off < 0)
		return CB_STAT_DATA_OUT_OF_ORDER;
	if ((uint32_t)off >= v->pay_len)
		return (v->flags & F_FIN) && (uint32_t)off == v->pay_len ? CB_STAT_FIN_UNBOUND
									: CB_STAT_DATA_DUP;
	if (f->bytes_in + (uint32_t)(v->pay_len - (uint32_t)off) > f->rcv_wnd)
		return CB_STAT_DATA_OVER_CAP;
	return -1;
}

static void check_unbound_reason(const struct cb_flow *f, const struct pv *v, int primary,
				 const uint64_t *d)
{
	int want = expect_unbound(f, v);

	if (want >= 0) {
		if (primary != want)
			fail("a segment of an unbound flow (rcv_nxt %#x, seq %#x, len %zu, flags %#x) "
			     "counted %s, not %s", f->rcv_nxt, v->seq, v->pay_len, v->flags,
			     stat_names[primary], stat_names[want]);
		return;
	}
	switch (primary) {
	case CB_STAT_DATA_QUEUED: case CB_STAT_DATA_BAD_CSUM: case CB_STAT_DATA_RING_FULL:
	case CB_STAT_DATA_TOO_BIG: case CB_STAT_DROP_MALFORMED:
		break;
	case CB_STAT_FIN_UNBOUND:
		if ((v->flags & F_FIN) && d[CB_STAT_DATA_QUEUED])
			break;
		/* fall through */
	default:
		fail("in-window data of an unbound flow counted %s", stat_names[primary]);
	}
}

static void feature(int egress, int vc, const uint64_t *d)
{
	int c, primary = CB_STAT_MAX;

	for (c = 0; c < CB_STAT_MAX; c++) {
		if (!d[c])
			continue;
		if (egress) {
			seen_eg[S.ii][vc == VC_DROP][c] = 1;
			xc[XC_PAIRS + (S.ii * 2 + (vc == VC_DROP)) * CB_STAT_MAX + c]++;
			continue;
		}
		seen_pair[S.ii][vc][c] = 1;
		seen_fam[S.fam6][c] = 1;
		xc[((S.ii * 2 + S.fam6) * 3 + vc) * CB_STAT_MAX + c]++;
		if (stat_class(c) != VC_MOD)
			primary = c;
	}
	if (!egress && primary != CB_STAT_MAX) {
		xc[XC_PAIRS + XC_EGRESS + S.prev_primary * CB_STAT_MAX + primary]++;
		S.prev_primary = primary;
	}
}

static void trace_pkt(int egress, int retval, size_t len, const uint64_t *d)
{
	int c;

	if (!trace)
		return;
	fprintf(stderr, "  #%d %-7s %s%4zu bytes -> %d:", S.npkt, S.op, egress ? "egress " : "",
		len, retval);
	for (c = 1; c < CB_STAT_MAX; c++)
		if (d[c])
			fprintf(stderr, " %s+%llu", stat_names[c], (unsigned long long)d[c]);
	fprintf(stderr, "\n");
}

static void remember(const uint8_t *b, size_t n, int egress)
{
	if (b != S.last)
		memcpy(S.last, b, n);
	S.last_len = n;
	S.last_egress = egress;
}

/* A segment from the service to a client through TC egress. */
static void run_egress(const uint8_t *in, size_t len)
{
	static uint8_t out[BUF_LEN];
	uint64_t now[CB_STAT_MAX], d[CB_STAT_MAX];
	struct cb_flow_key k;
	struct cb_flow f;
	size_t out_len;
	int retval, vc, c, moved = 0, has_f = 0, expect_drop = 0, hit = -1;

	if (!S.I->tc || len < 14 || len > max_frame() || S.npkt >= MAX_PKTS)
		return;
	if ((get16(in + 12) == 0x0800 && len < 34) || (get16(in + 12) == 0x86dd && len < 54))
		return;
	S.npkt++;
	total_pkts++;
	remember(in, len, 1);
	memset(&C, 0, sizeof(C));
	C.in = in;
	C.in_len = len;
	/* the guard's own reading: no version or length checks, only the offset;
	 * IPv6 only with TCP right after the header (no extension header walk) */
	if ((len >= 34 && get16(in + 12) == 0x0800 && in[23] == 6 && !(get16(in + 20) & 0x1fff) &&
	     (in[14] & 15) >= 5 && 14 + (size_t)(in[14] & 15) * 4 + 20 <= len) ||
	    (len >= 54 + 20 && get16(in + 12) == 0x86dd && in[20] == 6)) {
		int e6 = get16(in + 12) == 0x86dd;
		const uint8_t *th = in + (e6 ? 54 : 14 + (size_t)(in[14] & 15) * 4);

		if (e6) {
			memcpy(&k.saddr, in + 38, 16);
			memcpy(&k.daddr, in + 22, 16);
		} else {
			k.saddr = a4(get32(in + 30));
			k.daddr = a4(get32(in + 26));
		}
		memcpy(&k.sport_be, th + 2, 2);
		memcpy(&k.dport_be, th, 2);
		has_f = !bpf_map_lookup_elem(S.I->flows_fd, &k, &f);
		if (has_f) {
			expect_drop = f.state == CB_FLOW_PENDING || f.state == CB_FLOW_MOVING ||
				      ((th[13] & F_RST) && (f.state == CB_FLOW_UNBOUND ||
							    f.state == CB_FLOW_FROZEN ||
							    f.state == CB_FLOW_SHIPPING));
			hit = f.state == CB_FLOW_PENDING ? CB_STAT_EGRESS_PENDING_DROP
			      : f.state == CB_FLOW_MOVING ? CB_STAT_EGRESS_MOVING_DROP
			      : CB_STAT_EGRESS_RST_BLOCKED;
		}
	}
	retval = test_run(S.I->egress, in, len, out, &out_len);
	C.verdict = retval;
	C.out = out;
	C.out_len = out_len;
	stats_read(now);
	for (c = 0; c < CB_STAT_MAX; c++)
		d[c] = now[c] - S.stats[c];
	memcpy(S.stats, now, sizeof(now));
	C.d = d;
	trace_pkt(1, retval, len, d);
	vc = vclass_of(1, retval);
	if (vc < 0)
		fail("egress verdict %d is not TC_ACT_OK or TC_ACT_SHOT", retval);
	if (vc == VC_PASS && (out_len != len || memcmp(out, in, len)))
		fail("egress passed a frame it changed");
	for (c = 0; c < CB_STAT_MAX; c++) {
		if (!d[c])
			continue;
		if (stat_class(c) != VC_EGRESS || d[c] != 1)
			fail("egress moved %s by %llu", stat_names[c], (unsigned long long)d[c]);
		moved++;
	}
	if (moved != 1)
		fail("egress moved %d counters, not one", moved);
	if ((vc == VC_DROP) != expect_drop)
		fail("egress verdict %d for a segment it should %s", retval,
		     expect_drop ? "drop" : "pass");
	if (vc == VC_DROP && !d[hit])
		fail("egress dropped without counting %s", stat_names[hit]);
	if (vc == VC_PASS && !d[CB_STAT_EGRESS_PASS])
		fail("egress passed without counting EGRESS_PASS");
	feature(1, vc, d);
	for (c = 0; c < S.ntrk; c++) {
		struct trk t = S.trk[c];

		trk_snap(&t);
		if (t.has_f != S.trk[c].has_f || t.has_r != S.trk[c].has_r ||
		    (t.has_f && memcmp(&t.f, &S.trk[c].f, sizeof(t.f))) ||
		    (t.has_r && memcmp(&t.r, &S.trk[c].r, sizeof(t.r))))
			fail("egress changed the flow or steering entry of %s:%u (flow %d -> %d, "
			     "steering %d -> %d)", astr(&t.k.saddr), ntohs(t.k.sport_be),
			     S.trk[c].has_f, t.has_f, S.trk[c].has_r, t.has_r);
	}
	{
		static struct rec none[1];

		if (ring_peek(none, 1))
			fail("egress wrote to the ring");
	}
}

static void run_ingress(const uint8_t *in, size_t len)
{
	static uint8_t out[BUF_LEN];
	static struct rec recs[MAX_RECS];
	uint64_t now[CB_STAT_MAX], d[CB_STAT_MAX], data_bytes = 0;
	struct cb_flow pre_f, post_f;
	struct cb_remote pre_r, post_r;
	int has_pre = 0, has_post = 0, has_pre_r = 0, has_post_r = 0, has_hint = 0;
	struct cb_syn_hint hint = { 0 };
	int64_t want_isn = -1;          /* the ISN a cookie ACK creates its flow with */
	int retval, vc, c, nrec, nprim = 0, primary = -1, opens = 0, closes = 0, datas = 0;
	int created = 0, i;
	struct trk *t = NULL;
	struct pv v;
	size_t out_len;

	if (len < 14 || len > max_frame() || S.npkt >= MAX_PKTS)
		return;
	/* TC's test_run refuses frames whose IP header is not all there */
	if (S.I->tc && ((get16(in + 12) == 0x0800 && len < 34) ||
			(get16(in + 12) == 0x86dd && len < 54)))
		return;
	S.npkt++;
	total_pkts++;
	remember(in, len, 0);
	memset(&C, 0, sizeof(C));
	C.in = in;
	C.in_len = len;
	pv_parse(in, len, &v);
	S.fam6 = v.v6;
	if (v.cls == PV_OK) {
		has_pre = !bpf_map_lookup_elem(S.I->flows_fd, &v.key, &pre_f);
		has_pre_r = !bpf_map_lookup_elem(S.I->remote_fd, &v.key, &pre_r);
		{
			/* the slot of the cookie this segment acknowledges */
			uint32_t slot = CB_SYN_HINT_SLOT(v.ack - 1);

			has_hint = !bpf_map_lookup_elem(S.I->syn_isn_fd, &slot, &hint) &&
				   hint.cookie == v.ack - 1;
		}
		t = trk_find(&v.key);
	}

	retval = test_run(S.I->prog, in, len, out, &out_len);
	C.verdict = retval;
	C.out = out;
	C.out_len = out_len;
	stats_read(now);
	for (c = 0; c < CB_STAT_MAX; c++)
		d[c] = now[c] - S.stats[c];
	memcpy(S.stats, now, sizeof(now));
	C.d = d;
	trace_pkt(0, retval, len, d);

	/* I1, I2 */
	vc = vclass_of(0, retval);
	if (vc < 0)
		fail("verdict %d is not one of the program's", retval);
	if (vc == VC_PASS && (out_len != len || memcmp(out, in, len)))
		fail("PASS with a frame that is not byte-identical (%zu bytes in, %zu out)", len,
		     out_len);

	/* I3: counters */
	if (d[CB_STAT_PKT_SEEN] != 1)
		fail("PKT_SEEN moved by %llu", (unsigned long long)d[CB_STAT_PKT_SEEN]);
	if (!!d[CB_STAT_PKT_IPV6] != v.v6)
		fail("PKT_IPV6 moved by %llu for a frame of ethertype %#06x",
		     (unsigned long long)d[CB_STAT_PKT_IPV6], get16(in + 12));
	for (c = 0; c < CB_STAT_MAX; c++) {
		int cl = stat_class(c);

		if (!d[c] || c == CB_STAT_DATA_BYTES)
			continue;
		/* a cookie ACK with a FIN on a full ring loses its OPEN and its CLOSE */
		if (d[c] != 1 && !(c == CB_STAT_EVENT_LOST && d[c] == 2 &&
				   d[CB_STAT_ACK_COOKIE_OK] && d[CB_STAT_FIN_UNBOUND]))
			fail("%s moved by %llu on one packet", stat_names[c], (unsigned long long)d[c]);
		if (cl == VC_EGRESS)
			fail("ingress moved %s", stat_names[c]);
		/* DATA_QUEUED with FIN_UNBOUND (data + FIN), or with DATA_RING_FULL /
		 * DROP_MALFORMED (a prefix of a multi-record segment queued) */
		if (cl != VC_MOD && !(c == CB_STAT_DATA_QUEUED &&
				      (d[CB_STAT_FIN_UNBOUND] || d[CB_STAT_DATA_RING_FULL] ||
				       d[CB_STAT_DROP_MALFORMED]))) {
			nprim++;
			primary = c;
		}
	}
	if (nprim == 0) {
		if (d[CB_STAT_ACK_COOKIE_OK])
			primary = CB_STAT_ACK_COOKIE_OK;        /* the handshake ACK, consumed */
		else if (d[CB_STAT_DROP_REPLY_FAIL])
			primary = CB_STAT_DROP_REPLY_FAIL;
		else
			fail("no reason counter moved");
		if (vc != VC_DROP)
			fail("%s alone with verdict %d", stat_names[primary], retval);
	} else if (nprim > 1) {
		fail("%d reason counters moved", nprim);
	} else {
		int want = stat_class(primary);

		if (want == VC_TX && d[CB_STAT_DROP_REPLY_FAIL])
			want = VC_DROP;
		if (d[CB_STAT_DATA_QUEUED] && (primary == CB_STAT_DATA_RING_FULL ||
					       primary == CB_STAT_DROP_MALFORMED))
			want = d[CB_STAT_DROP_REPLY_FAIL] ? VC_DROP : VC_TX;   /* the prefix is acked */
		if (want != vc)
			fail("%s counted with verdict %d", stat_names[primary], retval);
	}

	/* I4: the parse class */
	{
		static const int cls_stat[] = {
			[PV_NOT_IP] = CB_STAT_PASS_NOT_IP, [PV_NOT_TCP] = CB_STAT_PASS_NOT_TCP,
			[PV_FRAG] = CB_STAT_PASS_FRAGMENT, [PV_MALFORMED] = CB_STAT_PASS_MALFORMED,
			[PV_BADOPT] = CB_STAT_DROP_BAD_OPTIONS, [PV_V6EXT] = CB_STAT_PASS_IPV6_EXT,
		};
		int want = v.cls == PV_OK ? -1 : cls_stat[v.cls];

		if (v.cls == PV_BADOPT && !is_service(&v))
			want = CB_STAT_PASS_NOT_SERVICE;
		if (want >= 0 && primary != want)
			fail("the frame parses as class %d (%s expected), counted %s", v.cls,
			     stat_names[want], stat_names[primary]);
		if (want < 0 && (d[CB_STAT_PASS_NOT_IP] || d[CB_STAT_PASS_NOT_TCP] ||
				 d[CB_STAT_PASS_FRAGMENT] || d[CB_STAT_PASS_MALFORMED] ||
				 d[CB_STAT_DROP_BAD_OPTIONS] || d[CB_STAT_PASS_IPV6_EXT]))
			fail("a well-formed IPv%d/TCP frame (%d extension headers) counted %s",
			     v.v6 ? 6 : 4, v.next6, stat_names[primary]);
	}

	/* I6: ring records, read in place.  A flow this packet created starts
	 * a new incarnation of its tuple, whether or not its OPEN record made it
	 * into the ring (EVENT_LOST when full). */
	if (v.cls == PV_OK && d[CB_STAT_ACK_COOKIE_OK]) {
		if (!t)
			t = trk_add(&v.key);
		want_isn = cookie_isn(&v.key, v.ack - 1, v.seq, has_hint, hint, NULL);
		if (t) {
			t->inc = 1;
			t->inc_snd_nxt = v.ack;
			t->inc_start = t->inc_end = (uint32_t)want_isn + 1;
		}
	}
	nrec = ring_peek(recs, MAX_RECS);
	if (nrec && v.cls != PV_OK)
		fail("ring records from a frame that does not parse");
	for (i = 0; i < nrec; i++) {
		const struct cb_event *ev = &recs[i].ev;

		if (!key_eq(&ev->key, &v.key))
			fail("ring record (type %u) for another tuple than the packet's", ev->type);
		if (!t)
			t = trk_add(&v.key);
		if (!t)
			continue;
		switch (ev->type) {
		case CB_EV_OPEN:
			opens++;
			want_isn = cookie_isn(&v.key, v.ack - 1, v.seq, has_hint, hint, NULL);
			if (ev->len || want_isn < 0 || ev->seq != (uint32_t)want_isn + 1 ||
			    ev->snd_nxt != v.ack)
				fail("OPEN record len %u seq %#x snd_nxt %#x for seq %#x ack %#x",
				     ev->len, ev->seq, ev->snd_nxt, v.seq, v.ack);
			if (!d[CB_STAT_ACK_COOKIE_OK] || i != 0)
				fail("OPEN record without ACK_COOKIE_OK, or after other records");
			break;
		case CB_EV_DATA:
			datas++;
			data_bytes += ev->len;
			if (!t->inc || t->inc_snd_nxt != ev->snd_nxt)
				fail("DATA record (snd_nxt %#x) for no flow created in this input",
				     ev->snd_nxt);
			if (ev->len == 0 || ev->len > CB_SEG_MAX)
				fail("DATA record of %u bytes", ev->len);
			if (ev->seq != t->inc_end)
				fail("DATA record at seq %#x, the flow's stream ends at %#x", ev->seq,
				     t->inc_end);
			if (ev->seq - v.seq > v.pay_len || ev->len > v.pay_len - (ev->seq - v.seq))
				fail("DATA record [%#x, +%u) outside the segment's payload [%#x, +%zu)",
				     ev->seq, ev->len, v.seq, v.pay_len);
			if (memcmp(recs[i].data, in + v.pay_off + (ev->seq - v.seq), ev->len))
				fail("DATA record bytes differ from the segment's payload");
			t->inc_end += ev->len;
			if (t->inc_end - t->inc_start > S.cfg.flow_byte_cap)
				fail("the ring took %u bytes of a flow, cap %u",
				     t->inc_end - t->inc_start, S.cfg.flow_byte_cap);
			break;
		case CB_EV_CLOSE:
			closes++;
			if (ev->len || ev->flags > 1 || ev->seq != v.seq)
				fail("CLOSE record len %u flags %u seq %#x for seq %#x", ev->len,
				     ev->flags, ev->seq, v.seq);
			break;
		default:
			fail("ring record of type %u", ev->type);
		}
	}
	if (data_bytes != d[CB_STAT_DATA_BYTES] || (datas > 0) != (d[CB_STAT_DATA_QUEUED] > 0) ||
	    datas > CB_REC_MAX)
		fail("ring got %d DATA records, %llu bytes; counted %llu, %llu bytes", datas,
		     (unsigned long long)data_bytes, (unsigned long long)d[CB_STAT_DATA_QUEUED],
		     (unsigned long long)d[CB_STAT_DATA_BYTES]);
	if ((uint64_t)(opens + closes) + d[CB_STAT_EVENT_LOST] !=
	    d[CB_STAT_ACK_COOKIE_OK] + d[CB_STAT_FIN_UNBOUND] + d[CB_STAT_RST_UNBOUND])
		fail("%d OPEN + %d CLOSE records + EVENT_LOST for ACK_COOKIE_OK + FIN + RST", opens,
		     closes);

	/* I5: the packet's own tuple */
	if (v.cls == PV_OK) {
		has_post = !bpf_map_lookup_elem(S.I->flows_fd, &v.key, &post_f);
		has_post_r = !bpf_map_lookup_elem(S.I->remote_fd, &v.key, &post_r);
		/* made anew: created_ms is in ms, so a flow replacing one made
		 * in the same ms on the same cookie differs only by its state */
		created = has_post && (!has_pre || pre_f.created_ms != post_f.created_ms ||
				       pre_f.state != post_f.state ||
				       pre_f.client_isn != post_f.client_isn ||
				       pre_f.snd_nxt != post_f.snd_nxt);
		if (created) {
			struct cb_cookie_info ci;

			if ((v.flags & (F_SYN | F_ACK | F_RST)) != F_ACK)
				fail("flow created by a segment with flags %#x", v.flags);
			if (!is_service(&v))
				fail("flow created for a tuple that is not a service");
			want_isn = cookie_isn(&v.key, v.ack - 1, v.seq, has_hint, hint, &ci);
			if (want_isn < 0)
				fail("flow created by an ACK whose cookie %#x is not valid", v.ack - 1);
			if (!d[CB_STAT_ACK_COOKIE_OK])
				fail("flow created without ACK_COOKIE_OK");
			if (!!d[CB_STAT_ACK_COOKIE_LATE] != (want_isn != v.seq - 1))
				fail("ACK_COOKIE_LATE %llu for a flow made with ISN %#x, seq %#x",
				     (unsigned long long)d[CB_STAT_ACK_COOKIE_LATE],
				     (uint32_t)want_isn, v.seq);
			if (post_f.client_isn != (uint32_t)want_isn || post_f.snd_nxt != v.ack ||
			    post_f.state != CB_FLOW_UNBOUND || post_f.rcv_wnd != S.cfg.flow_byte_cap ||
			    post_f.mss != (ci.mss < our_mss(&v) ? ci.mss : our_mss(&v)) ||
			    !!(post_f.opts & CB_OPT_TS) != v.ts ||
			    !!(post_f.opts & CB_OPT_SACK) != ci.sack ||
			    !!(post_f.opts & CB_OPT_WSCALE) != (ci.wscale != CB_WSCALE_NONE))
				fail("created flow: isn %#x/%#x state %u wnd %u mss %u opts %#x",
				     post_f.client_isn, cb_flow_isn(&post_f), post_f.state,
				     post_f.rcv_wnd, post_f.mss, post_f.opts);
			{
				/* the hint is spent: a segment outliving the flow meets an RST */
				uint32_t slot = CB_SYN_HINT_SLOT(v.ack - 1);
				struct cb_syn_hint h;

				if (!bpf_map_lookup_elem(S.I->syn_isn_fd, &slot, &h) &&
				    h.cookie == v.ack - 1)
					fail("flow created and its SYN hint (cookie %#x) not spent",
					     v.ack - 1);
			}
			if (has_pre && !(pre_f.state == CB_FLOW_REDIRECT && d[CB_STAT_REDIRECT_REUSED]))
				fail("flow in state %u replaced by a new one", pre_f.state);
		}
		/* I10 */
		if (has_pre && !created && pre_f.state == CB_FLOW_UNBOUND)
			check_unbound_reason(&pre_f, &v, primary, d);
		if (d[CB_STAT_ACK_COOKIE_OK] && primary != CB_STAT_ACK_COOKIE_OK &&
		    primary != CB_STAT_FLOW_INSERT_FAIL) {
			/* the new flow went on to the unbound checks: as it was made */
			struct cb_flow nf = { 0 };
			struct cb_cookie_info ci = { 0 };

			want_isn = cookie_isn(&v.key, v.ack - 1, v.seq, has_hint, hint, &ci);
			nf.rcv_nxt = (uint32_t)want_isn + 1;
			nf.snd_nxt = v.ack;
			nf.rcv_wnd = S.cfg.flow_byte_cap;
			nf.opts = v.ts ? CB_OPT_TS : 0;
			nf.ts_recent = v.tsval;
			check_unbound_reason(&nf, &v, primary, d);
		}
		if (d[CB_STAT_ACK_COOKIE_OK] && !created &&
		    !(!has_post && d[CB_STAT_FIN_UNBOUND]) && !d[CB_STAT_FLOW_INSERT_FAIL])
			fail("ACK_COOKIE_OK but no new flow");
		if (has_pre && !has_post && !d[CB_STAT_FIN_UNBOUND] && !d[CB_STAT_RST_UNBOUND] &&
		    !d[CB_STAT_LOCAL_REUSED] && !d[CB_STAT_REDIRECT_REUSED])
			fail("flow in state %u removed without FIN, RST or reuse", pre_f.state);
		if (has_pre && has_post && !created) {
			if (pre_f.state != post_f.state)
				fail("the program moved a flow from state %u to %u", pre_f.state,
				     post_f.state);
			if (pre_f.snd_nxt != post_f.snd_nxt || pre_f.rcv_wnd != post_f.rcv_wnd ||
			    pre_f.mss != post_f.mss || pre_f.opts != post_f.opts ||
			    pre_f.ts_offset != post_f.ts_offset || pre_f.service_id != post_f.service_id ||
			    pre_f.snd_wscale != post_f.snd_wscale || pre_f.rcv_wscale != post_f.rcv_wscale)
				fail("a flow's fixed fields changed");
			if (post_f.rcv_nxt - pre_f.rcv_nxt != data_bytes ||
			    post_f.bytes_in - pre_f.bytes_in != data_bytes)
				fail("rcv_nxt moved by %u, bytes_in by %u, the ring took %llu",
				     post_f.rcv_nxt - pre_f.rcv_nxt, post_f.bytes_in - pre_f.bytes_in,
				     (unsigned long long)data_bytes);
		}
		if (has_post) {
			check_flow_content(&v.key, &post_f, "after the packet");
			if (!t)
				t = trk_add(&v.key);
			if (t && t->inc && t->inc_snd_nxt == post_f.snd_nxt &&
			    (t->inc_start != post_f.client_isn + 1 ||
			     t->inc_end - t->inc_start != post_f.bytes_in))
				fail("flow bytes_in %u (from %#x); the ring took %u (from %#x)",
				     post_f.bytes_in, post_f.client_isn + 1, t->inc_end - t->inc_start,
				     t->inc_start);
		}
		/* a valid cookie ACK of no flow makes one (the kernel owns no socket here) */
		if (!has_pre && (!has_pre_r || pre_r.closing_ns) && is_service(&v) &&
		    (v.flags & (F_SYN | F_ACK | F_RST)) == F_ACK &&
		    cookie_isn(&v.key, v.ack - 1, v.seq, has_hint, hint, NULL) >= 0 &&
		    !d[CB_STAT_ACK_COOKIE_OK] && !d[CB_STAT_PASS_KERNEL_SOCK])
			fail("a valid cookie ACK of no flow made none (counted %s)", stat_names[primary]);
		/* a SYN of no flow gets a cookie */
		if (!has_pre && is_service(&v) &&
		    (v.flags & (F_SYN | F_ACK | F_RST | F_FIN)) == F_SYN && !d[CB_STAT_SYN_COOKIE_SENT])
			fail("a SYN to the service got no SYN-ACK (counted %s)", stat_names[primary]);
		/* I9 */
		if (has_pre && pre_f.state == CB_FLOW_UNBOUND && !v.tcsum_ok && v.pay_len &&
		    (S.cfg.flags & CB_CFG_VERIFY_CSUM) && v.pay_len <= S.cfg.mss && datas)
			fail("data with a bad TCP checksum was queued");
		if (d[CB_STAT_DATA_BAD_CSUM] && v.tcsum_ok)
			fail("data with a valid TCP checksum counted DATA_BAD_CSUM");
		if (has_pre_r && has_post_r &&
		    (pre_r.peer != post_r.peer || pre_r.epoch != post_r.epoch ||
		     pre_r.created_ns != post_r.created_ns))
			fail("a steering entry's peer, epoch or creation changed");
		if (has_pre_r && !has_post_r && !d[CB_STAT_REDIRECT_REUSED])
			fail("a steering entry vanished without REDIRECT_REUSED");
		if (!has_pre_r && has_post_r)
			fail("the program created a steering entry");
		if (!t && (has_post || has_post_r))
			t = trk_add(&v.key);
	}

	/* I7, I8: what was sent */
	if (vc == VC_TX) {
		struct rview rv;

		if (d[CB_STAT_REDIRECTED]) {
			const struct cb_remote *r = has_pre_r ? &pre_r : NULL;
			static const uint8_t zero[6];
			const uint8_t *src = memcmp(S.cfg.own_mac, zero, 6) ? S.cfg.own_mac : in;

			if (!r || r->peer >= CB_MAX_PEERS || !S.peers[r->peer].up)
				fail("steered to a peer that is not up");
			if (out_len != len || memcmp(out + 12, in + 12, len - 12))
				fail("a steered frame's L3/L4 changed");
			if (memcmp(out, S.peers[r->peer].mac, 6) || memcmp(out + 6, src, 6))
				fail("a steered frame's MACs are not the peer's and ours");
		} else {
			check_reply_shape(&v, out, out_len, &rv);
			if (rv.flags == (F_SYN | F_ACK)) {
				if (!d[CB_STAT_SYN_COOKIE_SENT])
					fail("SYN-ACK without SYN_COOKIE_SENT");
				check_synack(&v, &rv);
			} else if (d[CB_STAT_RST_NO_FLOW] || d[CB_STAT_REDIRECT_PEER_DOWN_RST]) {
				int exp_ack = (v.flags & F_SYN ? 1 : 0) + (v.flags & F_FIN ? 1 : 0);

				if (v.flags & F_ACK) {
					if (rv.flags != F_RST || rv.seq != v.ack || rv.ack != 0)
						fail("RST to an ACK: flags %#x seq %#x", rv.flags, rv.seq);
				} else if (rv.flags != (F_RST | F_ACK) || rv.seq != 0 ||
					   rv.ack != v.seq + (uint32_t)v.pay_len + (uint32_t)exp_ack) {
					fail("RST|ACK to a segment without ACK: flags %#x ack %#x",
					     rv.flags, rv.ack);
				}
				if (rv.window || rv.optlen)
					fail("RST with a window or options");
			} else if (d[CB_STAT_FIN_UNBOUND]) {
				if (rv.flags != (F_RST | F_ACK) || rv.window || rv.optlen)
					fail("FIN answered with flags %#x", rv.flags);
				if (has_post)
					fail("FIN_UNBOUND but the flow is still there");
				check_claim(t, &rv, "RST|ACK to a FIN");
				if (t && t->inc && rv.ack != t->inc_end)
					fail("RST|ACK to a FIN acks %#x, the stream ends at %#x", rv.ack,
					     t->inc_end);
			} else {
				if (rv.flags != F_ACK)
					fail("reply with flags %#x", rv.flags);
				if (!has_post || post_f.state != CB_FLOW_UNBOUND)
					fail("ACK reply without an unbound flow");
				if (rv.seq != post_f.snd_nxt || rv.ack != post_f.rcv_nxt)
					fail("ACK reply seq %#x ack %#x, flow snd_nxt %#x rcv_nxt %#x",
					     rv.seq, rv.ack, post_f.snd_nxt, post_f.rcv_nxt);
				if (rv.window != window_left(&post_f))
					fail("ACK reply window %u, the flow has %u left", rv.window,
					     window_left(&post_f));
				if (rv.ts != !!(post_f.opts & CB_OPT_TS) ||
				    (rv.ts && rv.tsecr != post_f.ts_recent))
					fail("ACK reply timestamp %d tsecr %u, flow ts_recent %u", rv.ts,
					     rv.tsecr, post_f.ts_recent);
				check_claim(t, &rv, "ACK");
			}
		}
	}

	/* I5: nothing else changed */
	for (i = 0; i < S.ntrk; i++) {
		struct trk *o = &S.trk[i], now_t;

		if (v.cls == PV_OK && key_eq(&o->k, &v.key)) {
			trk_snap(o);
			continue;
		}
		now_t = *o;
		trk_snap(&now_t);
		if (o->has_r != now_t.has_r || (o->has_r && memcmp(&o->r, &now_t.r, sizeof(o->r))))
			fail("a packet changed another tuple's steering entry");
		if (o->has_f && !now_t.has_f && S.I->max_flows < 64 &&
		    (d[CB_STAT_ACK_COOKIE_OK] || d[CB_STAT_FLOW_INSERT_FAIL])) {
			o->has_f = 0;   /* evicted by the insert (LRU) */
			continue;
		}
		if (o->has_f != now_t.has_f || (o->has_f && memcmp(&o->f, &now_t.f, sizeof(o->f))))
			fail("a packet changed another tuple's flow (%s:%u)", astr(&o->k.saddr),
			     ntohs(o->k.sport_be));
	}

	if (v.cls == PV_OK) {
		struct cb_flow_key lk = client_key(4), lk6 = client_key(NROLE + 4);

		if (!v.tcsum_ok) {
			obs[OBS_FLOW_BAD_TCSUM] += created;
			obs[OBS_RST_BAD_TCSUM] += d[CB_STAT_RST_UNBOUND];
			obs[OBS_FIN_BAD_TCSUM] += d[CB_STAT_FIN_UNBOUND] && !datas;
			obs[OBS_SYN_BAD_TCSUM] += d[CB_STAT_SYN_COOKIE_SENT];
		}
		if (!v.ipcsum_ok && (created || (vc == VC_TX && !d[CB_STAT_REDIRECTED])))
			obs[OBS_BAD_IPCSUM]++;
		if (d[CB_STAT_SYN_COOKIE_SENT] && (key_eq(&v.key, &lk) || key_eq(&v.key, &lk6)))
			obs[OBS_SYNACK_LIVE_SOCK]++;
	}
	feature(0, vc, d);
	if (S.autodrain)
		ring_drain();

	/* the client learns from what came back */
	if (vc == VC_TX && !d[CB_STAT_REDIRECTED] && v.cls == PV_OK) {
		struct rview rv;
		int k;

		rv_parse(out, out_len, &rv);
		for (k = 0; k < NCL; k++) {
			struct client *cl = &S.cl[k];

			if (!addr_eq(&rv.da, &cl->saddr) || rv.dport != cl->sport)
				continue;
			if (rv.flags == (F_SYN | F_ACK) && rv.ack == cl->isn + 1) {
				cl->cookie = rv.seq;
				cl->have_cookie = 1;
				cl->srv_tsval = rv.tsval;
				cl->nxt = cl->isn + 1;
			} else if (rv.flags == F_ACK && cl->have_cookie && rv.seq == cl->cookie + 1) {
				cl->nxt = rv.ack;
				if (rv.ts)
					cl->srv_tsval = rv.tsval;
			}
		}
	}
}

/* ---- building what a client sends ----------------------------------- */
static void client_spec(struct t_tcp_spec *s, int k, uint8_t *opts)
{
	struct client *cl = &S.cl[k];

	memset(s, 0, sizeof(*s));
	s->saddr = ntohl(cl->saddr.w[3]);
	s->daddr = ntohl(cl->daddr.w[3]);
	S.nf.v6 = cl->v6;
	S.nf.sa = cl->saddr;
	S.nf.da = cl->daddr;
	s->sport = cl->sport;
	s->dport = cl->dport;
	s->window = 502;
	if (cl->ts) {
		cl->tsval += 7;
		opts[0] = 1; opts[1] = 1; opts[2] = 8; opts[3] = 10;
		put32(opts + 4, cl->tsval);
		put32(opts + 8, cl->srv_tsval);
		s->opts = opts;
		s->optlen = 12;
	}
}

static uint32_t client_cookie(int k)
{
	return S.cl[k].have_cookie ? S.cl[k].cookie : 0x12345678u;
}

static void send_spec(struct t_tcp_spec *s)
{
	static uint8_t b[BUF_LEN];
	size_t n = build(b, s);

	run_ingress(b, n);
}

static void op_syn(struct rd *r)
{
	static const uint16_t mss[4] = { 1460, 536, 0, 1300 };
	int k = rdk(r);
	uint8_t o = rd8(r), isnb = rd8(r), pl = rd8(r), opts[40], pay[32];
	struct client *cl = &S.cl[k];
	struct t_tcp_spec s;
	int ws = o >> 4;
	size_t i;

	cl->isn = isnb == 0xff ? 0xfffff000u + (uint32_t)k * 16 : CISN + ((uint32_t)isnb << 20) +
								   (uint32_t)k;
	cl->ts = (o >> 1) & 1;
	client_spec(&s, k, opts);
	s.seq = cl->isn;
	s.flags = F_SYN;
	s.window = 64240;
	s.opts = opts;
	s.optlen = 0;
	if (mss[(o >> 2) & 3]) {
		opts[0] = 2; opts[1] = 4; put16(opts + 2, mss[(o >> 2) & 3]);
		s.optlen = 4;
	}
	if (o & 1) {
		opts[s.optlen] = 1; opts[s.optlen + 1] = 1; opts[s.optlen + 2] = 4; opts[s.optlen + 3] = 2;
		s.optlen += 4;
	}
	if (cl->ts) {
		opts[s.optlen] = 1; opts[s.optlen + 1] = 1; opts[s.optlen + 2] = 8; opts[s.optlen + 3] = 10;
		put32(opts + s.optlen + 4, cl->tsval);
		put32(opts + s.optlen + 8, 0);
		s.optlen += 12;
	}
	if (ws != 15) {
		opts[s.optlen] = 1; opts[s.optlen + 1] = 3; opts[s.optlen + 2] = 3;
		opts[s.optlen + 3] = (uint8_t)ws;
		s.optlen += 4;
	}
	if (pl) {
		for (i = 0; i < (size_t)(pl & 31); i++)
			pay[i] = pat(k, (uint32_t)i);
		s.payload = pay;
		s.paylen = pl & 31;
	}
	send_spec(&s);
}

static void op_ack(struct rd *r)
{
	int k = rdk(r);
	uint8_t corr = rd8(r), opts[12], pay[64];
	struct client *cl = &S.cl[k];
	struct t_tcp_spec s;
	size_t i;

	client_spec(&s, k, opts);
	s.seq = cl->isn + 1;
	s.ack = client_cookie(k) + 1;
	s.flags = F_ACK;
	if (corr) {
		switch (corr >> 6) {
		case 1: s.ack ^= 1u << (corr & 31); break;
		case 2: s.seq ^= 1u << (corr & 31); break;
		case 3:
			for (i = 0; i < (size_t)(corr & 63); i++)
				pay[i] = pat(k, (uint32_t)i);
			s.payload = pay;
			s.paylen = corr & 63;
			s.flags |= F_PSH;
			break;
		default: s.ack += (uint32_t)(corr & 63) - 32; break;
		}
	}
	send_spec(&s);
}

static void op_data(struct rd *r)
{
	static const uint16_t big[16] = { 1460, 1461, 536, 537, 2000, 3000, 1, 9000, 9216, 9217,
					  18433, 40000, 65000, 65495, 16184, 4000 };
	/* 16184 = 9216 + 6968: after an OPEN record, two records fill a 16 KiB ring
	 * to its last 8 bytes (a record: 8 bytes of header, 56 of event, the bytes,
	 * rounded to 8; the producer may not get a whole ring ahead) */
	static uint8_t pay[MAX_FRAME];
	int k = rdk(r);
	uint8_t lb = rd8(r), fl;
	int8_t off = (int8_t)rd8(r);
	struct client *cl = &S.cl[k];
	struct t_tcp_spec s;
	uint8_t opts[12];
	size_t n, i;

	fl = rd8(r);
	n = lb < 200 ? (size_t)lb * 7 : big[(lb - 200) & 15];
	if (fl & 0x20) {
		uint8_t ts = cl->ts;

		cl->ts = 0;
		client_spec(&s, k, opts);
		cl->ts = ts;
	} else {
		client_spec(&s, k, opts);
		if ((fl & 0x10) && s.optlen)
			put32(opts + 4, cl->tsval - 100000);
	}
	s.seq = cl->nxt + (uint32_t)(int32_t)off * ((fl & 0x80) ? 1u : 64u);
	s.ack = client_cookie(k) + 1 + ((fl & 8) ? 1 : 0);
	s.flags = (uint8_t)(((fl & 4) ? 0 : F_ACK) | ((fl & 2) ? F_PSH : 0) | ((fl & 1) ? F_FIN : 0));
	for (i = 0; i < n; i++)
		pay[i] = pat(k, s.seq - cl->isn - 1 + (uint32_t)i);
	s.payload = pay;
	s.paylen = n;
	send_spec(&s);
}

static void op_fin_rst(struct rd *r, int rst)
{
	int k = rdk(r);
	int8_t off = (int8_t)rd8(r);
	uint8_t fl = rst ? rd8(r) : 0, opts[12];
	struct client *cl = &S.cl[k];
	struct t_tcp_spec s;

	client_spec(&s, k, opts);
	s.ack = client_cookie(k) + 1;
	if (rst) {
		s.seq = cl->nxt + (uint32_t)(int32_t)off * ((fl & 1) ? 1u : 1000u);
		s.flags = (uint8_t)(F_RST | ((fl & 2) ? F_ACK : 0));
		s.optlen = 0;
	} else {
		s.seq = cl->nxt + (uint32_t)(int32_t)off;
		s.flags = F_FIN | F_ACK;
	}
	send_spec(&s);
}

static void op_pureack(struct rd *r)
{
	int k = rdk(r);
	int8_t ad = (int8_t)rd8(r), sd = (int8_t)rd8(r);
	uint8_t opts[12];
	struct t_tcp_spec s;

	client_spec(&s, k, opts);
	s.seq = S.cl[k].nxt + (uint32_t)(int32_t)sd;
	s.ack = client_cookie(k) + 1 + (uint32_t)(int32_t)ad;
	s.flags = F_ACK;
	send_spec(&s);
}

static void op_mut(struct rd *r)
{
	struct mut m = { 0 };
	size_t i;

	m.kind = (uint8_t)(rd8(r) % M_MAX);
	m.a = rd8(r);
	m.b = rd8(r);
	if (m.kind == M_TCPOPT || m.kind == M_IPOPT) {
		m.rawlen = (uint8_t)(m.a % 41);
		for (i = 0; i < m.rawlen; i++)
			m.raw[i] = rd8(r);
	}
	if (S.nmut < MAX_MUT)
		S.muts[S.nmut++] = m;
}

static void op_raw(struct rd *r)
{
	static uint8_t b[BUF_LEN];
	size_t len = rd8(r), i, hdr = 0;
	uint8_t tmpl = rd8(r);

	memset(b, 0, 64);
	switch (tmpl & 3) {
	case 1:                 /* Ethernet, IPv4 ethertype, raw after */
		memcpy(b, T_MAC_DIR, 6); memcpy(b + 6, T_MAC_CLIENT, 6); put16(b + 12, 0x0800);
		hdr = 14;
		break;
	case 2:                 /* a valid IPv4 header to the service, raw TCP after */
		memcpy(b, T_MAC_DIR, 6); memcpy(b + 6, T_MAC_CLIENT, 6); put16(b + 12, 0x0800);
		b[14] = 0x45; b[22] = 64; b[23] = 6;
		put32(b + 26, CLIENT); put32(b + 30, VIP);
		hdr = 34;
		break;
	case 3:                 /* IPv6 ethertype, raw after; b4: a valid IPv6 header
				 * to the IPv6 service (next header b5 ? raw : TCP) */
		memcpy(b, T_MAC_DIR, 6); memcpy(b + 6, T_MAC_CLIENT, 6); put16(b + 12, 0x86dd);
		hdr = 14;
		if (tmpl & 16) {
			union cb_addr sa = a6(1, CLIENT6_LO), da = a6(1, VIP6_LO);

			b[14] = 0x60; b[20] = 6; b[21] = 64;
			memcpy(b + 22, &sa, 16);
			memcpy(b + 38, &da, 16);
			hdr = 54;
		}
		break;
	}
	for (i = 0; i < len; i++)
		b[hdr + i] = rd8(r);
	len += hdr;
	if ((tmpl & 3) == 2) {
		put16(b + 16, (uint16_t)(len - 14));
		if (tmpl & 4)           /* the service's port */
			put16(b + 36, VPORT);
		put16(b + 24, t_csum(b + 14, 20, 0));
		if (tmpl & 8)
			fix_csums(b, len);
	}
	if ((tmpl & 3) == 3 && (tmpl & 16)) {
		put16(b + 18, (uint16_t)(len - 54));
		if (tmpl & 32)
			b[20] = rd8(r);
		if ((tmpl & 4) && len >= 58)
			put16(b + 56, VPORT);
		if (tmpl & 8)
			fix_csums(b, len);
	}
	if (len < 14)
		len = 14;
	S.nmut = 0;
	run_ingress(b, len);
}

static void op_ipv6(struct rd *r)
{
	static uint8_t b[BUF_LEN];
	int k = NROLE + rdk(r) % NROLE;
	uint8_t ext = rd8(r), fl = rd8(r), tcp[64];
	struct client *cl = &S.cl[k];

	memset(tcp, 0, sizeof(tcp));
	put16(tcp, cl->sport);
	put16(tcp + 2, cl->dport);
	put32(tcp + 4, cl->isn + ((fl & 0x10) ? 1 : 0));
	put32(tcp + 8, (fl & 0x10) ? client_cookie(k) + 1 : 0);
	tcp[12] = 0x50;
	tcp[13] = (fl & 0x10) ? F_ACK | F_PSH : F_SYN;
	put16(tcp + 14, 64240);
	memcpy(tcp + 20, "GET / HTTP/1.1\r\n", 16);
	S.nmut = 0;
	memset(&S.nf, 0, sizeof(S.nf));
	run_ingress(b, build_v6(b, tcp, (fl & 0x10) ? 36 : 20, ext, fl, &cl->saddr, &cl->daddr));
}

static void op_ctl(struct rd *r)
{
	static const uint32_t states[10] = { 0, CB_FLOW_UNBOUND, CB_FLOW_LOCAL, CB_FLOW_FROZEN,
					     CB_FLOW_SHIPPING, CB_FLOW_REDIRECT, CB_FLOW_PENDING,
					     CB_FLOW_MOVING, 8, 0xffffffffu };
	int k = rdk(r);
	uint8_t what = rd8(r), arg = rd8(r);
	struct cb_flow_key key = client_key(k);
	struct trk *t = trk_add(&key);
	struct cb_flow f;
	struct cb_remote rem;
	uint32_t id;
	int i;

	if (!t)
		return;
	switch (what % 6) {
	case 0:                 /* compare-and-swap of the state, as owner.c does */
		if (!bpf_map_lookup_elem(S.I->flows_fd, &key, &f)) {
			f.state = states[arg % 10];
			if (f.state == 0 || f.state >= CB_FLOW_STATE_MAX)
				S.ctl_bogus = 1;
			bpf_map_update_elem(S.I->flows_fd, &key, &f, BPF_EXIST);
		}
		break;
	case 1:
		bpf_map_delete_elem(S.I->flows_fd, &key);
		break;
	case 2:                 /* steer it to a peer (an id past the table: no peer) */
		memset(&rem, 0, sizeof(rem));
		rem.peer = arg % 70u;
		rem.epoch = 3;
		rem.created_ns = 1;
		rem.last_ns = 1;
		rem.closing_ns = (arg & 0x80) ? 1 : 0;
		rem.closing_flags = (arg & 0x80) ? CB_REMOTE_SEEN_FIN : 0;
		bpf_map_update_elem(S.I->remote_fd, &key, &rem, BPF_ANY);
		break;
	case 3:
		bpf_map_delete_elem(S.I->remote_fd, &key);
		break;
	case 4: {               /* a peer up or down */
		struct cb_peer p = { .up = (uint8_t)((arg >> 6) & 1), .ip_be = htonl(0xc6120002) };

		id = arg & 63;
		memcpy(p.mac, T_MAC_PEER, 6);
		p.mac[4] = (uint8_t)id;
		bpf_map_update_elem(S.I->peers_fd, &id, &p, BPF_ANY);
		S.peers[id].up = p.up;
		memcpy(S.peers[id].mac, p.mac, 6);
		S.peers_touched |= 1ull << id;
		break;
	}
	default:                /* the client closed a steered flow */
		if (!bpf_map_lookup_elem(S.I->remote_fd, &key, &rem)) {
			rem.closing_ns = arg ? 1 : 0;
			rem.closing_flags = arg & 3;
			bpf_map_update_elem(S.I->remote_fd, &key, &rem, BPF_EXIST);
		}
		break;
	}
	/* An update of the LRU flow table takes a free node first, even for a key
	 * it holds: on the 8-entry table it may evict another flow.  That is
	 * this controller's doing, not the program's: every tuple is read anew. */
	for (i = 0; i < S.ntrk; i++)
		trk_snap(&S.trk[i]);
}

static void write_secrets(void)
{
	struct cb_secrets s = { .key = { { KEYS[0][0], KEYS[0][1] }, { KEYS[1][0], KEYS[1][1] } },
				.current = S.slot };
	__u32 zero = 0;

	if (bpf_map_update_elem(S.I->sec_fd, &zero, &s, BPF_ANY))
		fail("secrets: %s", strerror(errno));
}

static void op_flood(struct rd *r, int forge)
{
	uint8_t nb = rd8(r), seed = rd8(r), opts[40], pay[16];
	int n = forge ? nb % 16 + 1 : nb % 32 + 1, i, v6 = nb >> 7;
	struct t_tcp_spec s;

	for (i = 0; i < n; i++) {
		uint32_t h = (uint32_t)(seed * 2654435761u) ^ (uint32_t)(i * 40503u);

		memset(&s, 0, sizeof(s));
		s.saddr = 0xc6120000u | (0x100u + (h & 0xfff));
		s.daddr = VIP;
		if (v6) {               /* 2001:db8::1:xxxx, one per /64 or not */
			S.nf.v6 = 1;
			S.nf.sa = a6(1, 0x10000u | (h & 0xfff));
			S.nf.sa.w[1] = htonl((h >> 12) & 3);
			S.nf.da = a6(1, VIP6_LO);
		}
		s.sport = (uint16_t)(1024 + (h >> 16) % 60000);
		s.dport = VPORT;
		s.seq = h * 7919u;
		s.window = 29200;
		if (forge) {
			s.ack = h * 2246822519u;
			s.flags = F_ACK | ((h & 1) ? F_PSH : 0);
			if (h & 2) {
				memset(pay, 'x', sizeof(pay));
				s.payload = pay;
				s.paylen = sizeof(pay);
			}
		} else {
			s.flags = F_SYN;
			s.optlen = t_syn_opts(opts, (h & 4) ? 1460 : 1400, (int)(h & 1), (int)(h & 2),
					      h, (h & 8) ? (int)(h >> 28) : -1);
			s.opts = opts;
		}
		send_spec(&s);
	}
}

static void op_egress(struct rd *r)
{
	static uint8_t b[BUF_LEN];
	int k = rdk(r);
	uint8_t fl = rd8(r);
	struct client *cl = &S.cl[k];
	struct t_tcp_spec s = { .saddr = ntohl(cl->daddr.w[3]), .daddr = ntohl(cl->saddr.w[3]),
				.sport = cl->dport, .dport = cl->sport, .seq = client_cookie(k) + 1,
				.ack = cl->nxt, .window = 1000 };
	size_t n;

	S.nf.v6 = cl->v6;
	S.nf.sa = cl->daddr;
	S.nf.da = cl->saddr;
	s.flags = (uint8_t)((fl & 1) ? F_RST : F_ACK) | ((fl & 4) ? F_FIN : 0);
	if (fl & 2) {
		s.payload = (const uint8_t *)"HTTP/1.1 200 OK\r\n\r\n";
		s.paylen = 19;
	}
	n = build(b, &s);
	run_egress(b, n);
}

/* ---- one input ------------------------------------------------------ */
static void input_begin(const uint8_t *data, size_t size, struct rd *r)
{
	static const uint32_t caps[4] = { 65536, 4000, 200, 0 };
	static const uint32_t rates[4] = { CB_RST_RATE_DEFAULT, 0, 1, CB_RST_RATE_DEFAULT };
	static const uint16_t msss[4] = { 1460, 536, 9000, 1460 };
	static const uint8_t wss[4] = { 7, 0, 14, 2 };
	static struct cb_rst_bucket zb[MAX_CPUS];
	uint8_t h0, h1, h2;
	__u32 zero = 0;
	int k;

	r->p = data;
	r->n = size;
	r->i = 0;
	h0 = rd8(r);
	h1 = rd8(r);
	h2 = rd8(r);
	memset(&S, 0, sizeof(S));
	S.ii = h0 & 3;
	S.I = &insts[S.ii];
	S.cfg.flow_byte_cap = caps[h1 & 3];
	S.cfg.rst_rate = rates[(h1 >> 2) & 3];
	S.cfg.flags = (h1 & 0x10) ? 0 : CB_CFG_VERIFY_CSUM;
	if (!(h1 & 0x20))
		memcpy(S.cfg.own_mac, T_MAC_OWN, 6);
	S.cfg.mss = msss[h1 >> 6];
	S.cfg.wscale = wss[h2 & 3];
	S.slot = (h2 >> 2) & 1;
	S.autodrain = !(h2 & 8);
	S.prev_primary = CB_STAT_MAX;
	if (bpf_map_update_elem(S.I->cfg_fd, &zero, &S.cfg, BPF_ANY))
		fail("config: %s", strerror(errno));
	write_secrets();
	bpf_map_update_elem(S.I->bucket_fd, &zero, zb, BPF_ANY);       /* full credit */
	stats_zero();
	S.I->peek_pos = *S.I->cons_pos;
	ksock_renew();
	for (k = 0; k < NCL; k++) {
		int f6 = k >= NROLE, j = k % NROLE;

		S.cl[k].v6 = f6;
		if (f6) {
			S.cl[k].saddr = j < 4 ? a6(1, CLIENT6_LO + (uint32_t)(j >> 1)) : a6(0, 1);
			S.cl[k].daddr = j < 4 ? a6(1, VIP6_LO) : a6(0, 1);
		} else {
			S.cl[k].saddr = a4(j < 4 ? CLIENT + (uint32_t)(j >> 1) : LO_ADDR);
			S.cl[k].daddr = a4(j < 4 ? VIP : LO_ADDR);
		}
		S.cl[k].sport = j < 4 ? (uint16_t)(CPORT + j) : j == 4 ? lo_est_port[f6] : lo_tw_port[f6];
		S.cl[k].dport = j < 4 ? VPORT : lo_port[f6];
		S.cl[k].isn = CISN + (uint32_t)k * 0x1000000u;
		S.cl[k].nxt = S.cl[k].isn + 1;
		S.cl[k].tsval = 1000u + (uint32_t)k;
		S.cl[k].ts = 1;
	}
}

/* Every flow left is known and valid (I5); then everything is removed. */
static void input_end(void)
{
	struct cb_flow_key k, next, *prev = NULL;
	struct cb_flow f;
	int i, n = 0;

	S.op = "end";
	memset(&C, 0, sizeof(C));
	while (!bpf_map_get_next_key(S.I->flows_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (++n > 100000)
			fail("flow table walk does not end");
		if (bpf_map_lookup_elem(S.I->flows_fd, &k, &f))
			continue;
		if (!trk_find(&k) && !S.trk_overflow)
			fail("a flow no packet created: %s:%u -> %s:%u", astr(&k.saddr),
			     ntohs(k.sport_be), astr(&k.daddr), ntohs(k.dport_be));
		check_flow_content(&k, &f, "at the end of the input");
	}
	for (i = 0; i < S.ntrk; i++) {
		bpf_map_delete_elem(S.I->flows_fd, &S.trk[i].k);
		bpf_map_delete_elem(S.I->remote_fd, &S.trk[i].k);
	}
	if (!bpf_map_get_next_key(S.I->flows_fd, NULL, &next)) {
		while (!bpf_map_get_next_key(S.I->flows_fd, NULL, &next))
			bpf_map_delete_elem(S.I->flows_fd, &next);
	}
	if (!bpf_map_get_next_key(S.I->remote_fd, NULL, &next)) {
		if (!S.trk_overflow)
			fail("a steering entry the controller did not add");
		while (!bpf_map_get_next_key(S.I->remote_fd, NULL, &next))
			bpf_map_delete_elem(S.I->remote_fd, &next);
	}
	for (i = 0; i < CB_MAX_PEERS; i++) {
		if (S.peers_touched & (1ull << i)) {
			struct cb_peer p = { 0 };
			__u32 id = (__u32)i;

			bpf_map_update_elem(S.I->peers_fd, &id, &p, BPF_ANY);
		}
	}
	ring_drain();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd r;
	int ops = 0;

	if (!enabled)
		return 0;
	total_inputs++;
	input_begin(data, size, &r);
	if (trace)
		fprintf(stderr, "input: %s, cap %u, rst_rate %u, csum %d, mss %u, wscale %u, slot %u, "
			"drain %d\n", S.I->name, S.cfg.flow_byte_cap, S.cfg.rst_rate,
			S.cfg.flags & 1, S.cfg.mss, S.cfg.wscale, S.slot, S.autodrain);
	while (r.i < r.n && ops++ < MAX_OPS && S.npkt < MAX_PKTS) {
		uint8_t op = (uint8_t)(rd8(&r) % OP_MAX);

		S.op = op_names[op];
		switch (op) {
		case OP_SYN: op_syn(&r); break;
		case OP_ACK: op_ack(&r); break;
		case OP_DATA: op_data(&r); break;
		case OP_FIN: op_fin_rst(&r, 0); break;
		case OP_RST: op_fin_rst(&r, 1); break;
		case OP_MUT: op_mut(&r); break;
		case OP_RAW: op_raw(&r); break;
		case OP_IPV6: op_ipv6(&r); break;
		case OP_CTL: op_ctl(&r); break;
		case OP_DRAIN: {
			uint8_t m = rd8(&r);

			if (m & 2)
				S.autodrain = !S.autodrain;
			if (m & 1)
				ring_drain();
			break;
		}
		case OP_SECRET:
			S.slot ^= 1;
			write_secrets();
			break;
		case OP_REPLAY:
			if (S.last_len) {
				static uint8_t b[BUF_LEN];
				size_t n = S.last_len;

				memcpy(b, S.last, n);
				if (S.last_egress)
					run_egress(b, n);
				else
					run_ingress(b, n);
			}
			S.nmut = 0;
			break;
		case OP_FLOOD: op_flood(&r, 0); break;
		case OP_FORGE: op_flood(&r, 1); break;
		case OP_EGRESS: op_egress(&r); break;
		case OP_PUREACK: op_pureack(&r); break;
		}
	}
	input_end();
	return 0;
}

/* ---- seeds: scripts written by the fuzzer's own encoder ------------- */
struct enc {
	uint8_t b[1024];
	size_t n;
};

static void E(struct enc *e, int n, ...)
{
	va_list ap;
	int i;

	va_start(ap, n);
	for (i = 0; i < n; i++)
		if (e->n < sizeof(e->b))
			e->b[e->n++] = (uint8_t)va_arg(ap, int);
	va_end(ap);
}

/* SYN options byte: sack, ts, mss 1460, ws 7 (Linux) */
#define SYN_LINUX 0x73
#define DATA_LEN(n) ((n) / 7)
#define V6(k) (0x80 | (k))                      /* IPv6 client k */
#define EXT6(kind, units, copies) ((kind) | (units) << 3 | ((copies) - 1) << 5)

static void handshake(struct enc *e, int k, int opts)
{
	E(e, 5, OP_SYN, k, opts, 0, 0);
	E(e, 3, OP_ACK, k, 0);
}

static void seed_write(const char *dir, const char *name, const struct enc *e)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(e->b, 1, e->n, f) != e->n || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static void write_seeds(const char *dir)
{
	struct enc e;
	int i;

	/* a full connection: handshake, a request in two segments, FIN (XDP, TC) */
	for (i = 0; i < 2; i++) {
		memset(&e, 0, sizeof(e));
		E(&e, 3, i, 0, 0);
		handshake(&e, 0, SYN_LINUX);
		E(&e, 5, OP_DATA, 0, DATA_LEN(140), 0, 0x02);
		E(&e, 5, OP_DATA, 0, DATA_LEN(700), 0, 0x02);
		E(&e, 3, OP_FIN, 0, 0);
		E(&e, 5, OP_SYN, 1, 0xf0, 0, 0);       /* no options at all */
		E(&e, 3, OP_ACK, 1, 0);
		E(&e, 5, OP_DATA, 1, DATA_LEN(1400), 0, 0x03);  /* data + FIN */
		seed_write(dir, i ? "handshake_data_fin_tc" : "handshake_data_fin_xdp", &e);
	}
	/* a SYN flood from many clients, then real clients in between */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 0, 0, 0);
	E(&e, 3, OP_FLOOD, 31, 1);
	handshake(&e, 2, 0x13);
	E(&e, 3, OP_FLOOD, 31, 2);
	E(&e, 3, OP_FORGE, 15, 3);
	E(&e, 5, OP_DATA, 2, DATA_LEN(210), 0, 0);
	seed_write(dir, "syn_flood", &e);
	/* ACKs with the cookie mutated, then right, then data on the handshake ACK */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 1, 0, 0);
	E(&e, 5, OP_SYN, 0, SYN_LINUX, 0, 0);
	E(&e, 3, OP_ACK, 0, 0x40 | 9);                  /* ack bit 9 flipped */
	E(&e, 3, OP_ACK, 0, 0x80 | 3);                  /* seq bit flipped */
	E(&e, 3, OP_ACK, 0, 33);                        /* ack + 1 */
	E(&e, 4, OP_MUT, M_FLAGS, F_SYN, 0);
	E(&e, 3, OP_ACK, 0, 0);                         /* SYN|ACK with the cookie */
	E(&e, 4, OP_MUT, M_BADTCSUM, 1, 0);
	E(&e, 3, OP_ACK, 0, 0);                         /* bad checksum */
	E(&e, 3, OP_ACK, 0, 0xc0 | 20);                 /* cookie ACK carrying data */
	E(&e, 3, OP_ACK, 0, 0);                         /* duplicate handshake ACK */
	E(&e, 4, OP_PUREACK, 0, 0, 0);
	E(&e, 4, OP_PUREACK, 0, 1, 0);
	E(&e, 4, OP_PUREACK, 0, 0, 0x80);
	E(&e, 4, OP_RST, 0, 5, 0);                      /* in-window RST: challenge */
	E(&e, 4, OP_RST, 0, 0, 1);                      /* RST at rcv_nxt */
	seed_write(dir, "mutated_acks", &e);
	/* order, duplicates, overlap, PAWS, window cap 4000 */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 0, 1, 0);
	handshake(&e, 3, SYN_LINUX);
	E(&e, 5, OP_DATA, 3, DATA_LEN(700), 2, 0);      /* a gap */
	E(&e, 5, OP_DATA, 3, DATA_LEN(700), 0, 0);
	E(&e, 5, OP_DATA, 3, DATA_LEN(700), (uint8_t)-5, 0x80);  /* overlap 5 bytes */
	E(&e, 5, OP_DATA, 3, DATA_LEN(700), (uint8_t)-100, 0x80);
	E(&e, 5, OP_DATA, 3, DATA_LEN(350), 0, 0x10);   /* old TSval */
	E(&e, 5, OP_DATA, 3, 200 + 0, 0, 0);            /* 1460 */
	E(&e, 5, OP_DATA, 3, 200 + 4, 0, 0);            /* 2000: past the cap */
	E(&e, 5, OP_DATA, 3, DATA_LEN(70), 0, 0x08);    /* wrong ack */
	E(&e, 5, OP_DATA, 3, DATA_LEN(70), 0, 0x04);    /* no ACK flag */
	E(&e, 4, OP_MUT, M_FLIP, 70, 1);
	E(&e, 5, OP_DATA, 3, DATA_LEN(70), 0, 0);       /* a payload bit flipped */
	E(&e, 5, OP_SYN, 3, SYN_LINUX, 0, 0);           /* SYN on the flow: challenge ACK */
	E(&e, 4, OP_RST, 3, 0, 1);
	seed_write(dir, "data_edges", &e);
	/* a 16 KiB ring not drained: a 3-record segment gets only its first
	 * record in (a prefix acked), the next finds it full; drained, it flows */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 2, 0, 8);
	handshake(&e, 0, SYN_LINUX);
	E(&e, 5, OP_DATA, 0, 200 + 10, 0, 0);           /* 18433 bytes */
	E(&e, 5, OP_DATA, 0, 200 + 0, 0, 0);
	E(&e, 2, OP_DRAIN, 1);
	E(&e, 5, OP_DATA, 0, 200 + 0, 0, 0);
	handshake(&e, 1, SYN_LINUX);
	handshake(&e, 2, SYN_LINUX);
	E(&e, 3, OP_FIN, 0, 0);
	seed_write(dir, "ring_full_small", &e);
	/* the same at TC (1460-byte segments fill it) */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 3, 0, 8);
	handshake(&e, 1, SYN_LINUX);
	for (i = 0; i < 12; i++)
		E(&e, 5, OP_DATA, 1, 200 + 0, 0, 0);
	E(&e, 2, OP_DRAIN, 1);
	E(&e, 5, OP_DATA, 1, 200 + 0, 0, 0);
	seed_write(dir, "ring_full_small_tc", &e);
	/* the ring exactly full: an OPEN and a CLOSE lost (EVENT_LOST), then data
	 * of the flow whose OPEN was lost */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 2, 0, 8);
	handshake(&e, 0, SYN_LINUX);
	E(&e, 5, OP_DATA, 0, 200 + 14, 0, 0);           /* 16184 bytes */
	handshake(&e, 1, SYN_LINUX);
	E(&e, 5, OP_DATA, 1, 10, 0, 0);
	E(&e, 3, OP_FIN, 0, 0);
	E(&e, 2, OP_DRAIN, 1);
	E(&e, 5, OP_DATA, 1, 10, 0, 0);
	E(&e, 5, OP_DATA, 1, 10, 0, 0x01);
	seed_write(dir, "ring_exactly_full", &e);
	/* jumbo MSS 9000: a 9000-byte segment checksummed, a 9216 one and a
	 * 65000 one (above the MSS: GRO's, not verified, several records) */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 0, 2 << 6, 0);
	handshake(&e, 0, SYN_LINUX);
	E(&e, 5, OP_DATA, 0, 200 + 7, 0, 0);
	E(&e, 4, OP_MUT, M_FLIP, 200, 0);
	E(&e, 5, OP_DATA, 0, 200 + 7, 0, 0);            /* a bit flipped: refused */
	E(&e, 5, OP_DATA, 0, 200 + 8, 0, 0);
	E(&e, 5, OP_DATA, 0, 200 + 12, 0, 0);
	E(&e, 5, OP_DATA, 0, 200 + 12, 0, 0);           /* past the 65536 cap */
	handshake(&e, 1, SYN_LINUX);
	E(&e, 5, OP_DATA, 1, 200 + 12, 0, 0);           /* 65000 bytes: 8 records */
	E(&e, 5, OP_DATA, 1, 200 + 1, 0, 0x01);         /* + FIN */
	seed_write(dir, "jumbo_multi_record", &e);
	/* frames that are not ours: IPv6 with extension headers, VLAN, fragments,
	 * IP options, ARP, UDP, raw */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 1, 0, 0);
	E(&e, 4, OP_IPV6, 0, 0, 0);
	E(&e, 4, OP_IPV6, 0, 3 | (0 << 2) | (3 << 4) | (2 << 6), 0x12);
	E(&e, 4, OP_IPV6, 1, 1 | (2 << 2), 0x11);
	E(&e, 4, OP_MUT, M_VLAN, 0, 5);
	E(&e, 5, OP_SYN, 0, SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_VLAN, 2, 7);
	E(&e, 5, OP_SYN, 0, SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_FRAG, 0x20, 0);
	E(&e, 5, OP_SYN, 0, SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_FRAG, 0x00, 0x10);
	E(&e, 5, OP_SYN, 0, SYN_LINUX, 0, 0);
	E(&e, 8, OP_MUT, M_IPOPT, 4, 0, 1, 1, 1, 0);
	E(&e, 5, OP_SYN, 0, SYN_LINUX, 0, 0);
	E(&e, 8, OP_MUT, M_TCPOPT, 4, 0, 2, 0, 1, 1);  /* option length 0 */
	E(&e, 5, OP_SYN, 0, SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_ETHERTYPE, 0, 0);
	E(&e, 5, OP_SYN, 0, SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_PROTO, 17, 0);
	E(&e, 5, OP_SYN, 0, SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_TRUNC, 40, 0);
	E(&e, 5, OP_SYN, 0, SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_TUPLE, 0, 0);
	E(&e, 5, OP_SYN, 0, SYN_LINUX, 0, 0);
	E(&e, 7, OP_RAW, 4, 2, 1, 2, 3, 4);
	E(&e, 3 + 24, OP_RAW, 24, 2 | 4 | 8, 0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50,
	  0x02, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0);
	seed_write(dir, "not_ours", &e);
	/* the controller's states, steering, peers */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 0, 0, 0);
	handshake(&e, 0, SYN_LINUX);
	E(&e, 4, OP_CTL, 0, 0, 2);                      /* LOCAL */
	E(&e, 5, OP_DATA, 0, 10, 0, 0);
	E(&e, 5, OP_SYN, 0, SYN_LINUX, 0, 0);           /* its socket is gone: reused */
	E(&e, 3, OP_ACK, 0, 0);
	for (i = 3; i <= 9; i++) {
		E(&e, 4, OP_CTL, 0, 0, i);              /* FROZEN ... bogus */
		E(&e, 5, OP_DATA, 0, 10, 0, 0);
	}
	E(&e, 4, OP_CTL, 0, 4, 0x47);                   /* peer 7 up */
	E(&e, 4, OP_CTL, 0, 2, 7);                      /* steered to 7 */
	E(&e, 4, OP_CTL, 0, 0, 5);                      /* REDIRECT */
	E(&e, 5, OP_DATA, 0, 10, 0, 0);
	E(&e, 3, OP_FIN, 0, 0);
	E(&e, 5, OP_SYN, 0, SYN_LINUX, 0, 0);           /* closing: new SYN */
	E(&e, 3, OP_ACK, 0, 0);                         /* reuses the tuple */
	E(&e, 4, OP_CTL, 0, 4, 0x07);                   /* peer 7 down */
	E(&e, 4, OP_CTL, 1, 2, 7);                      /* no flow, steered */
	E(&e, 5, OP_DATA, 1, 10, 0, 0);
	E(&e, 4, OP_CTL, 1, 2, 66);                     /* no such peer */
	E(&e, 4, OP_RST, 1, 0, 1);
	E(&e, 5, OP_DATA, 1, 10, 0, 0);
	seed_write(dir, "controller_states", &e);
	/* TC egress: the kernel's RSTs for held flows, PENDING and MOVING silence */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 1, 0, 0);
	handshake(&e, 0, SYN_LINUX);
	E(&e, 3, OP_EGRESS, 0, 1);
	E(&e, 3, OP_EGRESS, 0, 2);
	E(&e, 4, OP_CTL, 0, 0, 6);
	E(&e, 3, OP_EGRESS, 0, 2);
	E(&e, 4, OP_CTL, 0, 0, 7);
	E(&e, 3, OP_EGRESS, 0, 0);
	E(&e, 4, OP_CTL, 0, 0, 2);
	E(&e, 3, OP_EGRESS, 0, 1);
	E(&e, 3, OP_EGRESS, 2, 1);
	seed_write(dir, "tc_egress", &e);
	/* secret rotation, RST rate limit 1/s, checksum verification off, ISN wrap */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 3, 0x10 | (2 << 2) | (1 << 6), 0);
	E(&e, 5, OP_SYN, 0, SYN_LINUX, 0xff, 0);
	E(&e, 1, OP_SECRET);
	E(&e, 3, OP_ACK, 0, 0);                         /* the old slot still validates */
	E(&e, 4, OP_MUT, M_BADTCSUM, 1, 0);
	E(&e, 5, OP_DATA, 0, DATA_LEN(420), 0, 0);      /* not verified: accepted */
	E(&e, 5, OP_DATA, 0, 200 + 5, 0, 0);            /* 3000 bytes, wrapping the ISN */
	E(&e, 3, OP_FORGE, 4, 9);
	E(&e, 5, OP_SYN, 1, 0x3b, 0, 3);                /* mss 536, data on the SYN */
	E(&e, 3, OP_ACK, 1, 0);
	seed_write(dir, "secret_rate_wrap", &e);
	/* kernel sockets: ESTABLISHED (client 4), TIME_WAIT (client 5) */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 0, 0, 0);
	E(&e, 5, OP_SYN, 4, SYN_LINUX, 0, 0);
	E(&e, 3, OP_ACK, 4, 0);                         /* a live socket's tuple: passed */
	E(&e, 4, OP_PUREACK, 4, 0, 0);
	handshake(&e, 5, SYN_LINUX);                    /* TIME_WAIT: a new flow */
	E(&e, 4, OP_RST, 5, 0, 1);
	E(&e, 4, OP_RST, 5, 0, 1);                      /* no flow: TIME_WAIT's RST */
	E(&e, 5, OP_DATA, 5, 10, 0, 0);                 /* cookie ACK with data */
	E(&e, 4, OP_CTL, 4, 0, 2);
	seed_write(dir, "kernel_sockets", &e);

	/* ---- IPv6 ---- */
	/* a full connection over IPv6 (XDP, TC), and one without options */
	for (i = 0; i < 2; i++) {
		memset(&e, 0, sizeof(e));
		E(&e, 3, i, 0, 0);
		handshake(&e, V6(0), SYN_LINUX);
		E(&e, 5, OP_DATA, V6(0), DATA_LEN(140), 0, 0x02);
		E(&e, 5, OP_DATA, V6(0), DATA_LEN(700), 0, 0x02);
		E(&e, 5, OP_DATA, V6(0), DATA_LEN(700), 0, 0x02);      /* duplicate */
		E(&e, 4, OP_PUREACK, V6(0), 0, 0);
		E(&e, 3, OP_FIN, V6(0), 0);
		E(&e, 5, OP_SYN, V6(1), 0xf0, 0, 0);
		E(&e, 3, OP_ACK, V6(1), 0);
		E(&e, 5, OP_DATA, V6(1), DATA_LEN(1400), 0, 0x03);     /* data + FIN */
		E(&e, 5, OP_SYN, V6(2), 0x3b, 0, 3);                    /* mss 536, data on the SYN */
		E(&e, 3, OP_ACK, V6(2), 0xc0 | 20);                     /* cookie ACK with data */
		E(&e, 4, OP_RST, V6(2), 0, 1);
		seed_write(dir, i ? "v6_handshake_data_fin_tc" : "v6_handshake_data_fin_xdp", &e);
	}
	/* extension headers a TCP endpoint skips: hop-by-hop, destination
	 * options, routing with no segments left, up to 4 of them, 512 bytes */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 0, 0, 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(0, 0, 1), 0);
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(1, 1, 1), 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(2, 0, 1), 0);
	E(&e, 3, OP_ACK, V6(0), 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(0, 3, 1), 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(1, 0, 2), 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(2, 2, 1), 0);
	E(&e, 5, OP_DATA, V6(0), DATA_LEN(700), 0, 0x02);       /* 4 headers */
	E(&e, 4, OP_MUT, M_EXT6, EXT6(1, 0, 1), 0x80 | 62);     /* 504 + 8 bytes */
	E(&e, 5, OP_DATA, V6(0), DATA_LEN(70), 0, 0x02);
	E(&e, 8, OP_MUT, M_IPOPT, 4, 0, 5, 2, 0, 0);            /* router alert in hop-by-hop */
	E(&e, 4, OP_MUT, M_EXT6, EXT6(1, 0, 1), 0);
	E(&e, 5, OP_DATA, V6(0), DATA_LEN(70), 0, 0x01);        /* + FIN */
	E(&e, 4, OP_MUT, M_EXT6, EXT6(1, 0, 1), 0);
	E(&e, 4, OP_IPV6, V6(1), 1 | (3 << 2), 0);              /* raw SYN behind dstopts */
	E(&e, 4, OP_IPV6, V6(1), 3 | (0 << 2) | (1 << 4) | (3 << 6), 0x10);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(0, 0, 1), 0);
	E(&e, 4, OP_MUT, M_FIXCSUM, 0, 0);
	E(&e, 3, OP_FIN, V6(1), 0);
	seed_write(dir, "v6_ext_walked", &e);
	/* extension headers passed or malformed, each on a SYN, then one that works */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 1, 0, 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(4, 0, 1), 0);             /* fragment, offset 0 */
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_FRAG, 0, 9);                          /* fragment, M, offset 1 */
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(5, 1, 1), 0);             /* AH */
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(6, 0, 1), 0);             /* ESP */
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(3, 0, 1), 2);             /* routing, segments left 3 */
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(1, 0, 5), 0);             /* 5 headers */
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(1, 0, 1), 0x80 | 70);     /* 568 bytes */
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(1, 0, 1), 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(0, 0, 1), 0);             /* hop-by-hop second */
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(1, 0, 1), 0x40 | 20);     /* length past the frame */
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(7, 0, 1), 17);            /* UDP */
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(7, 1, 1), 59);            /* no next header */
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(7, 0, 1), 6);             /* 8 bytes as TCP */
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(2, 1, 1), 0);
	E(&e, 4, OP_MUT, M_TRUNC, 70, 0);                        /* cut in the routing header */
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_SETB, 18, 0);
	E(&e, 4, OP_MUT, M_SETB, 19, 0);                         /* payload length 0 */
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_HDRLEN, 100, 0);                      /* payload length past the frame */
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_IPVER, 4, 0);                         /* version 4 in an IPv6 frame */
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_PROTO, 58, 0);                        /* ICMPv6 */
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(0, 0, 1), 0);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(4, 0, 1), 0);             /* walked, then a fragment */
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 4, OP_IPV6, V6(0), 1 | (1 << 2), 0x01);            /* routing, segments left 1 */
	E(&e, 4, OP_IPV6, V6(0), 2 | (0 << 2) | (2 << 4), 0x02); /* hop-by-hop, fragment M */
	E(&e, 4, OP_IPV6, V6(0), 0, 0x04);                       /* UDP */
	E(&e, 5, OP_RAW, 2, 3 | 16, 0x9c, 0x40);                 /* TCP header truncated */
	E(&e, 3 + 20, OP_RAW, 20, 3 | 4 | 8 | 16, 0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50,
	  0x02, 0xff, 0xff, 0, 0, 0, 0);
	handshake(&e, V6(0), SYN_LINUX);
	E(&e, 4, OP_MUT, M_EXT6, EXT6(4, 0, 1), 0);
	E(&e, 5, OP_DATA, V6(0), DATA_LEN(70), 0, 0);           /* a fragment of the flow */
	E(&e, 4, OP_MUT, M_EXT6, EXT6(1, 0, 1), 0x40 | 1);
	E(&e, 5, OP_DATA, V6(0), DATA_LEN(70), 0, 0);
	E(&e, 4, OP_MUT, M_BADTCSUM, 1, 0);
	E(&e, 5, OP_DATA, V6(0), DATA_LEN(70), 0, 0);
	E(&e, 5, OP_DATA, V6(0), DATA_LEN(70), 0, 0);
	seed_write(dir, "v6_ext_passed", &e);
	/* IPv6 kernel sockets on [::1], the controller's states, TC egress */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 1, 0, 0);
	E(&e, 5, OP_SYN, V6(4), SYN_LINUX, 0, 0);
	E(&e, 3, OP_ACK, V6(4), 0);
	E(&e, 4, OP_PUREACK, V6(4), 0, 0);
	handshake(&e, V6(5), SYN_LINUX);
	E(&e, 4, OP_RST, V6(5), 0, 1);
	E(&e, 4, OP_RST, V6(5), 0, 1);
	handshake(&e, V6(0), SYN_LINUX);
	E(&e, 3, OP_EGRESS, V6(0), 1);
	E(&e, 3, OP_EGRESS, V6(0), 2);
	E(&e, 4, OP_CTL, V6(0), 0, 6);                           /* PENDING */
	E(&e, 3, OP_EGRESS, V6(0), 2);
	E(&e, 5, OP_DATA, V6(0), 10, 0, 0);
	E(&e, 4, OP_CTL, V6(0), 0, 2);                           /* LOCAL */
	E(&e, 3, OP_EGRESS, V6(0), 1);
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 3, OP_ACK, V6(0), 0);
	E(&e, 4, OP_CTL, V6(0), 4, 0x45);                        /* peer 5 up */
	E(&e, 4, OP_CTL, V6(0), 2, 5);
	E(&e, 4, OP_CTL, V6(0), 0, 5);                           /* REDIRECT */
	E(&e, 5, OP_DATA, V6(0), 10, 0, 0);
	E(&e, 3, OP_FIN, V6(0), 0);
	E(&e, 5, OP_SYN, V6(0), SYN_LINUX, 0, 0);
	E(&e, 3, OP_ACK, V6(0), 0);
	E(&e, 4, OP_CTL, V6(1), 2, 66);
	E(&e, 5, OP_DATA, V6(1), 10, 0, 0);
	E(&e, 3, OP_EGRESS, V6(1), 1);
	seed_write(dir, "v6_ksock_ctl_egress", &e);
	/* every controller state of an IPv6 flow, at XDP */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 0, 0, 0);
	handshake(&e, V6(1), SYN_LINUX);
	for (i = 3; i <= 9; i++) {
		E(&e, 4, OP_CTL, V6(1), 0, i);          /* FROZEN ... bogus */
		E(&e, 5, OP_DATA, V6(1), 10, 0, 0);
	}
	E(&e, 4, OP_CTL, V6(1), 3, 0);                  /* REDIRECT without cb_remote */
	E(&e, 4, OP_CTL, V6(1), 0, 5);
	E(&e, 5, OP_DATA, V6(1), 10, 0, 0);
	E(&e, 4, OP_CTL, V6(1), 4, 0x49);               /* peer 9 up, steered to it */
	E(&e, 4, OP_CTL, V6(1), 2, 9);
	E(&e, 5, OP_DATA, V6(1), 10, 0, 0);
	E(&e, 4, OP_RST, V6(1), 0, 1);
	seed_write(dir, "v6_controller_states", &e);
	/* both families at once on the same ports, floods of both, a small ring */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 2, 0, 8);
	handshake(&e, 0, SYN_LINUX);
	handshake(&e, V6(0), SYN_LINUX);
	E(&e, 3, OP_FLOOD, 0x80 | 31, 1);
	E(&e, 5, OP_DATA, 0, DATA_LEN(140), 0, 0);
	E(&e, 5, OP_DATA, V6(0), DATA_LEN(140), 0, 0);
	E(&e, 3, OP_FORGE, 0x80 | 15, 2);
	E(&e, 3, OP_FLOOD, 31, 3);
	E(&e, 5, OP_DATA, V6(0), 200 + 14, 0, 0);
	E(&e, 5, OP_DATA, 0, 200 + 0, 0, 0);
	E(&e, 2, OP_DRAIN, 1);
	E(&e, 4, OP_MUT, M_IPV6, 0, 0);
	E(&e, 5, OP_DATA, 0, DATA_LEN(70), 0, 0);               /* IPv4 data as IPv6 */
	E(&e, 4, OP_MUT, M_TUPLE, 1, 0);
	E(&e, 5, OP_SYN, V6(1), SYN_LINUX, 0, 0);               /* not the service */
	E(&e, 8, OP_MUT, M_TCPOPT, 4, 0, 2, 0, 1, 1);
	E(&e, 5, OP_SYN, V6(1), SYN_LINUX, 0, 0);               /* bad options */
	E(&e, 3, OP_FIN, V6(0), 0);
	E(&e, 3, OP_FIN, 0, 0);
	seed_write(dir, "v6_dual_stack", &e);
	/* the ring exactly full over IPv6 (records are the same size), at TC */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 3, 0, 8);
	handshake(&e, V6(0), SYN_LINUX);
	for (i = 0; i < 10; i++)                        /* 64 + 10 x 1528 bytes */
		E(&e, 5, OP_DATA, V6(0), 200 + 0, 0, 0);
	E(&e, 5, OP_DATA, V6(0), DATA_LEN(966), 0, 0);  /* 1032: to the last 8 */
	E(&e, 5, OP_DATA, V6(0), 200 + 0, 0, 0);        /* full */
	handshake(&e, V6(1), SYN_LINUX);                /* OPEN lost */
	E(&e, 5, OP_DATA, V6(1), 10, 0, 0);
	E(&e, 3, OP_FIN, V6(0), 0);
	E(&e, 2, OP_DRAIN, 1);
	E(&e, 5, OP_DATA, V6(1), 10, 0, 0x01);
	seed_write(dir, "v6_ring_full_small_tc", &e);
	/* jumbo over IPv6 at XDP: records of 9216 bytes */
	memset(&e, 0, sizeof(e));
	E(&e, 3, 0, 2 << 6, 0);
	handshake(&e, V6(0), SYN_LINUX);
	E(&e, 5, OP_DATA, V6(0), 200 + 7, 0, 0);               /* 9000: checksummed */
	E(&e, 5, OP_DATA, V6(0), 200 + 11, 0, 0);              /* 40000: 5 records */
	E(&e, 4, OP_MUT, M_EXT6, EXT6(1, 3, 1), 0);
	E(&e, 5, OP_DATA, V6(0), 200 + 9, 0, 0x01);            /* 9217 + FIN */
	seed_write(dir, "v6_jumbo", &e);
}

/* ---- setup and totals ----------------------------------------------- */
static void print_totals(void)
{
	int i, v, c, pairs = 0, hook_pairs = 0, reached = 0, eg = 0;
	uint8_t any[3][CB_STAT_MAX] = { { 0 } }, cnt[CB_STAT_MAX] = { 0 };

	if (!enabled)
		return;
	for (i = 0; i < NINST; i++) {
		for (v = 0; v < 3; v++)
			for (c = 0; c < CB_STAT_MAX; c++)
				if (seen_pair[i][v][c]) {
					hook_pairs++;
					any[v][c] = 1;
					cnt[c] = 1;
				}
		for (v = 0; v < 2; v++)
			for (c = 0; c < CB_STAT_MAX; c++)
				if (seen_eg[i][v][c]) {
					hook_pairs++;
					if (!cnt[c])
						eg++;
					cnt[c] = 1;
				}
	}
	for (v = 0; v < 3; v++)
		for (c = 0; c < CB_STAT_MAX; c++)
			pairs += any[v][c];
	for (c = 0; c < CB_STAT_MAX; c++)
		reached += cnt[c];
	fprintf(stderr, "stat::bpf_inputs: %llu\n", (unsigned long long)total_inputs);
	fprintf(stderr, "stat::bpf_packets: %llu\n", (unsigned long long)total_pkts);
	fprintf(stderr, "stat::bpf_verdict_counter_pairs: %d\n", pairs + eg);
	fprintf(stderr, "stat::bpf_instance_verdict_counter_pairs: %d\n", hook_pairs);
	fprintf(stderr, "stat::bpf_counters_reached: %d of %d\n", reached, CB_STAT_MAX);
	fprintf(stderr, "stat::bpf_counters_never:");
	for (c = 0; c < CB_STAT_MAX; c++)
		if (!cnt[c])
			fprintf(stderr, " %s", stat_names[c]);
	fprintf(stderr, "\n");
	for (v = 0; v < 2; v++) {
		int nf = 0;

		for (c = 0; c < CB_STAT_MAX; c++)
			nf += seen_fam[v][c];
		fprintf(stderr, "stat::bpf_counters_reached_by_ipv%d: %d; never:", v ? 6 : 4, nf);
		for (c = 0; c < CB_STAT_MAX; c++)
			if (!seen_fam[v][c] && stat_class(c) != VC_EGRESS)
				fprintf(stderr, " %s", stat_names[c]);
		fprintf(stderr, "\n");
	}
	for (c = 0; c < OBS_MAX; c++)
		fprintf(stderr, "stat::bpf_observed_%s: %llu\n", obs_names[c],
			(unsigned long long)obs[c]);
}

static void teardown(void)
{
	int i;

	print_totals();
	for (i = 0; i < NINST; i++)
		inst_close(&insts[i]);
	for (i = 0; i < 2; i++) {
		close(lo_est[i][0]);
		close(lo_est[i][1]);
		close(lo_listen[i]);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seeds = getenv("CB_FUZZ_BPF_WRITE_SEEDS");

	(void)argc;
	(void)argv;
	if (seeds) {
		write_seeds(seeds);
		fprintf(stderr, "fuzz_bpf: seeds written to %s\n", seeds);
		exit(0);
	}
	trace = getenv("CB_FUZZ_BPF_TRACE") != NULL;
	mapped6 = getenv("CB_FUZZ_BPF_NO_V4MAPPED") == NULL;
	if (geteuid() != 0) {
		fprintf(stderr, "fuzz_bpf: needs root to load BPF programs; inputs are not run\n");
		return 0;
	}
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0 || ncpus > MAX_CPUS) {
		fprintf(stderr, "fuzz_bpf: %d CPUs\n", ncpus);
		exit(1);
	}
	libbpf_set_print(quiet_print);
	ksock_setup();
	inst_open(&insts[0], "xdp", 0, 0, 0);
	inst_open(&insts[1], "tc", 1, 0, 0);
	inst_open(&insts[2], "xdp-small", 0, 16384, 8);
	inst_open(&insts[3], "tc-small", 1, 16384, 8);
	enabled = 1;
	atexit(teardown);
	return 0;
}
