#!/usr/bin/env bash
# Integration tests: real clients against connbroker in network namespaces
# (tests/net/topology.sh).  Nothing listens on the service address anywhere.
# Usage: run.sh [TEST...]   Prints "N passed, N failed, N skipped" last.
# no pipefail: checks like "cmd | grep -q x || die" must not fail when grep
# exits early and cmd gets SIGPIPE
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CB="$ROOT/build/connbroker"
# shellcheck source=topology.sh
source "$HERE/topology.sh"
set +e +o pipefail      # topology.sh sets both when sourced

WORK=$(mktemp -d /tmp/cb-net-test.XXXXXX)

BG_PIDS=()

cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; kill -CONT "$p" 2>/dev/null; done
	wait 2>/dev/null
	topo_down
	[ -n "${KEEP_WORK:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CLEANUP=()
die() { echo "FAIL: $*"; exit 1; }
# Run a command when the test ends, passed or failed (in its subshell).
at_exit() { CLEANUP+=("$1"); }
expect_eq() { [ "$1" = "$2" ] || die "$3: got '$1', want '$2'"; }
dir() { nsx "$CB_NS_DIR" "$@"; }
cli() { nsx "$CB_NS_CLIENT" "$@"; }
counter() { dir "$CB" -j status "$CB_IF_DIR" | jq -r ".[0].counters.$1"; }
SKIP=77

# The cb_flows key of client $1 port $3 -> service $2 port $4, as bpftool
# takes it: bytes in decimal, 16-byte addresses (IPv4 mapped), ports.
flow_key_bytes() {
	python3 -c "import ipaddress as i, struct, sys
def a(s):
    x = i.ip_address(s)
    return x.packed if x.version == 6 else i.IPv6Address('::ffff:' + s).packed
print(' '.join('%d' % b for b in a(sys.argv[1]) + a(sys.argv[2]) + struct.pack('!HH', int(sys.argv[3]), int(sys.argv[4]))))" "$@"
}

# The metrics endpoint of namespace $1 (the controller's default address),
# without the interface="..." label every sample carries: the tests match
# lines as they were before it (tests_metrics.sh checks the label itself).
metrics_get() {
	nsx "$1" curl -s -m 3 http://127.0.0.1:9464/metrics |
		sed -E 's/\{interface="[^"]*",/{/; s/\{interface="[^"]*"\}//'
}

# Start `connbroker -j events` in the background, writing to $1.
events_start() {
	# nsenter execs the command, so $! is the process itself (a shell
	# function in the background would leave an orphan when killed)
	nsenter --net=/run/netns/"$CB_NS_DIR" "$CB" -j events "$CB_IF_DIR" > "$1" &
	EV_PID=$!
	BG_PIDS+=("$EV_PID")
	sleep 0.3
}
events_stop() { sleep 0.3; kill "$EV_PID" 2>/dev/null; wait "$EV_PID" 2>/dev/null; }

# tcpdump in namespace $1 on interface $2 into $3 (filter $4), in the
# background; prints nothing, sets LAST_CAP.  --immediate-mode: without it
# libpcap hands packets over in blocks and the last ones (an RST, say) are
# lost when tcpdump is stopped.
capture_in() {
	nsenter --net=/run/netns/"$1" tcpdump --immediate-mode -i "$2" -U -w "$3" "$4" >/dev/null 2>&1 &
	LAST_CAP=$!
	BG_PIDS+=("$LAST_CAP")
	sleep 0.5
}
# Capture on the client (filter $2, default: TCP to or from the VIP) into $1.
capture_start() { capture_in "$CB_NS_CLIENT" "$CB_IF_CLIENT" "$1" "${2:-tcp and host $CB_VIP}"; CAP_PID=$LAST_CAP; }
capture_stop() { sleep 0.3; kill "$CAP_PID" 2>/dev/null; wait "$CAP_PID" 2>/dev/null; }
tshark_count() { tshark -r "$1" -Y "$2" 2>/dev/null | wc -l; }

# In capture $1, the service's segments (display filter $2) of every
# handed-off connection: the backend's first TSval is not below the last
# the director sent (PAWS at the client); at least $3 such connections.
tsvals_continue() {
	tshark -r "$1" -Y "$2 && tcp.options.timestamp.tsval" -T fields \
		-e tcp.stream -e eth.src -e tcp.options.timestamp.tsval 2>/dev/null | python3 -c "
import sys
seen = {}
for line in sys.stdin:
    s, mac, v = line.split()
    seen.setdefault(s, []).append((mac, int(v)))
checked = 0
for s, pkts in seen.items():
    director = pkts[0][0]                   # the SYN-ACK comes from the director
    dv = [v for m, v in pkts if m == director]
    bv = [v for m, v in pkts if m != director]
    if not bv:
        continue
    checked += 1
    if (min(bv) - max(dv)) % (1 << 32) > (1 << 31):
        sys.exit('stream %s: the backend started at TSval %d, below the director\'s %d' % (s, min(bv), max(dv)))
print('%d handed-off streams: TSvals continue across the hand-off' % checked)
sys.exit(0 if checked >= $3 else 'too few handed-off streams: %d' % checked)"
}

# RSTs in capture $1, but for those on a connection whose two FINs were
# both seen already: a closed socket answering a late duplicate (a peer's
# second ACK of a FIN reaching a client past LAST_ACK) is the kernel's
# normal answer, not a connection reset.
rst_count() {
	tshark -r "$1" -Y tcp -T fields -e tcp.stream -e ip.src -e ipv6.src -e tcp.flags.fin \
		-e tcp.flags.reset 2>/dev/null | awk -F'\t' '
		{ src = $2 $3; fin = ($4 == "1" || $4 == "True"); rst = ($5 == "1" || $5 == "True") }
		rst && !(nfin[$1] >= 2) { n++ }
		fin { k = $1 "/" src; if (!(k in seen)) { seen[k] = 1; nfin[$1]++ } }
		END { print n + 0 }'
}

# NAME N: how many of $WORK/NAME-1.out .. NAME-N.out (curl outputs of
# /req/1 .. /req/N) hold their own request's answer, each waited for 10 s
answered_requests() {
	local name=$1 n=$2 i ok=0
	for i in $(seq 1 "$n"); do
		for _ in $(seq 1 100); do [ -s "$WORK/$name-$i.out" ] && break; sleep 0.1; done
		grep -q "path=/req/$i " "$WORK/$name-$i.out" && ok=$((ok + 1))
	done
	echo "$ok"
}

# Start the controller in the director with config $1 and app socket $2,
# logging to $3; sets CTL.  nsenter execs it, so $! is the controller.
ctl_start() {
	nsenter --net=/run/netns/"$CB_NS_DIR" "$CB" run --config "$1" --socket "$2" > "$3" 2>&1 &
	CTL=$!
	BG_PIDS+=("$CTL")
	sleep 0.5
}

# ctl_start with the crash point $1 armed (CONNBROKER_FAULT): config $2,
# socket $3, log $4; sets CTL.
ctl_start_crashing() {
	nsenter --net=/run/netns/"$CB_NS_DIR" env CONNBROKER_FAULT="$1" \
		"$CB" run --config "$2" --socket "$3" > "$4" 2>&1 &
	CTL=$!
	BG_PIDS+=("$CTL")
	sleep 0.5
}

# The controller started by ctl_start_crashing died at crash point $1 (log $2).
expect_crashed_at() {
	local rc
	wait "$CTL"; rc=$?
	cat "$2"
	expect_eq "$rc" 137 "controller killed at the crash point (SIGKILL)"
	grep -q "crash point $1 reached" "$2" || die "not killed at $1"
}

# ---- tests ----------------------------------------------------------------

# One mode end to end: python client (multi-segment request) and curl, with
# nothing listening; the client sees ESTABLISHED and all bytes acked; the
# events show the bytes exactly; the capture shows no RST from the VIP and no
# client retransmission.
handshake_in_mode() {
	local mode=$1 ev=$WORK/ev-$1.jsonl pcap=$WORK/cap-$1.pcap out
	dir ss -Hltn | grep -q ":80 " && die "something listens on :80 in the director"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --mode "$mode" || die "attach $mode"
	events_start "$ev"
	capture_start "$pcap"

	out=$(cli python3 "$HERE/client.py" "$CB_VIP" 80 5000 4) || die "python client"
	echo "client: ${out:0:120}"
	expect_eq "$(jq -r .state <<<"$out")" 1 "client TCP state (1 = ESTABLISHED)"
	expect_eq "$(jq -r .bytes_acked <<<"$out")" 5001 "bytes acknowledged to the client"

	cli curl -s -m 1 -o /dev/null "http://$CB_VIP/hello-curl" --local-port 20000
	expect_eq "$?" 28 "curl waits for a response (timeout, not refused or reset)"
	capture_stop
	events_stop

	python3 "$HERE/check_events.py" "$ev" "$out" || die "python client bytes"
	python3 "$HERE/check_events.py" "$ev" --prefix 20000 \
		"$(printf 'GET /hello-curl HTTP/1.1\r\nHost: %s\r\n' "$CB_VIP" | xxd -p | tr -d '\n')" ||
		die "curl bytes"
	# The only RST from the VIP may be the fail-closed answer to curl's FIN
	# when it gives up (a half-closed unbound flow cannot be served yet).
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1 && ip.src==$CB_VIP && tcp.dstport!=20000")" 0 \
		"RSTs from the VIP"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.fin==1 && ip.src==$CB_IP_CLIENT && tcp.srcport==20000")" 1 \
		"curl's FIN"
	expect_eq "$(tshark_count "$pcap" "tcp.analysis.retransmission && ip.src==$CB_IP_CLIENT")" 0 \
		"client retransmissions"
	[ "$(counter syn_cookie_sent)" -ge 2 ] || die "syn_cookie_sent"
	[ "$(counter ack_cookie_ok)" -ge 2 ] || die "ack_cookie_ok"
	expect_eq "$(counter ack_cookie_bad)" 0 "bad cookies"
	dir "$CB" detach "$CB_IF_DIR" || die "detach"
	[ -e "$(topo_pins "$CB_NS_DIR" "$CB_IF_DIR")" ] && die "pins left after detach"
	dir ip link show "$CB_IF_DIR" | grep -q 'prog/xdp' && die "XDP left after detach"
	return 0
}
test_handshake_native() { handshake_in_mode native; }
test_handshake_skb() { handshake_in_mode skb; }
test_handshake_tc() { handshake_in_mode tc; }


# Clients that turn TCP options off still get a working connection, and the
# flow records what was negotiated (wscale/SACK survive without timestamps).
test_client_options_off() {
	local out flows
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	# tcpi_options bits: 1 timestamps, 2 SACK, 4 window scaling; the option
	# switched off must be off on the connection, the two others still on
	local bit
	for knob in tcp_timestamps:1 tcp_sack:2 tcp_window_scaling:4; do
		bit=${knob#*:}; knob=${knob%:*}
		cli sysctl -qw "net.ipv4.$knob=0"
		out=$(cli python3 "$HERE/client.py" "$CB_VIP" 80 100 1 \
			"GET /opts HTTP/1.1\r\n\r\n") || die "client with $knob=0"
		cli sysctl -qw "net.ipv4.$knob=1"
		expect_eq "$(jq -r .bytes_acked <<<"$out")" 101 "$knob=0: bytes acked"
		expect_eq "$(jq -r ".options" <<<"$out")" "$((7 & ~bit))" "$knob=0: options negotiated"
	done
	# a flow that stays open, with timestamps off: SACK and wscale kept
	cli sysctl -qw net.ipv4.tcp_timestamps=0
	nsenter --net=/run/netns/"$CB_NS_CLIENT" python3 -c "
import socket,time
s=socket.create_connection(('$CB_VIP',80)); s.sendall(b'x'); time.sleep(1.5)" &
	local holder=$!
	BG_PIDS+=("$holder")
	sleep 0.7
	flows=$(dir "$CB" -j flows "$CB_IF_DIR")
	cli sysctl -qw net.ipv4.tcp_timestamps=1
	echo "flows: $flows"
	expect_eq "$(jq -r '.[0].timestamps' <<<"$flows")" false "timestamps"
	expect_eq "$(jq -r '.[0].sack' <<<"$flows")" true "sack without timestamps"
	[ "$(jq -r '.[0].snd_wscale' <<<"$flows")" -ge 0 ] || die "client wscale lost without timestamps"
	expect_eq "$(jq -r '.[0].mss' <<<"$flows")" 1460 "mss"
	expect_eq "$(jq -r '.[0].bytes_in' <<<"$flows")" 1 "bytes_in"
	wait "$holder"
	dir "$CB" detach "$CB_IF_DIR"
}

# The kernel never resets a held flow: a fragmented segment of an UNBOUND flow
# slips past the program (fragments are passed), the director's kernel
# reassembles it, finds no socket and answers with an RST, which the TC egress
# guard drops.  The client sees no RST and its connection stays usable.
test_egress_guard_blocks_kernel_rst() {
	local pcap=$WORK/guard.pcap flows cport seq ack out
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	capture_start "$pcap"
	nsenter --net=/run/netns/"$CB_NS_CLIENT" python3 -c "
import socket,time
s=socket.create_connection(('$CB_VIP',80)); s.sendall(b'first'); time.sleep(2)
s.sendall(b'second'); time.sleep(0.5)
import struct; print('bytes_acked', struct.unpack_from('Q', s.getsockopt(6, 11, 256), 120)[0])
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))  # close with RST, not FIN" \
		> "$WORK/guard-client.txt" 2>&1 &
	local client_pid=$!
	BG_PIDS+=("$client_pid")
	sleep 0.7
	flows=$(dir "$CB" -j flows "$CB_IF_DIR")
	cport=$(jq -r '.[0].client' <<<"$flows" | cut -d: -f2)
	seq=$(jq -r '.[0].rcv_nxt' <<<"$flows")
	ack=$(jq -r '.[0].snd_nxt' <<<"$flows")
	[ -n "$cport" ] && [ "$cport" != null ] || die "no flow: $flows"
	cli python3 "$HERE/fragment.py" "$CB_IF_CLIENT" "$CB_IP_CLIENT" "$CB_VIP" "$cport" 80 "$seq" "$ack" ||
		die "fragment sender"
	wait "$client_pid"
	capture_stop
	cat "$WORK/guard-client.txt"
	[ "$(counter egress_rst_blocked)" -ge 1 ] || die "the kernel's RST was not seen by the guard"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1 && ip.src==$CB_VIP")" 0 "RSTs reaching the client"
	grep -q "bytes_acked 12" "$WORK/guard-client.txt" || die "connection not usable after the fragment"
	dir "$CB" detach "$CB_IF_DIR"
}

# Maps are pinned with BTF: bpftool prints named fields.
test_bpftool_map_dump() {
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	nsenter --net=/run/netns/"$CB_NS_CLIENT" python3 -c "
import socket,time
s=socket.create_connection(('$CB_VIP',80)); s.sendall(b'hold'); time.sleep(1.5)" &
	local holder=$!
	BG_PIDS+=("$holder")
	sleep 0.7
	local p
	p=$(topo_pins "$CB_NS_DIR" "$CB_IF_DIR")
	bpftool map dump pinned "$p/cb_flows" | tee "$WORK/dump.txt" | head -30
	grep -q '"client_isn"' "$WORK/dump.txt" || die "cb_flows dump lacks named fields"
	grep -q '"state": 1' "$WORK/dump.txt" || die "no UNBOUND flow in the dump"
	bpftool map dump pinned "$p/cb_services" | grep -q '"port_be"' || die "cb_services dump"
	bpftool map dump pinned "$p/cb_config" | grep -q '"flow_byte_cap": 65536' || die "cb_config dump"
	wait "$holder"
	dir "$CB" detach "$CB_IF_DIR"
}

# Attach/detach are idempotent; errors are clear, non-zero, and leave nothing.
test_loader_behaviour() {
	local msg rc
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die "first attach"
	msg=$(dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --service "$CB_VIP:443" 2>&1)
	expect_eq "$?" 0 "second attach"
	grep -q "already attached" <<<"$msg" || die "second attach message: $msg"
	expect_eq "$(dir "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].services|length')" 2 "services updated"
	msg=$(dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --mode tc 2>&1); rc=$?
	expect_eq "$rc" 1 "attach in another mode"
	grep -q "already attached in mode native" <<<"$msg" || die "mode clash message: $msg"
	# someone removed our egress guard: attaching again repairs, not "already attached"
	dir tc filter del dev "$CB_IF_DIR" egress
	expect_eq "$(dir "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].attached')" false "status sees the missing guard"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die "re-attach over a half-removed attachment"
	expect_eq "$(dir "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].attached')" true "re-attached"
	dir tc filter show dev "$CB_IF_DIR" egress | grep -q cb_tc_egress || die "guard not restored"
	dir "$CB" detach "$CB_IF_DIR" || die "detach"
	msg=$(dir "$CB" detach "$CB_IF_DIR" 2>&1); rc=$?
	expect_eq "$rc" 0 "second detach"
	grep -q "not attached" <<<"$msg" || die "second detach message: $msg"

	msg=$(dir "$CB" attach nosuch0 --service "$CB_VIP:80" 2>&1); rc=$?
	expect_eq "$rc" 1 "attach to a missing interface"
	grep -q "attach nosuch0: no such interface" <<<"$msg" || die "message: $msg"
	msg=$(dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --mode offload 2>&1); rc=$?
	expect_eq "$rc" 2 "unknown mode is a usage error"
	msg=$(dir "$CB" attach "$CB_IF_DIR" --service 198.18.0.100 2>&1); rc=$?
	expect_eq "$rc" 2 "bad service"
	grep -q "expected IPv4:PORT" <<<"$msg" || die "message: $msg"
	msg=$(dir setpriv --reuid=65534 --regid=65534 --clear-groups "$CB" attach "$CB_IF_DIR" \
		--service "$CB_VIP:80" 2>&1); rc=$?
	expect_eq "$rc" 1 "attach as non-root"
	grep -q "must run as root" <<<"$msg" || die "message: $msg"
	[ -e "$(topo_pins "$CB_NS_DIR" "$CB_IF_DIR")" ] && die "failed attaches left pins"
	dir ip link show "$CB_IF_DIR" | grep -q 'prog/xdp' && die "failed attaches left XDP"
	# native XDP on a device whose driver lacks it (a bridge): a clear error, a hint
	dir ip link add cbbr0 type bridge || die "bridge device"
	dir ip link set cbbr0 up
	msg=$(dir "$CB" attach cbbr0 --service "$CB_VIP:80" --mode native 2>&1); rc=$?
	dir ip link del cbbr0
	expect_eq "$rc" 1 "native attach on a bridge"
	grep -q "attach cbbr0: XDP native: not supported by the driver; try --mode skb" <<<"$msg" ||
		die "message: $msg"
	[ -e "$(topo_pins "$CB_NS_DIR" cbbr0)" ] && die "pins left on failed native attach"
	return 0
}

# A SYN flood keeps no state: every SYN answered, the flow table stays empty.
test_syn_flood_stateless() {
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	cli python3 "$HERE/synflood.py" "$CB_IF_CLIENT" "$CB_IP_CLIENT" "$CB_VIP" 80 2000 ||
		die "flood generator"
	sleep 0.5
	# a burst may lose a few SYNs in the veth/bridge backlog before the
	# program sees them; every SYN it saw was answered, none left state
	[ "$(counter syn_cookie_sent)" -ge 1900 ] || die "SYN-ACKs sent: $(counter syn_cookie_sent) of 2000"
	expect_eq "$(counter syn_cookie_sent)" "$(( $(counter pkt_seen) - $(counter pass_not_ip) - $(counter pass_not_tcp) - $(counter drop_rst_no_flow) ))" \
		"every SYN the program saw answered"
	expect_eq "$(dir "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].flows')" 0 "flows after a SYN flood"
	dir "$CB" detach "$CB_IF_DIR"
}

# xdp-filter (xdp-tools) at the XDP hook, connbroker at TC ingress: both work.
test_xdp_filter_beside_tc() {
	local out rc
	dir xdp-filter load -m skb "$CB_IF_DIR" || die "xdp-filter load"
	dir xdp-filter port 9999 || die "xdp-filter port rule"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --mode tc || die "attach tc beside xdp-filter"
	out=$(cli python3 "$HERE/client.py" "$CB_VIP" 80 300 2) || die "client"
	expect_eq "$(jq -r .bytes_acked <<<"$out")" 301 "bytes acked with xdp-filter attached"
	cli python3 -c "
import socket
try:
    socket.create_connection(('$CB_IP_DIR', 9999), timeout=1); print('connected')
except socket.timeout: print('filtered')
except OSError as e: print('error', e)" | tee "$WORK/filt.txt"
	grep -q filtered "$WORK/filt.txt" || die "xdp-filter did not drop port 9999"
	dir xdp-loader status "$CB_IF_DIR" | grep -q xdpfilt || die "xdp-filter not attached any more"
	dir "$CB" detach "$CB_IF_DIR" || die detach
	dir xdp-loader status "$CB_IF_DIR" | grep -q xdpfilt || die "detach removed xdp-filter"
	dir xdp-filter unload "$CB_IF_DIR"
	return 0
}

# xdp-filter and connbroker both at the XDP hook, through libxdp's dispatcher.
# libxdp builds the dispatcher from freplace (BPF_PROG_TYPE_EXT) programs; a
# kernel that refuses those makes libxdp fall back to one program per
# interface, and then connbroker must say so clearly and touch nothing.
test_xdp_filter_beside_xdp() {
	local msg rc
	dir xdp-filter load -m skb "$CB_IF_DIR" || die "xdp-filter load"
	msg=$(dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --mode skb 2>&1); rc=$?
	if [ $rc -ne 0 ]; then
		echo "$msg"
		grep -q "dispatcher" <<<"$msg" || die "unclear error: $msg"
		dir xdp-loader status "$CB_IF_DIR" | grep -q xdpfilt || die "failed attach disturbed xdp-filter"
		[ -e "$(topo_pins "$CB_NS_DIR" "$CB_IF_DIR")" ] && die "failed attach left pins"
		dir xdp-filter unload "$CB_IF_DIR"
		echo "kernel refuses freplace programs: libxdp has no dispatcher here (use --mode tc)"
		exit $SKIP
	fi
	out=$(cli python3 "$HERE/client.py" "$CB_VIP" 80 300 2) || die "client"
	expect_eq "$(jq -r .bytes_acked <<<"$out")" 301 "bytes acked beside xdp-filter"
	dir "$CB" detach "$CB_IF_DIR" || die detach
	dir xdp-loader status "$CB_IF_DIR" | grep -q xdpfilt || die "detach removed xdp-filter"
	dir xdp-filter unload "$CB_IF_DIR"
	return 0
}

# The controller (preview of issue 3): content routing to two Python apps that
# never listen, a 100 KB POST byte-exact through a materialized socket, the
# 503 answer when no app is there, no RST from the VIP, clean SIGTERM.
test_controller_end_to_end() {
	local conf=$WORK/run.conf sock=$WORK/ctl.sock pcap=$WORK/ctl.pcap out ctl web api sum
	cat > "$conf" <<CONF
[broker]
interface = $CB_IF_DIR
decide_ms = 300
[service shop]
listen = $CB_VIP:80
default = web
wait_ms = 1000
on_timeout = http503
[rule api]
service = shop
path_prefix = /api/
app = api
[rule admin]
service = shop
host = *.admin.example
app = api
[app web]
[app api]
[app locked]
uid = 4242
CONF
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	ctl_start "$conf" "$sock" "$WORK/ctl.log"; ctl=$CTL
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" web > "$WORK/web.log" 2>&1 &
	web=$!; BG_PIDS+=("$web")
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" api > "$WORK/api.log" 2>&1 &
	api=$!; BG_PIDS+=("$api")
	sleep 0.5
	dir ss -Hltn | grep -q ":80 " && die "something listens on :80"
	# SO_PEERCRED: root may not register for an app reserved to uid 4242
	out=$(dir python3 "$ROOT/examples/app.py" "$sock" locked 2>&1)
	grep -q "ERR not allowed" <<<"$out" || die "SO_PEERCRED check: $out"
	capture_start "$pcap"
	out=$(cli curl -s -m 3 "http://$CB_VIP/api/items"); echo "$out"
	grep -q "app=api method=GET path=/api/items" <<<"$out" || die "path rule"
	out=$(cli curl -s -m 3 "http://$CB_VIP/index.html"); echo "$out"
	grep -q "app=web .*rule=default" <<<"$out" || die "default app"
	out=$(cli curl -s -m 3 -H "Host: ops.admin.example" "http://$CB_VIP/index.html"); echo "$out"
	grep -q "app=api .*rule=admin" <<<"$out" || die "Host rule"
	head -c 100000 /dev/urandom > "$WORK/post.bin"
	sum=$(sha256sum "$WORK/post.bin" | cut -d' ' -f1)
	out=$(cli curl -s -m 5 --data-binary @"$WORK/post.bin" "http://$CB_VIP/api/upload"); echo "$out"
	grep -q "body=100000 sha256=$sum" <<<"$out" || die "100 KB POST not byte-exact"
	# the Prometheus endpoint (loopback of the director), linted by promtool
	metrics_get "$CB_NS_DIR" > "$WORK/metrics.txt" || die "metrics scrape"
	promtool check metrics < "$WORK/metrics.txt" || die "promtool check metrics"
	grep -q '^connbroker_decisions_total{service="shop",rule="api"} 2$' "$WORK/metrics.txt" ||
		die "decision counter: $(grep decisions "$WORK/metrics.txt")"
	grep -q '^connbroker_handoff_seconds_count 4$' "$WORK/metrics.txt" || die "handoff histogram"
	grep -q '^connbroker_materializations_total{result="ok"} 4$' "$WORK/metrics.txt" || die "materializations"
	grep -q '^connbroker_app_instances{app="api"} 1$' "$WORK/metrics.txt" || die "app gauge"
	grep -E '^connbroker_datapath_total\{event="syn_cookie_sent"\} [4-9]$' "$WORK/metrics.txt" >/dev/null ||
		die "datapath counters"
	dir curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9464/nope | grep -q 404 || die "404"
	# the hand-off time and its split where the controller read the record:
	# each part no longer than the whole, sample by sample
	sleep 1.2       # the status file is written once a second
	out=$(dir "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].controller.local_handoff_us |
		"\(.samples) \(.p50 >= .ring.p50 and .p50 >= .controller.p50 and .ring.p50 > 0)"')
	expect_eq "$out" "4 true" "local_handoff_us and its split in status"
	dir "$CB" status "$CB_IF_DIR" | grep -q "of which the hook to its record read here: p50" ||
		die "the split in the text status: $(dir "$CB" status "$CB_IF_DIR")"
	kill "$api"; wait "$api" 2>/dev/null
	out=$(cli curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$CB_VIP/api/gone")
	expect_eq "$out" 503 "no app within wait_ms"
	capture_stop
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1 && ip.src==$CB_VIP")" 0 "RSTs from the VIP"
	expect_eq "$(tshark_count "$pcap" "tcp.analysis.retransmission && ip.src==$CB_VIP")" 0 \
		"retransmissions by the director"
	kill -TERM "$ctl"; wait "$ctl"; expect_eq "$?" 0 "controller exit status on SIGTERM"
	grep -q "stopping: 4 materialized, 0 failed, 1 timed out" "$WORK/ctl.log" || { cat "$WORK/ctl.log"; die "controller summary"; }
	kill "$web"
	dir "$CB" detach "$CB_IF_DIR"
}

# Invariant 4: kill -9 the controller while flows wait for an app (their
# bytes already taken from the ring), start it again, then the app: every
# request is answered, byte-exact, with no RST.
test_controller_sigkill_restart() {
	local conf=$WORK/rs.conf sock=$WORK/rs.sock pcap=$WORK/rs.pcap ctl web i ok=0
	printf '[broker]\ninterface = %s\ndecide_ms = 200\n[service s]\nlisten = %s:80\ndefault = web\nwait_ms = 20000\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	ctl_start "$conf" "$sock" "$WORK/rs1.log"; ctl=$CTL
	capture_start "$pcap"
	for i in $(seq 1 20); do
		cli curl -s -m 15 "http://$CB_VIP/req/$i" -o "$WORK/rs-$i.out" &
		BG_PIDS+=($!)
	done
	sleep 1.5                       # all requests consumed into the stash, no app yet
	kill -KILL "$ctl"; wait "$ctl" 2>/dev/null
	ctl_start "$conf" "$sock" "$WORK/rs2.log"; ctl=$CTL
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" web > "$WORK/rsweb.log" 2>&1 &
	web=$!; BG_PIDS+=("$web")
	ok=$(answered_requests rs 20)
	capture_stop
	cat "$WORK/rs2.log"
	expect_eq "$ok" 20 "requests answered after kill -9 and restart"
	grep -q "recovered 20 flows from the stash" "$WORK/rs2.log" || die "flows not recovered from the stash"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1 && ip.src==$CB_VIP")" 0 "RSTs from the VIP"
	kill "$web" "$ctl"; wait "$ctl"
	dir "$CB" detach "$CB_IF_DIR"
}

# Load: wrk with keep-alive (200 connections) and with Connection: close (a
# new materialized socket per request, tuples reused while the old socket is
# in TIME_WAIT), against two instances of the C app (libconnbroker).
test_controller_wrk() {
	local conf=$WORK/wrk.conf sock=$WORK/wrk.sock ctl out m batches flows
	printf '[broker]\ninterface = %s\nmetrics = 127.0.0.1:9464\n[service s]\nlisten = %s:80\ndefault = web\nqueue = 1024\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	ctl_start "$conf" "$sock" "$WORK/wrk-ctl.log"; ctl=$CTL
	for _ in 1 2; do
		nsenter --net=/run/netns/"$CB_NS_DIR" "$ROOT/build/http_app" --app web --socket "$sock" 2>/dev/null &
		BG_PIDS+=($!)
	done
	sleep 0.3
	out=$(cli wrk -t2 -c200 -d3 "http://$CB_VIP/keepalive" 2>&1); echo "$out"
	grep -q "Socket errors\|Non-2xx" <<<"$out" && die "errors with keep-alive"
	[ "$(awk '/requests in/ {print $1}' <<<"$out")" -gt 1000 ] || die "too few requests"
	out=$(cli wrk -t2 -c100 -d3 -H "Connection: close" "http://$CB_VIP/close" 2>&1); echo "$out"
	grep -q "Socket errors\|Non-2xx" <<<"$out" && die "errors with Connection: close"
	[ "$(awk '/requests in/ {print $1}' <<<"$out")" -gt 1000 ] || die "too few requests"
	# under that load hand-offs went in batches, not one by one (and every
	# flow of a batch was served: no errors above, none failed below)
	m=$(metrics_get "$CB_NS_DIR")
	batches=$(awk '/^connbroker_handoff_batches_total /{print $2}' <<<"$m")
	flows=$(awk '/^connbroker_handoff_batch_flows_total /{print $2}' <<<"$m")
	echo "hand-off batches: $batches for $flows flows"
	[ -n "$batches" ] && [ "$batches" -gt 0 ] && [ "$flows" -gt "$batches" ] ||
		die "no hand-off batch of more than one flow ($batches batches, $flows flows)"
	kill -TERM "$ctl"; wait "$ctl"
	cat "$WORK/wrk-ctl.log"
	grep -q " 0 failed" "$WORK/wrk-ctl.log" || die "materialization failures"
	[ "$(counter local_reused)" -gt 0 ] && echo "tuples reused over TIME_WAIT: $(counter local_reused)"
	dir "$CB" detach "$CB_IF_DIR"
}

# route = per-request: every request of one keep-alive connection goes to
# the app its own path names.  The apps answer one request, then give the
# connection back (RELEASE) with a state blob the next app receives.  One
# connection (one SYN), pipelined requests, a 200 KB POST byte-exact, no RST;
# then wrk keep-alive load alternating between two apps, zero errors.
test_keepalive_per_request() {
	local conf=$WORK/ka.conf sock=$WORK/ka.sock pcap=$WORK/ka.pcap ctl out web api m
	cat > "$conf" <<CONF
[broker]
interface = $CB_IF_DIR
decide_ms = 300
[service shop]
listen = $CB_VIP:80
default = web
route = per-request
[rule api]
service = shop
path_prefix = /api/
app = api
[app web]
[app api]
CONF
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	ctl_start "$conf" "$sock" "$WORK/ka-ctl.log"; ctl=$CTL
	dir python3 "$ROOT/examples/app.py" "$sock" web > "$WORK/ka-web.log" 2>&1 &
	web=$!; BG_PIDS+=("$web")
	dir python3 "$ROOT/examples/app.py" "$sock" api > "$WORK/ka-api.log" 2>&1 &
	api=$!; BG_PIDS+=("$api")
	sleep 0.5
	capture_start "$pcap"
	out=$(cli python3 "$HERE/keepalive_client.py" "$CB_VIP" 80 /api/one /index.html /api/two \
		/upload:200000 "/api/p1+/p2+/api/p3" /last) || { echo "$out"; cat "$WORK/ka-ctl.log"; die "keep-alive client"; }
	echo "$out"
	capture_stop
	# each answer from the app its path routes to, with the previous app's blob
	for m in "/api/one app=api .*prev=-" "/index.html app=web .*prev=served-by=api" \
		 "/api/two app=api .*prev=served-by=web" "/upload app=web method=POST path=/upload body=200000" \
		 "/api/p1 app=api .*prev=served-by=web" "/p2 app=web .*prev=served-by=api" \
		 "/api/p3 app=api .*prev=served-by=web" "/last app=web "; do
		grep -q "\"path\": \"${m%% *}\".*\"body\": \"${m#* }" <<<"$out" || die "answer for ${m%% *}"
	done
	# the POST body arrived byte-exact at the app
	grep '"/upload"' <<<"$out" | jq -e '.body | contains("sha256=")' >/dev/null || die "upload"
	[ "$(grep '"/upload"' <<<"$out" | jq -r '.sha256')" = \
	  "$(grep '"/upload"' <<<"$out" | jq -r '.body' | sed 's/.*sha256=\([0-9a-f]*\).*/\1/')" ] ||
		die "200 KB POST not byte-exact"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.syn==1 && tcp.flags.ack==0")" 1 "one connection"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1")" 0 "RSTs"
	metrics_get "$CB_NS_DIR" > "$WORK/ka-metrics.txt"
	promtool check metrics < "$WORK/ka-metrics.txt" || die "promtool"
	grep -q '^connbroker_releases_total 8$' "$WORK/ka-metrics.txt" || die "releases: $(grep releas "$WORK/ka-metrics.txt")"
	grep -q '^connbroker_released_total{result="delivered"} 7$' "$WORK/ka-metrics.txt" || die "delivered"
	grep -q '^connbroker_released_total{result="client_closed"} 1$' "$WORK/ka-metrics.txt" || die "client closed"
	grep -q '^connbroker_released_held 0$' "$WORK/ka-metrics.txt" || die "held"
	# the C app under wrk: keep-alive connections alternating between apps
	kill "$web" "$api"; wait "$web" "$api" 2>/dev/null
	for a in web web api api; do
		dir "$ROOT/build/http_app" --app "$a" --socket "$sock" 2>/dev/null &
		BG_PIDS+=($!)
	done
	cat > "$WORK/alternate.lua" <<'LUA'
local n = 0
request = function()
	n = n + 1
	return wrk.format("GET", (n % 2 == 0) and "/api/x" or "/index.html")
end
LUA
	sleep 0.3
	out=$(cli wrk -t2 -c20 -d3 -s "$WORK/alternate.lua" "http://$CB_VIP/" 2>&1); echo "$out"
	grep -q "Socket errors\|Non-2xx" <<<"$out" && die "errors under keep-alive per-request load"
	[ "$(awk '/requests in/ {print $1}' <<<"$out")" -gt 500 ] || die "too few requests"
	metrics_get "$CB_NS_DIR" > "$WORK/ka-metrics.txt"
	grep 'decisions_total\|released' "$WORK/ka-metrics.txt"
	[ "$(awk '/^connbroker_decisions_total\{service="shop",rule="api"\}/ {print $2}' "$WORK/ka-metrics.txt")" -gt 200 ] ||
		die "api requests routed"
	[ "$(awk '/^connbroker_decisions_total\{service="shop",rule="default"\}/ {print $2}' "$WORK/ka-metrics.txt")" -gt 200 ] ||
		die "web requests routed"
	grep -q '^connbroker_released_total{result="failed"} 0$' "$WORK/ka-metrics.txt" || die "failed releases"
	kill -TERM "$ctl"; wait "$ctl"
	dir "$CB" detach "$CB_IF_DIR"
}

# TLS by SNI: the controller reads the ClientHello (never terminates TLS) and
# routes by server_name to apps that terminate TLS themselves.
test_controller_tls_sni() {
	local conf=$WORK/tls.conf sock=$WORK/tls.sock ctl out
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
		-subj /CN=shop.example -addext "subjectAltName=DNS:shop.example,DNS:api.example" \
		-keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null || die "openssl req"
	printf '[broker]\ninterface = %s\nmetrics = off\n[service tls]\nlisten = %s:443\ndefault = web\n[rule api]\nservice = tls\nsni = api.example\napp = api\n[app web]\n[app api]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:443" || die attach
	ctl_start "$conf" "$sock" "$WORK/tls-ctl.log"; ctl=$CTL
	for a in web api; do
		nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" "$a" \
			"$WORK/cert.pem" "$WORK/key.pem" > "$WORK/tls-$a.log" 2>&1 &
		BG_PIDS+=($!)
	done
	sleep 0.5
	out=$(cli curl -s -m 5 --cacert "$WORK/cert.pem" --resolve "api.example:443:$CB_VIP" https://api.example/v1) ||
		{ cat "$WORK"/tls-*.log; die "curl https api.example"; }
	echo "$out"
	grep -q "app=api .*rule=api" <<<"$out" || die "SNI rule"
	out=$(cli curl -s -m 5 --cacert "$WORK/cert.pem" --resolve "shop.example:443:$CB_VIP" https://shop.example/) ||
		die "curl https shop.example"
	echo "$out"
	grep -q "app=web .*rule=default" <<<"$out" || die "default for another SNI"
	kill -TERM "$ctl"; wait "$ctl"
	dir "$CB" detach "$CB_IF_DIR"
}

# No app yet: a worker started on demand registers and serves the waiting
# flow; an inetd-style app gets one process per connection on stdin/stdout.
test_controller_on_demand() {
	local conf=$WORK/od.conf sock=$WORK/od.sock ctl out
	cat > "$conf" <<CONF
[broker]
interface = $CB_IF_DIR
metrics = off
[service s]
listen = $CB_VIP:80
default = lazy
wait_ms = 5000
[rule inetd]
service = s
path_prefix = /inetd
app = once
[app lazy]
command = exec python3 $ROOT/examples/app.py "\$CONNBROKER_SOCKET" "\$CONNBROKER_APP"
[app once]
inetd = yes
command = read line; printf 'HTTP/1.1 200 OK\\r\\nContent-Length: 15\\r\\nConnection: close\\r\\n\\r\\ninetd for %s\\n' "\$CONNBROKER_APP"
CONF
	"$CB" check-config "$conf" >/dev/null || die "config"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	ctl_start "$conf" "$sock" "$WORK/od.log"; ctl=$CTL
	out=$(cli curl -s -m 8 "http://$CB_VIP/first"); echo "$out"
	grep -q "app=lazy method=GET path=/first" <<<"$out" || { cat "$WORK/od.log"; die "on-demand worker"; }
	out=$(cli curl -s -m 5 "http://$CB_VIP/inetd"); echo "$out"
	grep -q "inetd for once" <<<"$out" || { cat "$WORK/od.log"; die "inetd app"; }
	kill -TERM "$ctl"; wait "$ctl"
	cat "$WORK/od.log"
	grep -q "started app lazy on demand" "$WORK/od.log" || die "no on-demand start logged"
	dir "$CB" detach "$CB_IF_DIR"
}

# Fail closed: no app within wait_ms and on_timeout = rst -> the client gets
# an RST (not a hang); a second controller on the same interface is refused.
test_controller_fail_closed() {
	local conf=$WORK/fc.conf sock=$WORK/fc.sock pcap=$WORK/fc.pcap ctl rc msg
	printf '[broker]\ninterface = %s\nmetrics = off\n[service s]\nlisten = %s:80\ndefault = nobody\nwait_ms = 500\non_timeout = rst\n[app nobody]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	ctl_start "$conf" "$sock" "$WORK/fc.log"; ctl=$CTL
	msg=$(dir "$CB" run --config "$conf" --socket "$WORK/fc2.sock" 2>&1); rc=$?
	expect_eq "$rc" 1 "a second controller"
	grep -q "another controller is running" <<<"$msg" || die "message: $msg"
	capture_start "$pcap"
	cli curl -s -m 5 -o /dev/null "http://$CB_VIP/nobody-home"; rc=$?
	capture_stop
	[ "$rc" = 56 ] || cat "$WORK/fc.log"
	expect_eq "$rc" 56 "curl: connection reset (not a timeout)"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1 && ip.src==$CB_VIP")" 1 "one RST from the VIP"
	kill -TERM "$ctl"; wait "$ctl"
	grep -q "1 timed out" "$WORK/fc.log" || { cat "$WORK/fc.log"; die "timeout not counted"; }
	dir "$CB" detach "$CB_IF_DIR"
}

# Materialization itself fails (the controller lacks CAP_NET_ADMIN, so
# TCP_REPAIR is refused): no socket exists to reset the client with, so the
# controller sends the RST itself (raw socket) - the client must not hang.
test_controller_repair_failure_resets() {
	local conf=$WORK/nr.conf sock=$WORK/nr.sock rc
	printf '[broker]\ninterface = %s\nmetrics = off\n[service s]\nlisten = %s:80\ndefault = web\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	nsenter --net=/run/netns/"$CB_NS_DIR" setpriv --inh-caps=-net_admin --bounding-set=-net_admin \
		"$CB" run --config "$conf" --socket "$sock" > "$WORK/nr.log" 2>&1 &
	BG_PIDS+=($!)
	sleep 0.5
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" web >/dev/null 2>&1 &
	BG_PIDS+=($!)
	sleep 0.5
	cli curl -s -m 5 -o /dev/null "http://$CB_VIP/x"; rc=$?
	cat "$WORK/nr.log"
	expect_eq "$rc" 56 "curl: connection reset by the controller's RST"
	grep -q "TCP_REPAIR repair on: Operation not permitted" "$WORK/nr.log" || die "repair did not fail as staged"
	expect_eq "$(dir "$CB" -j flows "$CB_IF_DIR" | jq length)" 0 "flow entry removed"
	dir "$CB" detach "$CB_IF_DIR"
}

# One client address may hold at most 256 pending flows (a quarter of the
# table): the 257th and later idle connections from it are reset, not left
# hanging, and counted.
test_controller_per_source_bound() {
	local conf=$WORK/ps.conf sock=$WORK/ps.sock ctl out
	printf '[broker]\ninterface = %s\n[service s]\nlisten = %s:80\ndefault = web\nwait_ms = 30000\nqueue = 1000\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	ctl_start "$conf" "$sock" "$WORK/ps.log"; ctl=$CTL
	out=$(cli python3 -c "
import socket, time
socks = []
reset = 0
for i in range(260):
    try:
        s = socket.create_connection(('$CB_VIP', 80), timeout=3)
        s.sendall(b'GET /%d HTTP/1.1\r\nHost: x\r\n\r\n' % i)
        socks.append(s)
    except ConnectionResetError:
        reset += 1      # the RST may overtake connect() returning
    time.sleep(0.002)
time.sleep(1)
import select
readable, _, _ = select.select(socks, [], [], 1.0)    # reset sockets are readable
for s in readable:
    try:
        s.recv(1)
    except ConnectionResetError:
        reset += 1
print(reset)")
	echo "connections reset: $out"
	expect_eq "$out" 4 "connections beyond the per-source bound"
	metrics_get "$CB_NS_DIR" | grep -q '^connbroker_source_full_total 4$' || die "source_full metric"
	kill -TERM "$ctl"; wait "$ctl"
	dir "$CB" detach "$CB_IF_DIR"
}

# Killed after building a socket in repair mode (crash point after-build: the
# flow is still FROZEN, the socket inert), the controller loses nothing: the
# dead socket vanishes silently, and the restarted controller resumes the
# frozen flow and hands it over; the client sees its answer and no RST.
test_controller_restart_after_build() {
	local conf=$WORK/rb.conf sock=$WORK/rb.sock pcap=$WORK/rb.pcap ctl rc curl
	printf '[broker]\ninterface = %s\ndecide_ms = 200\nmetrics = off\n[service s]\nlisten = %s:80\ndefault = web\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	ctl_start_crashing after-build "$conf" "$sock" "$WORK/rb1.log"
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" web > "$WORK/rb-web1.log" 2>&1 &
	BG_PIDS+=($!)
	sleep 0.3
	capture_start "$pcap"
	cli curl -s -m 10 "http://$CB_VIP/after-build" -o "$WORK/rb.out" &
	curl=$!; BG_PIDS+=("$curl")
	expect_crashed_at after-build "$WORK/rb1.log"
	expect_eq "$(dir "$CB" -j flows "$CB_IF_DIR" | jq -r '.[0].state')" frozen "the flow waits, frozen"
	ctl_start "$conf" "$sock" "$WORK/rb2.log"; ctl=$CTL
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" web > "$WORK/rb-web2.log" 2>&1 &
	BG_PIDS+=($!)
	wait "$curl"; rc=$?
	capture_stop
	cat "$WORK/rb2.log"; cat "$WORK/rb.out"
	expect_eq "$rc" 0 "curl exit status"
	grep -q "app=web method=GET path=/after-build" "$WORK/rb.out" || die "no answer after the restart"
	grep -q "recovered 1 flows from the stash" "$WORK/rb2.log" || die "the frozen flow was not recovered"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1")" 0 "RSTs seen by the client"
	kill -TERM "$ctl"; wait "$ctl"
	dir "$CB" detach "$CB_IF_DIR"
}

# Killed after steering a flow to its socket but before the socket left
# repair mode (crash point after-steer): that socket dies silently with the
# controller, the flow is LOCAL, and the client waits in silence.  The
# restarted controller finds no socket on the tuple and resets the client:
# fail closed, not a hang.
test_controller_restart_after_steer() {
	local conf=$WORK/rs2.conf sock=$WORK/rs2.sock ctl rc curl t0 t1
	printf '[broker]\ninterface = %s\ndecide_ms = 200\nmetrics = off\n[service s]\nlisten = %s:80\ndefault = web\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	ctl_start_crashing after-steer "$conf" "$sock" "$WORK/st1.log"
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" web > "$WORK/st-web.log" 2>&1 &
	BG_PIDS+=($!)
	sleep 0.3
	t0=$(date +%s%N)
	cli curl -s -m 10 -o /dev/null "http://$CB_VIP/after-steer" &
	curl=$!; BG_PIDS+=("$curl")
	expect_crashed_at after-steer "$WORK/st1.log"
	expect_eq "$(dir "$CB" -j flows "$CB_IF_DIR" | jq -r '.[0].state')" local "the flow is steered to a dead socket"
	ctl_start "$conf" "$sock" "$WORK/st2.log"; ctl=$CTL
	wait "$curl"; rc=$?
	t1=$(date +%s%N)
	cat "$WORK/st2.log"
	expect_eq "$rc" 56 "curl: reset (not a hang)"
	[ $(( (t1 - t0) / 1000000 )) -lt 7000 ] || die "reset only after $(( (t1 - t0) / 1000000 )) ms"
	grep -q "its socket died with the last controller; resetting the client" "$WORK/st2.log" ||
		die "not reset by the restarted controller"
	kill -TERM "$ctl"; wait "$ctl"
	dir "$CB" detach "$CB_IF_DIR"
}

# A controller killed right after it handed a socket to an app (the crash
# point after-send: deterministic, no race) and started again must leave that
# connection to its app: the stash still names the flow, the flow table says
# LOCAL, and the app answers the client later with no RST from anyone.
test_controller_restart_after_handoff() {
	local conf=$WORK/ra.conf sock=$WORK/ra.sock pcap=$WORK/ra.pcap ctl app rc out
	printf '[broker]\ninterface = %s\ndecide_ms = 200\n[service s]\nlisten = %s:80\ndefault = web\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	ctl_start_crashing after-send "$conf" "$sock" "$WORK/ra1.log"
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$HERE/hold_app.py" "$sock" web 2 > "$WORK/ra-app.log" 2>&1 &
	app=$!; BG_PIDS+=("$app")
	sleep 0.3
	capture_start "$pcap"
	cli curl -s -m 10 "http://$CB_VIP/held" -o "$WORK/ra.out" &
	local curl=$!; BG_PIDS+=("$curl")
	expect_crashed_at after-send "$WORK/ra1.log"
	ctl_start "$conf" "$sock" "$WORK/ra2.log"; ctl=$CTL
	wait "$curl"; rc=$?
	capture_stop
	cat "$WORK/ra2.log"; cat "$WORK/ra.out"
	expect_eq "$rc" 0 "curl exit status"
	grep -q "held app=web after=2" "$WORK/ra.out" || die "the app's answer did not arrive"
	grep -q "1 flows were handed over before the restart; left to their apps" "$WORK/ra2.log" ||
		die "the restarted controller did not recognise the handed-over flow"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1")" 0 "RSTs seen by the client"
	out=$(metrics_get "$CB_NS_DIR" | grep '^connbroker_recovered_local_total')
	expect_eq "$out" "connbroker_recovered_local_total 1" "recovered_local metric"
	kill -TERM "$ctl"; wait "$ctl"
	dir "$CB" detach "$CB_IF_DIR"
}

# SIGHUP reloads the configuration: new rules route new flows, a flow already
# waiting for its app keeps that decision, an app removed from the file is
# disconnected, and a broken file is refused with its line number while the
# controller keeps running on the old one.
test_controller_reload() {
	local conf=$WORK/rl.conf sock=$WORK/rl.sock ctl out waiting
	# $1: the api rule's prefix, $2: the app of rule `later`, $3: more sections
	write_conf() {
		printf '[broker]\ninterface = %s\ndecide_ms = 200\n[service s]\nlisten = %s:80\ndefault = web\nwait_ms = 8000\n[rule api]\nservice = s\npath_prefix = %s\napp = api\n[rule later]\nservice = s\npath_prefix = /later\napp = %s\n[app web]\n[app api]\n[app later]\n%s' \
			"$CB_IF_DIR" "$CB_VIP" "$1" "$2" "$3" > "$conf"
	}
	write_conf /api/ later '[app old]\n'
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	ctl_start "$conf" "$sock" "$WORK/rl.log"; ctl=$CTL
	local old_app
	for a in web api old; do
		nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" "$a" > "$WORK/rl-$a.log" 2>&1 &
		BG_PIDS+=($!)
		[ "$a" = old ] && old_app=$!
	done
	sleep 0.5
	out=$(cli curl -s -m 3 "http://$CB_VIP/api/x"); echo "$out"
	grep -q "app=api " <<<"$out" || die "before reload: /api/ to api"
	# a flow decided for app `later`, which has no instance yet
	cli curl -s -m 10 "http://$CB_VIP/later/y" -o "$WORK/rl-later.out" &
	waiting=$!; BG_PIDS+=("$waiting")
	sleep 0.5
	# rule `later` now names app web, which has an instance: a flow routed
	# afresh would go there at once; the waiting one must keep app `later`
	write_conf /v2/ web ''
	kill -HUP "$ctl"; sleep 0.5
	kill -0 "$ctl" || die "controller died on SIGHUP"
	grep -q "reload: .*rule api: changed: path_prefix '/api/' -> '/v2/'" "$WORK/rl.log" || { cat "$WORK/rl.log"; die "change not logged"; }
	grep -q "reload: .*app old: removed" "$WORK/rl.log" || die "removed app not logged"
	grep -q "reload: .*: 3 changes; 1 services, 2 rules, 3 apps" "$WORK/rl.log" || die "reload summary"
	timeout 2 tail --pid="$old_app" -f /dev/null || die "the removed app's instance was not disconnected"
	out=$(cli curl -s -m 3 "http://$CB_VIP/api/x"); echo "$out"
	grep -q "app=web .*rule=default" <<<"$out" || die "after reload: /api/ falls to the default"
	out=$(cli curl -s -m 3 "http://$CB_VIP/v2/x"); echo "$out"
	grep -q "app=api .*rule=api" <<<"$out" || die "after reload: /v2/ to api"
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" later > "$WORK/rl-later.log" 2>&1 &
	BG_PIDS+=($!)
	wait "$waiting"
	cat "$WORK/rl-later.out"
	grep -q "app=later .*rule=later" "$WORK/rl-later.out" || die "the waiting flow lost its decision"
	# a broken file: refused, named, the old configuration keeps serving
	printf '[service s]\nlisten = %s:80\n[rule r]\nservice = s\napp = ghost\nprefix = x\n' "$CB_VIP" > "$conf"
	kill -HUP "$ctl"; sleep 0.5
	kill -0 "$ctl" || die "controller died on a bad file"
	grep -q "reload: $conf:3: \[rule r\]: unknown app 'ghost'; the running configuration is kept" "$WORK/rl.log" ||
		{ cat "$WORK/rl.log"; die "bad file not reported"; }
	out=$(cli curl -s -m 3 "http://$CB_VIP/v2/x"); echo "$out"
	grep -q "app=api " <<<"$out" || die "the old configuration stopped serving"
	out=$(metrics_get "$CB_NS_DIR" | grep '^connbroker_reloads_total' | tr '\n' ' ')
	expect_eq "$out" 'connbroker_reloads_total{result="ok"} 1 connbroker_reloads_total{result="failed"} 1 ' "reload metrics"
	kill -TERM "$ctl"; wait "$ctl"
	dir "$CB" detach "$CB_IF_DIR"
}

# A controller whose attachment or interface disappears exits with a message
# (exit status 1) instead of waiting for records that will never come.
test_controller_exits_without_interface() {
	local conf=$WORK/gone.conf ctl rc
	printf '[broker]\nmetrics = off\n[service s]\nlisten = %s:80\ndefault = web\n[app web]\n' "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	nsenter --net=/run/netns/"$CB_NS_DIR" "$CB" run --config "$conf" --interface "$CB_IF_DIR" \
		--socket "$WORK/gone.sock" > "$WORK/gone1.log" 2>&1 &
	ctl=$!; BG_PIDS+=("$ctl")
	sleep 0.5
	dir "$CB" detach "$CB_IF_DIR" || die detach
	timeout 3 tail --pid="$ctl" -f /dev/null || die "controller still running 3 s after detach"
	wait "$ctl"; rc=$?
	cat "$WORK/gone1.log"
	expect_eq "$rc" 1 "exit status after detach"
	grep -q "connbroker is not attached any more" "$WORK/gone1.log" || die "message after detach"
	# the interface itself goes away
	dir ip link add cbtmp0 type veth peer name cbtmp1 || die "veth"
	at_exit 'dir ip link del cbtmp0 2>/dev/null; dir "$CB" detach cbtmp0 >/dev/null 2>&1'
	dir ip link set cbtmp0 up; dir ip link set cbtmp1 up
	dir "$CB" attach cbtmp0 --service "$CB_VIP:80" --mode skb || die "attach cbtmp0"
	nsenter --net=/run/netns/"$CB_NS_DIR" "$CB" run --config "$conf" --interface cbtmp0 \
		--socket "$WORK/gone2.sock" > "$WORK/gone2.log" 2>&1 &
	ctl=$!; BG_PIDS+=("$ctl")
	sleep 0.5
	dir ip link del cbtmp0
	timeout 3 tail --pid="$ctl" -f /dev/null || die "controller still running 3 s after the interface went"
	wait "$ctl"; rc=$?
	cat "$WORK/gone2.log"
	expect_eq "$rc" 1 "exit status after the interface went"
	grep -q "cbtmp0: the interface is gone" "$WORK/gone2.log" || die "message after the interface went"
	dir "$CB" detach cbtmp0 || die "detach of a vanished interface"
	[ -e "$(topo_pins "$CB_NS_DIR" cbtmp0)" ] && die "pins of the vanished interface left"
	return 0
}

# Two network namespaces, each with an interface named eth0, both attached
# and serving, each with its own controller on its default socket path; each
# namespace's status shows only its own; detaching one leaves the other
# serving.
test_two_namespaces_same_ifname() {
	local ns ip i conf out ino
	for i in 1 2; do
		ns=$CB_TOPO-b$i
		nsx "$ns" ip link set "${CB_TOPO}b$i" down
		nsx "$ns" ip link set "${CB_TOPO}b$i" name eth0 || die "rename in $ns"
		at_exit "nsx $ns ip link set eth0 down; nsx $ns ip link set eth0 name ${CB_TOPO}b$i; nsx $ns ip link set ${CB_TOPO}b$i up"
		nsx "$ns" ip link set eth0 up
	done
	for i in 1 2; do
		ns=$CB_TOPO-b$i; ip=198.18.0.$((i + 2))
		nsx "$ns" "$CB" attach eth0 --service "$ip:80" --mode tc || die "attach eth0 in $ns"
		at_exit "nsx $ns $CB detach eth0 >/dev/null 2>&1"
		conf=$WORK/ns$i.conf
		printf '[broker]\ninterface = eth0\nmetrics = off\n[service s]\nlisten = %s:80\ndefault = b%s\n[app b%s]\n' \
			"$ip" "$i" "$i" > "$conf"
		nsenter --net=/run/netns/"$ns" "$CB" run --config "$conf" > "$WORK/ns$i.log" 2>&1 &
		eval "CTL$i=\$!"; BG_PIDS+=($!)
	done
	sleep 0.7
	for i in 1 2; do
		ns=$CB_TOPO-b$i
		ino=$(stat -L -c %i "/run/netns/$ns")
		[ -S "/run/connbroker/network-namespaces/$ino/eth0.sock" ] || { cat "$WORK/ns$i.log"; die "no default socket for $ns"; }
		nsenter --net=/run/netns/"$ns" python3 "$ROOT/examples/app.py" \
			"/run/connbroker/network-namespaces/$ino/eth0.sock" "b$i" > "$WORK/ns$i-app.log" 2>&1 &
		BG_PIDS+=($!)
		out=$(nsx "$ns" "$CB" -j status)
		expect_eq "$(jq length <<<"$out")" 1 "interfaces listed in $ns"
		expect_eq "$(jq -r '.[0].attached' <<<"$out")" true "eth0 attached in $ns"
		jq -r '.[0].pins' <<<"$out" | grep -q "/network-namespaces/$ino/eth0$" || die "pins of $ns: $out"
	done
	sleep 0.5
	for i in 1 2; do
		out=$(cli curl -s -m 3 "http://198.18.0.$((i + 2))/hello"); echo "$out"
		grep -q "app=b$i " <<<"$out" || die "namespace $i does not serve"
	done
	nsx "$CB_NS_B1" "$CB" detach eth0 || die "detach in cb-b1"
	timeout 3 tail --pid="$CTL1" -f /dev/null || die "the controller of cb-b1 did not exit"
	out=$(nsx "$CB_NS_B1" "$CB" detach eth0 2>&1); echo "$out"
	grep -q "not attached in this network namespace" <<<"$out" || die "second detach in cb-b1: $out"
	out=$(cli curl -s -m 3 "http://198.18.0.4/still"); echo "$out"
	grep -q "app=b2 " <<<"$out" || die "detaching cb-b1 broke cb-b2"
	expect_eq "$(nsx "$CB_NS_B2" "$CB" -j status eth0 | jq -r '.[0].attached')" true "cb-b2 still attached"
	kill -TERM "$CTL2"; wait "$CTL2"
	nsx "$CB_NS_B2" "$CB" detach eth0 || die "detach in cb-b2"
	return 0
}

# Programs whose pins are gone (removed by hand) are orphans: detach alone
# does not see them, detach --force removes them, and only them.
test_detach_force_orphans() {
	local out
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	rm -rf "$(topo_pins "$CB_NS_DIR" "$CB_IF_DIR")"
	out=$(dir "$CB" detach "$CB_IF_DIR" 2>&1); echo "$out"
	grep -q "not attached in this network namespace; nothing to do (--force" <<<"$out" || die "detach message: $out"
	dir ip link show "$CB_IF_DIR" | grep -q 'prog/xdp' || die "the orphan should still be attached"
	out=$(dir "$CB" detach --force "$CB_IF_DIR" 2>&1); echo "$out"
	grep -q "removed orphaned XDP program" <<<"$out" || die "XDP orphan not removed"
	grep -q "removed orphaned tc egress filter" <<<"$out" || die "tc orphan not removed"
	dir ip link show "$CB_IF_DIR" | grep -q 'prog/xdp' && die "XDP left after --force"
	[ -n "$(dir tc filter show dev "$CB_IF_DIR" egress)" ] && die "tc filter left after --force"
	return 0
}

# Packets that tc redirects into the interface (a container network, say):
# generic XDP never sees them (the kernel skips reinjected skbs), the TC hook
# does.  A mirred redirect on the bridge delivers the client's packets to the
# director; --mode tc serves every request.
test_tc_mode_serves_redirected() {
	local conf=$WORK/rd.conf sock=$WORK/rd.sock ctl ok fail mode
	nsx "$CB_NS_NET" tc qdisc add dev "br-$CB_IF_CLIENT" clsact || die clsact
	at_exit "nsx $CB_NS_NET tc qdisc del dev br-$CB_IF_CLIENT clsact"
	# u32: this kernel has no flower or matchall classifier
	nsx "$CB_NS_NET" tc filter add dev "br-$CB_IF_CLIENT" ingress protocol ip u32 \
		match ip dst "$CB_VIP/32" match ip protocol 6 0xff match ip dport 80 0xffff \
		action mirred egress redirect dev "br-$CB_IF_DIR" || die "mirred"
	printf '[broker]\ninterface = %s\nmetrics = off\n[service s]\nlisten = %s:80\ndefault = web\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	for mode in tc skb; do
		dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --mode "$mode" > "$WORK/rd-attach-$mode.log" 2>&1 || die "attach $mode"
		ctl_start "$conf" "$sock" "$WORK/rd-$mode.log"; ctl=$CTL
		nsenter --net=/run/netns/"$CB_NS_DIR" "$ROOT/build/http_app" --app web --socket "$sock" 2>/dev/null &
		BG_PIDS+=($!)
		sleep 0.3
		ok=0 fail=0
		for i in $(seq 1 100); do
			if cli curl -s -m 2 -o /dev/null "http://$CB_VIP/r$i"; then ok=$((ok + 1)); else fail=$((fail + 1)); fi
		done
		echo "mode $mode: $ok of 100 requests answered through a tc redirect"
		kill -TERM "$ctl"; wait "$ctl"
		dir "$CB" detach "$CB_IF_DIR"
		if [ "$mode" = tc ]; then
			expect_eq "$ok" 100 "requests answered in --mode tc"
		else
			grep -q "generic XDP does not see packets that tc redirects" "$WORK/rd-attach-skb.log" ||
				die "attach --mode skb does not warn"
		fi
	done
	return 0
}

# Start the accepted (VIP:8080, a plain listener) and the materialized (VIP:80
# through connbroker) servers of tests/net/tcpinfo.py; sets CTL.  $1: more
# lines for the service's section.
tcpinfo_servers() {
	local conf=$WORK/ti.conf sock=$WORK/ti.sock
	printf '[broker]\ninterface = %s\nmetrics = off\n[service s]\nlisten = %s:80\ndefault = ti\n%s\n[app ti]\n' \
		"$CB_IF_DIR" "$CB_VIP" "${1:-}" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	ctl_start "$conf" "$sock" "$WORK/ti-ctl.log"
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$HERE/tcpinfo.py" app "$sock" ti 1200 > "$WORK/ti-app.log" 2>&1 &
	BG_PIDS+=($!)
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$HERE/tcpinfo.py" listen "$CB_VIP" 8080 1200 > "$WORK/ti-listen.log" 2>&1 &
	BG_PIDS+=($!)
	sleep 0.5
}

# A materialized socket is as good as one the kernel accepted: for the same
# client, every tcp_info field of both ends is compared after a first
# exchange; the test lists each difference and fails on any that is not
# documented (tests/net/tcpinfo.py, DOCUMENTED).  Run with and without
# timestamps, since the timestamp clock is one of the things repaired.
test_materialized_matches_accepted() {
	local ts out a b
	tcpinfo_servers
	for ts in 1 0; do
		cli sysctl -qw "net.ipv4.tcp_timestamps=$ts"
		at_exit "cli sysctl -qw net.ipv4.tcp_timestamps=1"
		a=$WORK/ti-accepted-$ts.json b=$WORK/ti-materialized-$ts.json
		dir ip tcp_metrics flush all    # no RTT cached from earlier connections
		cli python3 "$HERE/tcpinfo.py" client "$CB_VIP" 8080 > "$a" || die "accepted client"
		dir ip tcp_metrics flush all
		cli python3 "$HERE/tcpinfo.py" client "$CB_VIP" 80 > "$b" || { cat "$WORK/ti-ctl.log"; die "materialized client"; }
		echo "timestamps=$ts:"
		# two accepted connections first: what varies between them is not
		# connbroker's doing (the list of documented fields says so)
		dir ip tcp_metrics flush all
		cli python3 "$HERE/tcpinfo.py" client "$CB_VIP" 8080 > "$a.2" || die "accepted client"
		echo "accepted vs accepted, timestamps=$ts:"
		python3 "$HERE/tcpinfo.py" compare "$a" "$a.2" || die "two accepted connections differ beyond the documented fields"
		echo "accepted vs materialized, timestamps=$ts:"
		python3 "$HERE/tcpinfo.py" compare "$a" "$b" || die "undocumented tcp_info differences (timestamps=$ts)"
		# the defects this guards against, named
		expect_eq "$(jq -r .server.usec_ts "$b")" 0 "microsecond timestamps on the materialized socket"
		[ "$(jq -r .server.snd_mss "$b")" -ge $(( $(jq -r .server.snd_mss "$a") - 12 )) ] || die "snd_mss"
		expect_eq "$(jq -r .client.rcv_mss "$b")" "$(jq -r .client.rcv_mss "$a")" "segment size the client sees"
		[ "$(jq -r .server.rtt "$b")" -gt 0 ] || die "no RTT sample on the materialized socket"
	done
	cli sysctl -qw net.ipv4.tcp_timestamps=1
	return 0
}

# The first response segment is lost (nftables on the director drops it once
# per connection): the materialized socket retransmits as fast as the
# accepted one (an RTT sample from the start), not after the 1 s a socket
# without one waits.  Medians of three interleaved runs.
# The director drops the next answer segment from VIP:$1 (nftables, table
# cbloss: the caller deletes it).  The first answer is one ~1290-byte
# segment: the quota lets exactly one through the drop (a packet that
# reaches the quota no longer matches), its retransmission passes.
drop_first_answer() {
	dir nft -f - <<NFT || die "nft"
table inet cbloss
delete table inet cbloss
table inet cbloss {
	chain out {
		type filter hook output priority 0;
		ip saddr $CB_VIP tcp sport $1 ip length > 1000 quota until 1500 bytes drop
	}
}
NFT
}

test_first_response_loss() {
	local i port ms accepted=() materialized=()
	tcpinfo_servers
	at_exit "dir nft delete table inet cbloss 2>/dev/null"
	for i in 1 2 3; do
		for port in 8080 80; do
			drop_first_answer "$port"
			# no RTT cached for the client from earlier connections: a
			# fresh client, as on a real server (the cache would seed the RTO)
			dir ip tcp_metrics flush all
			ms=$(cli python3 "$HERE/tcpinfo.py" client "$CB_VIP" "$port" | jq -r .first_ms) || die "client $port"
			if [ "$port" = 80 ]; then materialized+=("$ms"); else accepted+=("$ms"); fi
		done
	done
	dir nft delete table inet cbloss
	accepted=$(printf '%s\n' "${accepted[@]}" | sort -n | sed -n 2p)
	materialized=$(printf '%s\n' "${materialized[@]}" | sort -n | sed -n 2p)
	echo "first response after a lost segment, median ms: accepted $accepted, materialized $materialized"
	python3 -c "import sys; a, m = float('$accepted'), float('$materialized')
sys.exit(0 if a > 100 and m > 100 else 'the segment was not dropped (%s, %s ms)' % (a, m))" || die "loss not staged"
	python3 -c "import sys; a, m = float('$accepted'), float('$materialized')
sys.exit(0 if m <= 1.5 * a + 50 else 'materialized %.0f ms vs accepted %.0f ms' % (m, a))" ||
		die "the materialized socket retransmits slower than the accepted one"
}

# rtt_probe = no: the materialized socket goes live sending nothing (no
# one-byte probe, no window probe: the client sees no segment it did not
# ask for and reports no D-SACK), serves both exchanges, and has its first
# RTT sample from the ACK of its first answer.
test_materialized_without_rtt_probe() {
	local pcap=$WORK/noprobe.pcap out=$WORK/ti-noprobe.json
	tcpinfo_servers "rtt_probe = no"
	capture_start "$pcap"
	dir ip tcp_metrics flush all
	cli python3 "$HERE/tcpinfo.py" client "$CB_VIP" 80 > "$out" || { cat "$WORK/ti-ctl.log"; die "client"; }
	capture_stop
	expect_eq "$(tshark_count "$pcap" "ip.src==$CB_VIP && tcp.len==1")" 0 "one-byte probes from the VIP"
	expect_eq "$(tshark_count "$pcap" "ip.src==$CB_VIP && tcp.len==0 && !(tcp.flags.syn==1) && !(tcp.flags.fin==1) && tcp.seq < 1")" 0 \
		"window probes (an ACK below snd_una) from the VIP"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1")" 0 "RSTs"
	expect_eq "$(jq -r .client.dsack_dups "$out")" 0 "D-SACKs the client reported"
	[ "$(jq -r .server.rtt "$out")" -gt 0 ] || die "no RTT sample after the first answer was acknowledged"
	return 0
}

# A repeat client (the kernel caches its RTT when a connection closes,
# tcp_metrics) gets no RTT probe: connect() seeds the socket's first RTO from
# that RTT, as for the kernel's own connections.  Four connections on a
# service with the default rtt_probe: the first two probe (no RTT cached,
# then not yet known to be), the last two do not; then the first answer of a
# fifth is lost, and it is retransmitted as fast as an accepted socket's
# (a probe-less socket without a seeded RTO would wait 1 to 3 s).
test_repeat_client_skips_rtt_probe() {
	local pcap=$WORK/repeat.pcap i out ms acc
	tcpinfo_servers
	at_exit "dir nft delete table inet cbloss 2>/dev/null"
	dir ip tcp_metrics flush all
	capture_start "$pcap"
	for i in 1 2 3 4; do
		out=$(cli python3 "$HERE/tcpinfo.py" client "$CB_VIP" 80) || { cat "$WORK/ti-ctl.log"; die "client $i"; }
		[ "$(jq -r .server.rtt <<<"$out")" -gt 0 ] || die "connection $i: no RTT sample after its exchanges"
	done
	capture_stop
	tshark -r "$pcap" -Y "ip.src==$CB_VIP && tcp.len==1" -T fields -e tcp.stream 2>/dev/null | tr '\n' ' '; echo "(streams with a probe byte)"
	expect_eq "$(tshark_count "$pcap" "ip.src==$CB_VIP && tcp.len==1")" 2 "probe bytes over four connections"
	expect_eq "$(tshark_count "$pcap" "ip.src==$CB_VIP && tcp.len==1 && tcp.stream >= 2")" 0 "probes on the repeat connections"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1")" 0 "RSTs"
	drop_first_answer 8080
	acc=$(cli python3 "$HERE/tcpinfo.py" client "$CB_VIP" 8080 | jq -r .first_ms) || die "accepted client"
	drop_first_answer 80
	capture_start "$pcap"
	ms=$(cli python3 "$HERE/tcpinfo.py" client "$CB_VIP" 80 | jq -r .first_ms) || die "materialized client"
	capture_stop
	dir nft delete table inet cbloss
	echo "first answer lost: accepted $acc ms, materialized (repeat client, no probe) $ms ms"
	expect_eq "$(tshark_count "$pcap" "ip.src==$CB_VIP && tcp.len==1")" 0 "probe bytes on the lossy repeat connection"
	python3 -c "import sys; a, m = float('$acc'), float('$ms')
sys.exit(0 if a > 100 and m > 100 else 'the segment was not dropped (%s, %s ms)' % (a, m))" || die "loss not staged"
	python3 -c "import sys; a, m = float('$acc'), float('$ms')
sys.exit(0 if m <= 1.5 * a + 50 else 'materialized %.0f ms vs accepted %.0f ms' % (m, a))" ||
		die "the probe-less repeat socket retransmits slower than the accepted one"
}

# A flow evicted from the table while it waits for its app: its client sent
# its request, got it acknowledged and waits in silence, so the program never
# sees another segment to reset.  The controller resets it itself (its
# records brought the sequence numbers) when its wait ends.
test_controller_resets_vanished_flow() {
	local conf=$WORK/vf.conf sock=$WORK/vf.sock ctl flows cport key rc t0 t1
	printf '[broker]\ninterface = %s\nmetrics = off\ndecide_ms = 100\n[service s]\nlisten = %s:80\ndefault = nobody\nwait_ms = 1500\non_timeout = http503\n[app nobody]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	ctl_start "$conf" "$sock" "$WORK/vf.log"; ctl=$CTL
	t0=$(date +%s%N)
	cli curl -s -m 8 -o /dev/null "http://$CB_VIP/waits" &
	local curl=$!; BG_PIDS+=("$curl")
	sleep 0.5
	flows=$(dir "$CB" -j flows "$CB_IF_DIR")
	cport=$(jq -r '.[0].client' <<<"$flows" | cut -d: -f2)
	[ -n "$cport" ] && [ "$cport" != null ] || die "no flow: $flows"
	key=$(flow_key_bytes "$CB_IP_CLIENT" "$CB_VIP" "$cport" 80)
	bpftool map delete pinned "$(topo_pins "$CB_NS_DIR" "$CB_IF_DIR")/cb_flows" key $key || die "delete the flow"
	wait "$curl"; rc=$?
	t1=$(date +%s%N)
	cat "$WORK/vf.log"
	expect_eq "$rc" 56 "curl: reset (not a timeout)"
	[ $(( (t1 - t0) / 1000000 )) -lt 4000 ] || die "reset only after $(( (t1 - t0) / 1000000 )) ms"
	grep -q "its flow entry vanished" "$WORK/vf.log" || die "not reset by the controller"
	kill -TERM "$ctl"; wait "$ctl"
	dir "$CB" detach "$CB_IF_DIR"
}

# A client that reuses its port at once after the server closed first finds
# the server's side in TIME_WAIT.  Without timestamps a repair connect()
# cannot take that tuple (EADDRNOTAVAIL), where the kernel's own listener
# would accept the new connection: the old TIME_WAIT socket is destroyed and
# the new connection served.  Both with and without timestamps.
test_controller_reuses_time_wait_tuple() {
	local conf=$WORK/tw.conf sock=$WORK/tw.sock ctl ts out
	printf '[broker]\ninterface = %s\nmetrics = off\n[service s]\nlisten = %s:80\ndefault = web\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	ctl_start "$conf" "$sock" "$WORK/tw.log"; ctl=$CTL
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" web > "$WORK/tw-web.log" 2>&1 &
	BG_PIDS+=($!)
	sleep 0.3
	at_exit "cli sysctl -qw net.ipv4.tcp_timestamps=1"
	for ts in 1 0; do
		cli sysctl -qw "net.ipv4.tcp_timestamps=$ts"
		out=$(cli python3 -c "
import socket
for i in range(3):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('$CB_IP_CLIENT', 31000 + $ts))  # below the ephemeral range: no collision
    s.settimeout(5)
    s.connect(('$CB_VIP', 80))
    s.sendall(b'GET /tw%d HTTP/1.1\r\nHost: x\r\n\r\n' % i)
    data = b''
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        data += b' RESET'
    s.close()
    print(i, b'path=/tw%d ' % i in data, b'RESET' in data)
" 2>&1)
		echo "timestamps=$ts: $out"
		expect_eq "$(grep -c "True False" <<<"$out")" 3 "requests answered on a reused tuple (timestamps=$ts)"
	done
	cli sysctl -qw net.ipv4.tcp_timestamps=1
	kill -TERM "$ctl"; wait "$ctl"
	grep -q " 0 failed" "$WORK/tw.log" || { cat "$WORK/tw.log"; die "materialization failures"; }
	dir "$CB" detach "$CB_IF_DIR"
}

# A client whose flow the program no longer knows (removed by a valid RST,
# evicted from the LRU table) is reset on its next segment, as the kernel
# resets segments of unknown connections, instead of being left hanging; a
# forged-ACK flood is answered at the configured rate only and leaves no state.
test_unknown_segment_reset() {
	local flows key out cport
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --rst-rate 100 || die attach
	nsenter --net=/run/netns/"$CB_NS_CLIENT" python3 -c "
import socket, time
s = socket.create_connection(('$CB_VIP', 80)); s.sendall(b'first'); time.sleep(1.5)
t = time.monotonic()
try:
    s.sendall(b'second'); s.settimeout(5); s.recv(1); print('no reset')
except ConnectionResetError:
    print('reset after %.0f ms' % ((time.monotonic() - t) * 1000))
except socket.timeout:
    print('hang')" > "$WORK/unk.txt" 2>&1 &
	local client=$!; BG_PIDS+=("$client")
	sleep 0.7
	flows=$(dir "$CB" -j flows "$CB_IF_DIR")
	cport=$(jq -r '.[0].client' <<<"$flows" | cut -d: -f2)
	[ -n "$cport" ] && [ "$cport" != null ] || die "no flow: $flows"
	# the entry disappears, as an LRU eviction would make it
	key=$(flow_key_bytes "$CB_IP_CLIENT" "$CB_VIP" "$cport" 80)
	bpftool map delete pinned "$(topo_pins "$CB_NS_DIR" "$CB_IF_DIR")/cb_flows" key $key || die "delete the flow"
	wait "$client"
	cat "$WORK/unk.txt"
	grep -q "^reset after" "$WORK/unk.txt" || die "the client was not reset: $(cat "$WORK/unk.txt")"
	[ "$(counter rst_no_flow)" -ge 1 ] || die "rst_no_flow"
	# 3,000 forged ACKs: at most the bucket (1 s of rate per CPU) plus the
	# rate over the flood's duration is answered; the rest is counted
	cli python3 "$HERE/synflood.py" "$CB_IF_CLIENT" "$CB_IP_CLIENT" "$CB_VIP" 80 3000 ack || die "ack flood"
	sleep 0.5
	out="$(counter rst_no_flow) $(counter rst_rate_limited)"
	echo "RSTs sent, limited: $out"
	[ "$(counter rst_rate_limited)" -gt 0 ] || die "nothing rate-limited"
	[ "$(counter rst_no_flow)" -lt 1000 ] || die "RSTs not bounded by --rst-rate 100: $out"
	expect_eq "$(dir "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].flows')" 0 "flows after a forged-ACK flood"
	dir "$CB" detach "$CB_IF_DIR"
}

# Native XDP on veth cannot grow a frame at its tail: challenge ACKs (66
# bytes with timestamps) for 54-byte in-window RSTs must still go out.
test_native_challenge_acks() {
	local flows cport seq ack n=2000
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --mode native || die attach
	nsenter --net=/run/netns/"$CB_NS_CLIENT" python3 -c "
import socket, time
s = socket.create_connection(('$CB_VIP', 80)); s.sendall(b'hold'); time.sleep(3)" &
	BG_PIDS+=($!)
	sleep 0.7
	flows=$(dir "$CB" -j flows "$CB_IF_DIR")
	cport=$(jq -r '.[0].client' <<<"$flows" | cut -d: -f2)
	seq=$(( $(jq -r '.[0].rcv_nxt' <<<"$flows") + 100 ))     # in the window, not at rcv_nxt
	ack=$(jq -r '.[0].snd_nxt' <<<"$flows")
	[ -n "$cport" ] && [ "$cport" != null ] || die "no flow: $flows"
	cli python3 "$HERE/synflood.py" "$CB_IF_CLIENT" "$CB_IP_CLIENT" "$CB_VIP" 80 $n rst "$cport" "$seq" "$ack" ||
		die "RST sender"
	sleep 0.3
	echo "challenge_ack $(counter challenge_ack), drop_reply_fail $(counter drop_reply_fail), reply_grown_at_tail $(counter reply_grown_at_tail)"
	[ "$(counter challenge_ack)" -ge $((n * 95 / 100)) ] || die "challenge ACKs: $(counter challenge_ack) of $n"
	expect_eq "$(counter drop_reply_fail)" 0 "replies that could not be built"
	expect_eq "$(dir "$CB" -j flows "$CB_IF_DIR" | jq length)" 1 "the flow survives in-window RSTs"
	dir "$CB" detach "$CB_IF_DIR"
}

# ---- the cluster: the director and both backends, one configuration -------

CL_NODES="dir:$CB_NS_DIR:$CB_IF_DIR b1:$CB_NS_B1:$CB_IF_B1 b2:$CB_NS_B2:$CB_IF_B2"

# Write $WORK/cluster.conf: service shop on the VIP, rules /one/ -> app one,
# /two/ -> app two, default web; $1: more [service shop] keys.
cluster_conf() {
	head -c 32 /dev/urandom | xxd -p | tr -d '\n' > "$WORK/cluster.psk"
	cat > "$WORK/cluster.conf" <<CONF
[broker]
decide_ms = 200
metrics = 127.0.0.1:9464
cluster = test
psk_file = $WORK/cluster.psk
[service shop]
listen = $CB_VIP:80
default = web
placement = spread
wait_ms = 3000
$1
[rule one]
service = shop
path_prefix = /one/
app = one
[rule two]
service = shop
path_prefix = /two/
app = two
[app web]
[app one]
[app two]
[node dir]
id = 1
control = $CB_IP_DIR:9400
services = shop
[node b1]
id = 2
control = $CB_IP_B1:9400
services = shop
[node b2]
id = 3
control = $CB_IP_B2:9400
services = shop
CONF
}

# Attach every node (the director natively, the backends at TC), start its
# controller (CTL_dir, CTL_b1, CTL_b2), and wait for the director to see both
# backends up.
cluster_start() {
	local n name ns ifn mode i
	for n in $CL_NODES; do
		IFS=: read -r name ns ifn <<<"$n"
		mode=tc; [ "$name" = dir ] && mode=native
		nsx "$ns" "$CB" attach "$ifn" --service "$CB_VIP:80" --mode "$mode" || die "attach $name"
		at_exit "nsx $ns $CB detach $ifn >/dev/null 2>&1"
		: > "$WORK/ctl-$name.log"       # restarts append to it
		cluster_ctl "$name"
	done
	cluster_wait_up
}

# (Re)start the controller of node $1; its log goes on in ctl-$1.log.
cluster_ctl() {
	local n name ns ifn
	for n in $CL_NODES; do
		IFS=: read -r name ns ifn <<<"$n"
		[ "$name" = "$1" ] || continue
		nsenter --net=/run/netns/"$ns" env CONNBROKER_FAULT="$(eval echo "\${CL_FAULT_$name:-}")" \
			"$CB" run --config "$WORK/cluster.conf" --interface "$ifn" \
			--node "$name" --socket "$WORK/$name.sock" >> "$WORK/ctl-$name.log" 2>&1 &
		eval "CTL_$name=\$!"; BG_PIDS+=($!)
	done
}

cluster_wait_up() {
	local i
	for i in $(seq 1 50); do
		[ "$(metrics_get "$CB_NS_DIR" | grep -c '^connbroker_node_up{node="b[12]"} 2$')" = 2 ] && return 0
		sleep 0.1
	done
	cat "$WORK"/ctl-*.log
	die "the cluster did not come up"
}

# Start the bulk app $2 on node $1 (dir, b1, b2).
cluster_app() {
	local ns
	case $1 in dir) ns=$CB_NS_DIR ;; b1) ns=$CB_NS_B1 ;; b2) ns=$CB_NS_B2 ;; esac
	nsenter --net=/run/netns/"$ns" python3 "$HERE/bulk_app.py" "$WORK/$1.sock" "$2" "$1" \
		> "$WORK/app-$1-$2.log" 2>&1 &
	BG_PIDS+=($!)
	eval "APP_$1_$2=\$!"
}

# Capture what leaves the director's port on the bridge (XDP_TX frames never
# reach a capture on the director itself).
dir_capture_start() { capture_in "$CB_NS_NET" "br-$CB_IF_DIR" "$1" tcp; DCAP_PID=$LAST_CAP; }
dir_capture_stop() { sleep 0.3; kill "$DCAP_PID" 2>/dev/null; wait "$DCAP_PID" 2>/dev/null; }

# Requests routed by path to each backend, served from there straight to the
# client (direct server return): byte-exact 10 MB downloads and 2 MB uploads,
# not one response byte from the service address leaving the director, no
# RST, and the client sees the service's timestamps never go back.
test_cluster_routes_by_path() {
	local pcap=$WORK/cl-client.pcap dpcap=$WORK/cl-dir.pcap out sum hdr
	cluster_conf ""
	cluster_start
	cluster_app b1 one; cluster_app b2 two; cluster_app dir web
	sleep 0.8
	capture_start "$pcap"
	dir_capture_start "$dpcap"
	out=$(cli curl -s -m 5 "http://$CB_VIP/one/a"); echo "$out"
	grep -q "app=one path=/one/a node=b1" <<<"$out" || die "/one/ not served by b1"
	out=$(cli curl -s -m 5 "http://$CB_VIP/two/b"); echo "$out"
	grep -q "app=two path=/two/b node=b2" <<<"$out" || die "/two/ not served by b2"
	out=$(cli curl -s -m 5 --local-port 20555 "http://$CB_VIP/c"); echo "$out"
	grep -q "app=web path=/c node=dir" <<<"$out" || die "the default not served by the director"
	for p in one two; do
		hdr=$(cli curl -s -m 20 -D - -o "$WORK/dl-$p.bin" "http://$CB_VIP/$p/bytes/10000000") || die "download $p"
		sum=$(sha256sum "$WORK/dl-$p.bin" | cut -d' ' -f1)
		grep -qi "x-sha256: $sum" <<<"$hdr" || die "10 MB from $p not byte-exact"
	done
	head -c 2000000 /dev/urandom > "$WORK/up.bin"
	sum=$(sha256sum "$WORK/up.bin" | cut -d' ' -f1)
	out=$(cli curl -s -m 20 --data-binary @"$WORK/up.bin" "http://$CB_VIP/two/upload"); echo "$out"
	grep -q "node=b2 body=2000000 sha256=$sum" <<<"$out" || die "2 MB upload to b2 not byte-exact"
	dir_capture_stop
	capture_stop
	# (the director's own app answers /c from port 20555: its bytes do leave it)
	expect_eq "$(tshark_count "$dpcap" "ip.src==$CB_VIP && tcp.len>0 && tcp.dstport!=20555")" 0 \
		"response payload bytes of handed-off flows leaving the director"
	[ "$(tshark_count "$dpcap" "ip.src==$CB_VIP && tcp.len>0 && tcp.dstport==20555")" -gt 0 ] ||
		die "the capture on the director's port saw nothing (is it the right one?)"
	[ "$(tshark_count "$pcap" "ip.src==$CB_VIP && tcp.len>0")" -gt 1000 ] || die "no responses in the client's capture"
	expect_eq "$(rst_count "$pcap")" 0 "RSTs (but a closed socket's answer to a late duplicate)"
	# across the hand-off: every TSval the backend sends is at least the last
	# one the director's program sent on that connection (PAWS at the client)
	tsvals_continue "$pcap" "ip.src==$CB_VIP" 3 || die "timestamps across the hand-off"
	out=$(metrics_get "$CB_NS_DIR")
	promtool check metrics <<<"$out" || die "promtool"
	grep -q 'connbroker_handoffs_total{node="b1",result="committed"} 2' <<<"$out" || die "hand-offs to b1: $(grep handoffs <<<"$out")"
	# status shows the cluster as the director sees it
	sleep 1
	dir "$CB" status "$CB_IF_DIR" | sed -n '/controller:/,$p'
	out=$(dir "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].controller.cluster[] | "\(.node) \(.state) \(.handed_off)"' | tr '\n' ' ')
	expect_eq "$out" "dir this node 0 b1 up 2 b2 up 3 " "status: nodes, states, hand-offs"
	out=$(dir "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].controller.cluster[1].load[] | select(.app == "one") | "\(.policy) \(.instances)"')
	expect_eq "$out" "spread 1" "status: b1 reports app one, policy spread"
	# the time of each hand-off, by stage: the director's four, b1's two
	out=$(dir "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].controller.handoff_us |
		"\(.samples) \(.stages.decide.samples) \(.stages.commit.samples) \(.p50 >= .stages.decide.p50)"')
	expect_eq "$out" "5 5 5 true" "status: hand-off times by stage on the director"
	out=$(nsx "$CB_NS_B1" "$CB" -j status "$CB_IF_B1" | jq -r '.[0].controller.handoff_us.stages |
		"\(.build.samples) \(.live.samples)"')
	expect_eq "$out" "2 2" "status: build and go-live times on b1"
}

# Live migration between backends: the stream app on b1 and b2 gives the
# connection back every 0.5 s for the same app on the other node
# (RELEASE to=stream@b2), with its place in both streams as the blob; the
# director re-steers it each time.  Under 2 % random loss both ways
# (nftables), a numbered stream each way stays byte-exact through at least
# 10 moves, the connection ends with a FIN, no RST, and no arrival gap at
# the client reaches 1 s.
test_cluster_live_migration() {
	local out moves pcap=$WORK/mig.pcap down=4000000 up=2000000
	cluster_conf ""
	cat >> "$WORK/cluster.conf" <<CONF
[rule stream]
service = shop
path_prefix = /stream
app = stream
[app stream]
CONF
	cluster_start
	for n in b1:b2 b2:b1; do
		local ns=$CB_NS_B1; [ "${n%%:*}" = b2 ] && ns=$CB_NS_B2
		nsenter --net=/run/netns/"$ns" python3 "$HERE/stream_app.py" "$WORK/${n%%:*}.sock" stream \
			"${n%%:*}" "${n#*:}" $down $up 0.5 > "$WORK/app-${n%%:*}-stream.log" 2>&1 &
		BG_PIDS+=($!)
	done
	sleep 0.8
	cli nft -f - <<NFT || die "nft loss rules"
table inet cbloss {
	chain in { type filter hook input priority 0; ip saddr $CB_VIP numgen random mod 100 < 2 drop; }
	chain out { type filter hook output priority 0; ip daddr $CB_VIP numgen random mod 100 < 2 drop; }
}
NFT
	at_exit "nsx $CB_NS_CLIENT nft delete table inet cbloss 2>/dev/null"
	capture_start "$pcap"
	out=$(cli python3 "$HERE/stream_client.py" "$CB_VIP" 80 /stream $down $up 60)
	local rc=$?
	capture_stop
	echo "$out"
	cat "$WORK"/app-b*-stream.log
	[ $rc -eq 0 ] || { grep -h 'live move\|MOVE\|error' "$WORK"/ctl-*.log | tail -20; die "streams not complete and exact"; }
	moves=$(cat "$WORK"/app-b*-stream.log | grep -c '^released at')
	echo "moves: $moves"
	[ "$moves" -ge 10 ] || die "only $moves moves"
	[ "$(jq -r '.max_gap_ms' <<<"$out" | cut -d. -f1)" -lt 1000 ] || die "a stall of a second or more"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1")" 0 "RSTs"
	out=$(metrics_get "$CB_NS_DIR")
	grep 'relays_total\|moves_total' <<<"$out"
	[ "$(awk '/^connbroker_relays_total\{result="committed"\}/ {print $2}' <<<"$out")" -ge 10 ] ||
		die "the director relayed fewer than 10 moves"
	dir "$CB" -j status "$CB_IF_DIR" | jq -c '.[0].controller.handoff_us.moves'
}

# Kill the target of a live move (b2's controller) at a step of the move,
# $1: after-ship (it has the image, said nothing), after-prepared (it said
# ready: the director re-steers and commits), before-live (the COMMIT came).
# $2: what the client must see: "intact" (the stream completes, byte-exact:
# the move was never committed, the source resumed it) or "reset" (committed
# to a node that died: the client is reset, within 8 s of its last byte).
move_target_dies() {
	local out rc client down=1000000 up=500000
	cluster_conf ""
	cat >> "$WORK/cluster.conf" <<CONF
[rule stream]
service = shop
path_prefix = /stream
app = stream
[app stream]
CONF
	CL_FAULT_b2=$1 cluster_start
	# the connection starts on b1 (the only node with the app), then the
	# app on b2 comes up and b1 moves the connection there
	nsenter --net=/run/netns/"$CB_NS_B1" python3 "$HERE/stream_app.py" "$WORK/b1.sock" stream b1 b2 \
		$down $up 0.6 > "$WORK/app-b1-stream.log" 2>&1 &
	BG_PIDS+=($!)
	sleep 0.8
	cli python3 "$HERE/stream_client.py" "$CB_VIP" 80 /stream $down $up 30 > "$WORK/client.out" &
	client=$!; BG_PIDS+=("$client")
	sleep 0.2
	nsenter --net=/run/netns/"$CB_NS_B2" python3 "$HERE/stream_app.py" "$WORK/b2.sock" stream b2 b1 \
		$down $up 0.6 > "$WORK/app-b2-stream.log" 2>&1 &
	BG_PIDS+=($!)
	wait "$client"; rc=$?
	out=$(cat "$WORK/client.out")
	echo "$out"
	cat "$WORK"/app-b*-stream.log
	grep -h 'live move\|crash point\|resetting\|down for' "$WORK"/ctl-*.log
	grep -q "crash point $1 reached" "$WORK/ctl-b2.log" || die "b2 did not die at $1"
	case $2 in
	intact)
		[ $rc -eq 0 ] || die "the stream did not complete intact"
		grep -q "live move refused by its director\|live move unanswered" "$WORK/ctl-b1.log" ||
			die "b1 did not resume the connection" ;;
	reset)
		expect_eq "$(jq -r .end <<<"$out")" reset "how the connection ended"
		jq -r .exact <<<"$out" | grep -q true || die "bytes before the reset were wrong"
		[ "$(jq -r .tail_ms <<<"$out" | cut -d. -f1)" -lt 8000 ] || die "reset too late" ;;
	esac
}
test_cluster_move_target_dies_after_ship() { move_target_dies after-ship intact; }
test_cluster_move_target_dies_after_prepared() { move_target_dies after-prepared reset; }
test_cluster_move_target_dies_before_live() { move_target_dies before-live reset; }

# Start the C app (app $2, answers tagged with the node) on node $1.
cluster_http_app() {
	local ns=$CB_NS_DIR
	case $1 in b1) ns=$CB_NS_B1 ;; b2) ns=$CB_NS_B2 ;; esac
	nsenter --net=/run/netns/"$ns" "$ROOT/build/http_app" --app "$2" --tag "$1" \
		--socket "$WORK/$1.sock" > "$WORK/http-$1-$2.log" 2>&1 &
	BG_PIDS+=($!)
	eval "HTTP_$1=\$!"
}

# connbroker migrate: a keep-alive connection of a per-connection service,
# served by the app on one backend, is moved by the operator to the other
# backend between two requests (its app gives it back when asked); the
# next request is answered there, on the same connection, no RST.  A
# migration of an unknown target is refused with a message.
test_cluster_migrate_cli() {
	cluster_conf ""
	cluster_start
	cluster_http_app b1 web; cluster_http_app b2 web
	sleep 0.8
	migrate_between_requests "$CB_VIP" "$CB_IP_CLIENT" ""
}

# The body of the migrate tests (IPv4 here, IPv6 in tests_ipv6.sh), once
# the cluster serves the http app on b1 and b2: a client of VIP $1 asks
# /before, `connbroker migrate $2:PORT web@OTHER` on the node that served it
# (a bad target refused first), then /after comes from the other node on
# the same connection; one SYN, no RST.  $3 suffixes the work files.
migrate_between_requests() {
	local vip=$1 caddr=$2 out from to port pcap=$WORK/migcli$3.pcap ns client
	local done_file=$WORK/migrated$3 log=$WORK/migcli$3.out
	capture_start "$pcap" "tcp and host $vip"
	cli python3 -c "
import os, socket, sys, time
s = socket.create_connection(('$vip', 80), timeout=10)
def get(p):
    s.sendall(b'GET %s HTTP/1.1\r\nHost: x\r\n\r\n' % p)
    data = b''
    while b'body=0' not in data:
        data += s.recv(4096)
    return data.decode().split('\r\n\r\n')[1].strip()
print(s.getsockname()[1], get(b'/before'), flush=True)
for _ in range(100):
    if os.path.exists('$done_file'):
        break
    time.sleep(0.05)
print(get(b'/after'), flush=True)
" > "$log" 2>&1 &
	client=$!; BG_PIDS+=("$client")
	for _ in $(seq 50); do [ -s "$log" ] && break; sleep 0.1; done
	out=$(cat "$log"); echo "$out"
	port=${out%% *}
	from=$(grep -o 'tag=b[12]' <<<"$out" | head -1 | cut -d= -f2)
	[ -n "$from" ] || die "first answer: $out"
	to=b1; [ "$from" = b1 ] && to=b2
	ns=$CB_NS_B1; [ "$from" = b2 ] && ns=$CB_NS_B2
	nsx "$ns" "$CB" migrate "$caddr:$port" "web@nowhere" --socket "$WORK/$from.sock" 2>&1 |
		tee "$WORK/mig-bad$3.txt"
	grep -q "no node 'nowhere'" "$WORK/mig-bad$3.txt" || die "a bad target was not refused"
	out=$(nsx "$ns" "$CB" -j migrate "$caddr:$port" "web@$to" --socket "$WORK/$from.sock") ||
		die "migrate $caddr:$port: $out"
	echo "$out"
	jq -e '.result == "asked" and .apps_asked >= 1' <<<"$out" >/dev/null || die "migrate answer"
	sleep 0.5
	touch "$done_file"
	wait "$client"
	capture_stop
	out=$(cat "$log"); echo "$out"
	grep -q "app=web tag=$to method=GET path=/after" <<<"$out" || die "not answered by $to after the migration"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.syn==1 && tcp.flags.ack==0")" 1 "one connection"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1")" 0 "RSTs"
}

# connbroker drain: under wrk keep-alive load (route = per-request, the C
# app on both backends), b1 is drained from the director: no request
# fails, b1 ends with no connections (drain --wait), no flow is placed on
# it afterwards; b1's controller and app are then restarted and it serves
# again, still with no failed request.
test_cluster_drain() {
	local out placed
	cluster_conf "route = per-request"
	cluster_start
	cluster_http_app b1 web; cluster_http_app b2 web
	sleep 0.8
	cli wrk -t2 -c20 -d6 "http://$CB_VIP/load" > "$WORK/wrk1.txt" 2>&1 &
	local w=$!; BG_PIDS+=("$w")
	sleep 1.5
	dir "$CB" drain b1 --wait 4 --socket "$WORK/dir.sock" || { cat "$WORK"/ctl-b1.log | tail; die "drain b1"; }
	out=$(dir "$CB" -j drain b1 --wait 1 --socket "$WORK/dir.sock"); echo "$out"
	jq -e '.connections == 0 and .draining' <<<"$out" >/dev/null || die "b1 not drained: $out"
	placed=$(metrics_get "$CB_NS_DIR" | awk '/^connbroker_placements_total\{node="b1"/ {s += $2} END {print s + 0}')
	wait "$w"
	cat "$WORK/wrk1.txt"
	grep -q "Socket errors\|Non-2xx" "$WORK/wrk1.txt" && die "requests failed while draining"
	expect_eq "$(metrics_get "$CB_NS_DIR" | awk '/^connbroker_placements_total\{node="b1"/ {s += $2} END {print s + 0}')" \
		"$placed" "flows placed on b1 after its drain"
	nsx "$CB_NS_B1" "$CB" -j drain b1 --socket "$WORK/b1.sock" --wait 1 | jq -c . ||
		die "b1 itself does not see itself drained"
	# restart b1 (controller and app): it rejoins, not draining, and serves
	kill "$CTL_b1" "$HTTP_b1"; wait "$CTL_b1" "$HTTP_b1" 2>/dev/null
	cluster_ctl b1; sleep 0.5; cluster_http_app b1 web; cluster_wait_up; sleep 0.5
	cli wrk -t2 -c20 -d3 "http://$CB_VIP/again" > "$WORK/wrk2.txt" 2>&1
	cat "$WORK/wrk2.txt"
	grep -q "Socket errors\|Non-2xx" "$WORK/wrk2.txt" && die "requests failed after b1 rejoined"
	[ "$(metrics_get "$CB_NS_DIR" | awk '/^connbroker_placements_total\{node="b1"/ {s += $2} END {print s + 0}')" -gt "$placed" ] ||
		die "b1 takes no connections after it rejoined"
}

# route = per-request across nodes: one keep-alive connection whose
# requests name apps that run on different nodes (one on b1, two on b2, web
# on the director) is moved live to each request's node: from the director
# to a backend (the director ships its own socket), between backends (the
# director relays), and back to the director (it builds the socket itself).
# Every answer from its app, with the previous app's blob, byte-exact, one
# connection, no RST.
test_cluster_keepalive_per_request() {
	local out m pcap=$WORK/clka.pcap
	cluster_conf "route = per-request"
	cluster_start
	for m in b1:one b2:two dir:web; do
		local ns=$CB_NS_DIR
		case ${m%%:*} in b1) ns=$CB_NS_B1 ;; b2) ns=$CB_NS_B2 ;; esac
		nsenter --net=/run/netns/"$ns" python3 "$ROOT/examples/app.py" "$WORK/${m%%:*}.sock" \
			"${m#*:}" > "$WORK/app-$m.log" 2>&1 &
		BG_PIDS+=($!)
	done
	sleep 0.8
	capture_start "$pcap"
	out=$(cli python3 "$HERE/keepalive_client.py" "$CB_VIP" 80 /one/a /two/b /c /two/d:100000 \
		/one/e /f "/one/g+/two/h" /i) || { echo "$out"; grep -h 'move\|MOVE\|reset' "$WORK"/ctl-*.log | tail; die "keep-alive client"; }
	capture_stop
	echo "$out"
	for m in "/one/a app=one .*prev=-" "/two/b app=two .*prev=served-by=one" \
		 "/c app=web .*prev=served-by=two" "/two/d app=two method=POST path=/two/d body=100000" \
		 "/one/e app=one .*prev=served-by=two" "/f app=web .*prev=served-by=one" \
		 "/one/g app=one .*prev=served-by=web" "/two/h app=two .*prev=served-by=one" \
		 "/i app=web .*prev=served-by=two"; do
		grep -q "\"path\": \"${m%% *}\".*\"body\": \"${m#* }" <<<"$out" || die "answer for ${m%% *}"
	done
	[ "$(grep '"/two/d"' <<<"$out" | jq -r '.sha256')" = \
	  "$(grep '"/two/d"' <<<"$out" | jq -r '.body' | sed 's/.*sha256=\([0-9a-f]*\).*/\1/')" ] ||
		die "100 KB POST to b2 not byte-exact"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.syn==1 && tcp.flags.ack==0")" 1 "one connection"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1")" 0 "RSTs"
	out=$(metrics_get "$CB_NS_DIR")
	promtool check metrics <<<"$out" || die "promtool"
	grep 'relays_total\|moves_total\|released_total{result="moved"}' <<<"$out"
	[ "$(awk '/^connbroker_relays_total\{result="committed"\}/ {print $2}' <<<"$out")" -ge 3 ] ||
		die "moves the director relayed or took"
	[ "$(awk '/^connbroker_moves_total\{result="moved"\}/ {print $2}' <<<"$out")" -ge 2 ] ||
		die "moves of the director's own sockets"
}

# The director's own app is saturated (capacity 1, slow requests): new
# connections spill to the least loaded backend.
test_cluster_spills_when_saturated() {
	local i out
	cluster_conf "capacity = 1"
	cluster_start
	cluster_app dir web; cluster_app b1 web; cluster_app b2 web
	sleep 0.8
	for i in 1 2 3; do
		cli curl -s -m 8 "http://$CB_VIP/hold/1.5" -o "$WORK/spill-$i.out" &
		BG_PIDS+=($!)
		sleep 0.3
	done
	wait "${BG_PIDS[@]: -1}" 2>/dev/null; sleep 1.5
	cat "$WORK"/spill-*.out
	out=$(cat "$WORK"/spill-*.out | grep -o 'node=[a-z0-9]*' | sort | tr '\n' ' ')
	expect_eq "$out" "node=b1 node=b2 node=dir " "one request each: here, then spilled to both backends"
	metrics_get "$CB_NS_DIR" | grep -q 'connbroker_placements_total{node="b[12]",reason="least_loaded"}' ||
		die "no least_loaded placement"
}

# A backend dies (its interface goes down and its controller is killed): new
# connections go to the other one, and the clients it was serving are reset
# within a bound (the director notices in about 1 s, then waits 3 s in case
# only the controller restarts there), not left hanging.
test_cluster_backend_dies() {
	local t0 t1 rc out
	cluster_conf ""
	cluster_start
	cluster_app b1 web; cluster_app b2 web; cluster_app b1 one
	sleep 0.8
	# app one runs on b1 only: this request is b1's, and slow
	t0=$(date +%s%N)
	cli curl -s -m 15 -o /dev/null "http://$CB_VIP/one/hold/10" &
	local held=$!; BG_PIDS+=("$held")
	sleep 0.5
	metrics_get "$CB_NS_DIR" | grep -q 'connbroker_steered_flows [1-9]' || die "nothing steered"
	nsx "$CB_NS_B1" ip link set "$CB_IF_B1" down
	# b1's orphaned sockets go before its link comes back up (their FIN
	# retransmissions would reach later tests' clients)
	at_exit "nsx $CB_NS_B1 ss -K -t state all >/dev/null 2>&1"
	at_exit "nsx $CB_NS_B1 ip link set $CB_IF_B1 up"
	kill -9 "$CTL_b1" "$APP_b1_web" "$APP_b1_one" 2>/dev/null
	wait "$held"; rc=$?
	t1=$(date +%s%N)
	echo "held request ended with curl $rc after $(( (t1 - t0) / 1000000 )) ms"
	[ "$rc" = 56 ] || [ "$rc" = 52 ] || die "the held client was not reset (curl $rc)"
	[ $(( (t1 - t0) / 1000000 )) -lt 7000 ] || die "reset only after $(( (t1 - t0) / 1000000 )) ms"
	for i in 1 2 3 4; do
		out=$(cli curl -s -m 5 "http://$CB_VIP/after$i"); echo "$out"
		grep -q "node=b2" <<<"$out" || die "a new connection did not go to b2"
	done
	grep -q "node b1 is down" "$WORK/ctl-dir.log" || die "the director did not log b1 down"
	grep -q "node b1 down for 3000 ms: 1 of its clients reset" "$WORK/ctl-dir.log" ||
		die "the director did not reset b1's client after the grace"
	metrics_get "$CB_NS_DIR" | grep -q '^connbroker_resets_total{reason="node_lost"} 1$' ||
		die "the reset not counted as node_lost: $(metrics_get "$CB_NS_DIR" | grep resets_total)"
}

# Controllers restart under a live steered download: the director's (its
# steering stays in the maps, the new one finds its peers up again within
# the grace), then the backend's (the app holds the socket).  The download
# ends byte-exact with no RST.  And a flow whose app resets it (the
# director sees no FIN: the reset goes from b1 straight to the client) loses
# its steering within seconds: b1 watches the socket and says CLOSED.
test_cluster_restarts_keep_flows() {
	local pcap=$WORK/cl-restart.pcap out hdr sum steered before i rc
	cluster_conf ""
	cluster_start
	cluster_app b1 one; cluster_app b2 web
	sleep 0.8
	capture_start "$pcap"
	cli curl -s -m 30 --limit-rate 1M -D "$WORK/rs.hdr" -o "$WORK/rs.body" \
		-w '%{local_port}' "http://$CB_VIP/one/bytes/6000000" > "$WORK/rs.port" &
	local dl=$!; BG_PIDS+=("$dl")
	sleep 1
	metrics_get "$CB_NS_DIR" | grep -q 'connbroker_steered_flows [1-9]' || die "nothing steered"
	kill -9 "$CTL_dir"; wait "$CTL_dir" 2>/dev/null
	sleep 0.5
	cluster_ctl dir
	cluster_wait_up
	sleep 0.5
	kill -9 "$CTL_b1"; wait "$CTL_b1" 2>/dev/null
	sleep 0.5
	cluster_ctl b1
	cluster_wait_up
	cluster_app b1 one      # apps register again with a new controller; this one
	                        # is new (the first still serves the download)
	wait "$dl"; rc=$?
	capture_stop
	if [ "$rc" != 0 ]; then
		# what a failure needs to be understood (seen once in CI: curl 18)
		echo "got $(stat -c %s "$WORK/rs.body" 2>/dev/null) of 6000000 bytes"
		tail -n 12 "$WORK/ctl-dir.log" "$WORK/ctl-b1.log"
		tshark -r "$pcap" -Y "tcp.port==$(cat "$WORK/rs.port") && (tcp.flags.reset==1 ||
			tcp.flags.fin==1 || tcp.analysis.retransmission || tcp.analysis.lost_segment)" \
			2>/dev/null | tail -n 20
		die "the download failed across the restarts (curl $rc)"
	fi
	hdr=$(grep -i '^x-sha256' "$WORK/rs.hdr" | tr -d '\r' | awk '{print $2}')
	sum=$(sha256sum "$WORK/rs.body" | awk '{print $1}')
	expect_eq "$(stat -c %s "$WORK/rs.body")" 6000000 "download size"
	expect_eq "$sum" "$hdr" "download bytes"
	# (on its connection: a socket an earlier test left on a backend may
	# still be retransmitting its FIN to a client port that is gone)
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1 && tcp.port==$(cat "$WORK/rs.port")")" 0 \
		"RSTs on the download's connection"
	grep -q "down for 3000 ms" "$WORK/ctl-dir.log" && die "a node was declared down across a restart"
	# the app resets it: no FIN reaches the director, b1 tells it (the
	# download's steering stays 30 s after its FIN: counted before)
	before=$(metrics_get "$CB_NS_DIR" | awk '/^connbroker_steered_flows /{print $2}')
	out=$(cli curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$CB_VIP/one/reset"); echo "reset: $out"
	for i in $(seq 1 50); do
		steered=$(metrics_get "$CB_NS_DIR" | awk '/^connbroker_steered_flows /{print $2}')
		[ "$steered" = "$before" ] && break
		sleep 0.1
	done
	expect_eq "$steered" "$before" "steering of the reset flow removed (CLOSED from b1)"
	metrics_get "$CB_NS_B1" | grep -q '^connbroker_adopted_closed_total [1-9]' ||
		die "b1 did not report the flow closed"
}

# A node that refuses what is shipped to it: each such flow goes back to
# UNBOUND on the director and is placed again without that node; every
# request is served, by the other backend.
test_cluster_refused_goes_elsewhere() {
	local i out
	cluster_conf ""
	CL_FAULT_b1=refuse-ships cluster_start
	cluster_app b1 one; cluster_app b2 one
	sleep 0.8
	for i in $(seq 1 12); do
		out=$(cli curl -s -m 5 "http://$CB_VIP/one/r$i")
		grep -q "node=b2" <<<"$out" || die "request $i: $out"
	done
	out=$(metrics_get "$CB_NS_DIR" | grep 'connbroker_handoffs_total{node="b1",result="refused"}')
	echo "$out"
	[ "${out##* }" -gt 0 ] || die "b1 was never tried (refusals $out)"
	grep -q "refused it (reason 0); placing it again" "$WORK/ctl-dir.log" || die "refusal not logged"
}

# A target that never answers a SHIP (fault ignore-ships on b1): each flow
# it was offered is aborted after 250 ms and served by b2; every request is
# answered, none later than a second.  Then no node will take a flow (both
# backends refuse, the director has no instance): its client is reset once
# the service's wait_ms (3 s) is over, never left hanging.
test_cluster_silent_target_and_nowhere() {
	local i out t0 t1 rc
	cluster_conf ""
	CL_FAULT_b1=ignore-ships CL_FAULT_b2=refuse-ships cluster_start
	cluster_app b1 one
	cluster_app b2 one
	sleep 0.8
	# b2 refuses: every flow is offered to b1, which stays silent
	t0=$(date +%s%N)
	out=$(cli curl -s -m 8 -o /dev/null -w '%{http_code}' "http://$CB_VIP/one/x"); rc=$?
	t1=$(date +%s%N)
	echo "no node takes it: curl $rc ($out) after $(( (t1 - t0) / 1000000 )) ms"
	[ "$rc" = 56 ] || [ "$rc" = 52 ] || die "the client was not reset (curl $rc, $out)"
	[ $(( (t1 - t0) / 1000000 )) -ge 2900 ] && [ $(( (t1 - t0) / 1000000 )) -lt 6000 ] ||
		die "reset after $(( (t1 - t0) / 1000000 )) ms, not at wait_ms (3 s)"
	out=$(metrics_get "$CB_NS_DIR" | grep 'connbroker_handoffs_total{node="b1",result="timeout"}')
	echo "$out"
	[ "${out##* }" -gt 0 ] || die "b1 never timed out"
	# b2 serves again (restarted without its fault): a flow offered to the
	# silent b1 comes back after 250 ms and goes to b2, and b1, which looks
	# least loaded because it takes nothing, is avoided for a while after
	# each silence (1 s, doubling): most requests go straight to b2
	kill "$CTL_b2"; wait "$CTL_b2" 2>/dev/null
	CL_FAULT_b2= cluster_ctl b2; cluster_wait_up
	kill "$APP_b2_one" 2>/dev/null; cluster_app b2 one; sleep 0.8
	local slow=0
	for i in $(seq 1 8); do
		t0=$(date +%s%N)
		out=$(cli curl -s -m 5 "http://$CB_VIP/one/s$i")
		t1=$(date +%s%N)
		echo "$(( (t1 - t0) / 1000000 )) ms: $out"
		grep -q "node=b2" <<<"$out" || die "request $i: $out"
		[ $(( (t1 - t0) / 1000000 )) -lt 1000 ] || die "request $i took $(( (t1 - t0) / 1000000 )) ms"
		[ $(( (t1 - t0) / 1000000 )) -lt 200 ] || slow=$((slow + 1))
	done
	[ $slow -le 3 ] || die "$slow of 8 requests waited for the silent node"
	grep -q "node b1 left a hand-off unanswered: no new flows to it for" "$WORK/ctl-dir.log" ||
		die "the silence was not logged"
}

# The COMMIT is lost with its channel (fault lose-commit: the director
# steers the flow, then drops the channel instead of sending it): the
# backend keeps the socket inert past its 2 s lease while the channel is
# down, asks again once it is back, and the director commits what it
# steers there.  The request is answered by b1, with no RST.
test_cluster_commit_lost() {
	local pcap=$WORK/cl-lost.pcap out t0 t1
	cluster_conf ""
	CL_FAULT_dir=lose-commit cluster_start
	cluster_app b1 one
	sleep 0.8
	capture_start "$pcap"
	t0=$(date +%s%N)
	out=$(cli curl -s -m 10 "http://$CB_VIP/one/lost"); echo "$out"
	t1=$(date +%s%N)
	capture_stop
	echo "answered after $(( (t1 - t0) / 1000000 )) ms"
	grep -q "app=one path=/one/lost node=b1" <<<"$out" || die "not served by b1: $out"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1")" 0 "RSTs seen by the client"
	out=$(metrics_get "$CB_NS_DIR" | grep 'connbroker_handoffs_total{node="b1",result="recommitted"}')
	echo "$out"
	[ "${out##* }" -ge 1 ] || die "no COMMIT sent again"
	grep -q "fault lose-commit" "$WORK/ctl-dir.log" || die "the channel was not dropped"
}

# The backend dies holding a COMMIT it never acted on (crash point
# before-live: its socket was still inert, and dies silently) and comes back
# within the grace.  The director repeats the COMMIT until it is answered:
# the new backend has no socket for the flow, says so (CLOSED), and the
# director resets the client, who had nothing to wait for; nothing hangs.
test_cluster_target_dies_at_commit() {
	local rc t0 t1 out
	cluster_conf ""
	CL_FAULT_b1=before-live cluster_start
	cluster_app b1 one
	sleep 0.8
	t0=$(date +%s%N)
	cli curl -s -m 15 -o /dev/null "http://$CB_VIP/one/x" &
	local req=$!; BG_PIDS+=("$req")
	wait "$CTL_b1" 2>/dev/null
	cluster_ctl b1          # no fault this time
	wait "$req"; rc=$?
	t1=$(date +%s%N)
	echo "the request ended with curl $rc after $(( (t1 - t0) / 1000000 )) ms"
	[ "$rc" = 56 ] || [ "$rc" = 52 ] || die "the client was not reset (curl $rc)"
	[ $(( (t1 - t0) / 1000000 )) -lt 6000 ] || die "reset only after $(( (t1 - t0) / 1000000 )) ms"
	grep -q "not live on its node; resetting the client" "$WORK/ctl-dir.log" ||
		die "the director did not reset the client"
	grep -q "down for 3000 ms" "$WORK/ctl-dir.log" && die "b1 was declared down"
	out=$(metrics_get "$CB_NS_DIR" | awk '/^connbroker_steered_flows /{print $2}')
	expect_eq "$out" 0 "steering left"
	# and b1 serves again
	cluster_app b1 one; sleep 0.5
	out=$(cli curl -s -m 5 "http://$CB_VIP/one/again"); echo "$out"
	grep -q "node=b1" <<<"$out" || die "b1 does not serve after its restart: $out"
}

# Every node can be both: the director directs service shop to b1 while b1
# directs service api2 (its own address, 198.18.0.101, attached at TC) to
# the director, in one configuration.  Both served from the far node,
# byte-exact, with no RST: TC steering (redirect out of the port it came
# in on) is exercised here, the director's XDP_TX in the other tests.
test_cluster_node_is_both() {
	local vip2=198.18.0.101 pcap=$WORK/cl-both.pcap out hdr sum ports filter
	cluster_conf "
[service api2]
listen = $vip2:80
default = two
placement = spread"
	# the director serves api2, b1 does not (it only directs it)
	sed -i '/^\[node dir\]/,/^services/ s/^services = shop$/services = shop, api2/' "$WORK/cluster.conf"
	grep -A3 '^\[node dir\]' "$WORK/cluster.conf" | grep -q 'services = shop, api2' || die "config edit"
	ip -n "$CB_NS_B1" addr add "$vip2/32" dev lo
	at_exit "ip -n $CB_NS_B1 addr del $vip2/32 dev lo"
	ip -n "$CB_NS_DIR" addr add "$vip2/32" dev lo
	at_exit "ip -n $CB_NS_DIR addr del $vip2/32 dev lo"
	ip -n "$CB_NS_CLIENT" route add "$vip2/32" via "$CB_IP_B1"
	at_exit "ip -n $CB_NS_CLIENT route del $vip2/32"
	cluster_start
	nsx "$CB_NS_B1" "$CB" attach "$CB_IF_B1" --service "$CB_VIP:80" --service "$vip2:80" --mode tc ||
		die "attach b1 with api2"
	cluster_app dir two; cluster_app b1 one
	sleep 0.8
	capture_start "$pcap" "tcp and (host $CB_VIP or host $vip2)"
	out=$(cli curl -s -m 5 -w '\nport=%{local_port}' "http://$vip2/two/x"); echo "$out"
	grep -q "app=two path=/two/x node=dir" <<<"$out" || die "api2 not served by the director: $out"
	ports=$(sed -n 's/^port=//p' <<<"$out")
	out=$(cli curl -s -m 5 -w '\nport=%{local_port}' "http://$CB_VIP/one/y"); echo "$out"
	grep -q "app=one path=/one/y node=b1" <<<"$out" || die "shop not served by b1: $out"
	ports="$ports $(sed -n 's/^port=//p' <<<"$out")"
	out=$(cli curl -s -m 20 -D "$WORK/both.hdr" -o "$WORK/both.body" -w '%{local_port}' \
		"http://$vip2/two/bytes/3000000") || die "download through b1 to the director"
	ports="$ports $out"
	capture_stop
	hdr=$(grep -i '^x-sha256' "$WORK/both.hdr" | tr -d '\r' | awk '{print $2}')
	sum=$(sha256sum "$WORK/both.body" | awk '{print $1}')
	expect_eq "$sum" "$hdr" "download bytes (directed by b1, served by the director)"
	# on this test's three connections (an earlier test's socket may still
	# be retransmitting to a client port that is gone, and be reset)
	filter="tcp.port in {$(sed "s/ \+/, /g" <<<"$ports")}"
	[ "$(tshark_count "$pcap" "$filter")" -gt 0 ] || die "the capture lacks the connections ($filter)"
	if [ "$(tshark_count "$pcap" "tcp.flags.reset==1 && $filter")" != 0 ]; then
		tshark -r "$pcap" -Y "tcp.flags.reset==1" 2>/dev/null | tail -n 5
		die "RSTs on this test's connections (ports $ports)"
	fi
	out=$(metrics_get "$CB_NS_B1" |
		grep 'connbroker_handoffs_total{node="dir",result="committed"}')
	expect_eq "${out##* }" 2 "hand-offs from b1 to the director"
	out=$(metrics_get "$CB_NS_DIR" | grep 'connbroker_handoffs_total{node="b1",result="committed"}')
	expect_eq "${out##* }" 1 "hand-offs from the director to b1"
}

# The control channel: garbage, a wrong key and a half TLS record are
# refused and counted; the controller keeps serving.
test_cluster_channel_rejects() {
	local out
	cluster_conf ""
	cluster_start
	cluster_app b1 one
	sleep 0.5
	cli python3 -c "
import socket, time
s = socket.create_connection(('$CB_IP_DIR', 9400)); s.sendall(b'GET / HTTP/1.0\r\n\r\n' * 10); time.sleep(0.3); s.close()
s = socket.create_connection(('$CB_IP_DIR', 9400)); s.sendall(b'\x16\x03\x01\x02\x00\x01'); s.close()
s = socket.create_connection(('$CB_IP_DIR', 9400)); s.sendall(bytes(range(256)) * 4); time.sleep(0.3); s.close()"
	echo | cli timeout 5 openssl s_client -connect "$CB_IP_DIR:9400" -tls1_3 \
		-psk "$(head -c 32 /dev/urandom | xxd -p | tr -d '\n')" -psk_identity connbroker-node-2 >/dev/null 2>&1
	sleep 0.5
	out=$(metrics_get "$CB_NS_DIR" | grep '^connbroker_peer_channel_closed_total'); echo "$out"
	[ "$(grep -c . <<<"$out")" -ge 2 ] || die "refusals not counted"
	kill -0 "$CTL_dir" || die "the director died"
	out=$(cli curl -s -m 5 "http://$CB_VIP/one/still"); echo "$out"
	grep -q "node=b1" <<<"$out" || die "the cluster stopped serving"
}

# check-config: the example parses; a broken file names its line, exit 1.
test_check_config() {
	local msg rc
	"$CB" check-config "$ROOT/examples/connbroker.conf" || die "example config rejected"
	printf '[service a]\nlisten = 198.18.0.1:80\n[rule r]\nservice = a\napp = ghost\npath_prefix = /\n' \
		> "$WORK/bad.conf"
	msg=$("$CB" check-config "$WORK/bad.conf" 2>&1); rc=$?
	expect_eq "$rc" 1 "broken config"
	grep -q "bad.conf:3: \[rule r\]: unknown app 'ghost'" <<<"$msg" || die "message: $msg"
	# bounded input: devices and binaries end at once with a message
	msg=$(timeout 5 "$CB" check-config /dev/zero 2>&1); rc=$?
	expect_eq "$rc" 1 "check-config /dev/zero"; echo "$msg"
	grep -q "/dev/zero:1: a NUL byte" <<<"$msg" || die "message: $msg"
	msg=$(timeout 5 "$CB" check-config /dev/urandom 2>&1); rc=$?
	expect_eq "$rc" 1 "check-config /dev/urandom"; echo "$msg"
}

# Hostile local users on the app socket (mode 0666 by default): a uid no app
# admits is closed at once; where an app admits any uid, 400 idle and 1,000
# one-shot connections of uid 65534 do not keep a real app from registering
# (within 1 s) and serving; REGISTER with bytes after a NUL is refused; the
# socket's mode and group come from the config, again after a reload.
test_app_socket_hostile_users() {
	local pub=$WORK/pub conf=$WORK/hu.conf sock out idle one web reg
	chmod 0711 "$WORK"; mkdir -m 0755 "$pub"; sock=$pub/ctl.sock
	hu_conf() {
		printf '[broker]\ninterface = %s\n%s\n[service s]\nlisten = %s:80\ndefault = web\n[app web]\n%b' \
			"$CB_IF_DIR" "$1" "$CB_VIP" "$2" > "$conf"
	}
	# uid 65534; /usr/bin/env: PATH may name a python3 under /root, which it cannot run.
	# Each execs the next, so $! of a command started with it is the process itself.
	local nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/env PATH=/usr/bin:/bin)
	hu_conf "" ""
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	ctl_start "$conf" "$sock" "$WORK/hu.log"
	# 1. only root's app: nobody is closed at once, and counted
	out=$("${nobody[@]}" timeout 10 python3 "$HERE/hostile.py" idle "$sock" 50 | head -n 1); echo "nobody, no app admits it: $out"
	expect_eq "$(jq -r .closed <<<"$out")" 50 "connections of a uid no app admits closed at once"
	metrics_get "$CB_NS_DIR" > "$WORK/hu1.txt" || die scrape
	grep -q '^connbroker_app_connections_refused_total{reason="uid"} 50$' "$WORK/hu1.txt" ||
		die "uid refusals: $(grep refused_total "$WORK/hu1.txt")"
	# 2. an app open to any uid: the flood is bounded per uid
	hu_conf "" "[app shared]\nuid = -1\n"
	kill -HUP "$CTL"; sleep 0.5
	"${nobody[@]}" python3 "$HERE/hostile.py" idle "$sock" 400 > "$WORK/idle.json" &
	idle=$!; BG_PIDS+=("$idle")
	"${nobody[@]}" python3 "$HERE/hostile.py" oneshot "$sock" 1000 > "$WORK/oneshot.json" &
	one=$!; BG_PIDS+=("$one")
	sleep 0.2
	reg=$(python3 "$HERE/hostile.py" register "$sock" web 20); echo "registration under the flood: $reg"
	awk -v s="$(jq -r .seconds <<<"$reg")" 'BEGIN { exit !(s != "null" && s < 1.0) }' ||
		die "a real app took more than 1 s to register: $reg"
	wait "$one"; cat "$WORK/oneshot.json"
	for _ in $(seq 30); do [ -s "$WORK/idle.json" ] && break; sleep 0.1; done
	out=$(cat "$WORK/idle.json"); echo "nobody, 400 idle: $out"
	[ "$(jq -r .closed <<<"$out")" -ge 384 ] || die "more than 16 idle connections kept: $out"
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" web > "$WORK/hu-web.log" 2>&1 &
	web=$!; BG_PIDS+=("$web")
	sleep 0.5
	out=$(cli curl -s -m 3 "http://$CB_VIP/served"); echo "$out"
	grep -q "app=web " <<<"$out" || die "the app was not served during the flood"
	# 3. strict messages: a NUL and junk after the name are refused
	out=$(python3 "$HERE/hostile.py" send "$sock" "$(printf 'REGISTER web' | xxd -p)00$(printf junk | xxd -p)")
	expect_eq "$out" "ERR expected one REGISTER <app>" "REGISTER web\\0junk"
	metrics_get "$CB_NS_DIR" > "$WORK/hu2.txt" || die scrape
	grep '^connbroker_app_connections_refused_total\|^connbroker_app_messages_bad' "$WORK/hu2.txt"
	awk '/^connbroker_app_connections_refused_total\{reason="per_uid"\}/ { exit !($2 >= 384) }' "$WORK/hu2.txt" ||
		die "per-uid refusals not counted"
	grep -q '^connbroker_app_messages_bad_total [1-9]' "$WORK/hu2.txt" || die "bad message not counted"
	kill "$idle" 2>/dev/null; wait "$idle" 2>/dev/null
	# 4. the socket's mode from the config, applied by a reload
	hu_conf "socket_mode = 0600" "[app shared]\nuid = -1\n"
	kill -HUP "$CTL"; sleep 0.5
	expect_eq "$(stat -c %a "$sock")" 600 "socket mode after the reload"
	out=$("${nobody[@]}" timeout 10 python3 "$HERE/hostile.py" idle "$sock" 5 | head -n 1); echo "mode 0600: $out"
	expect_eq "$(jq -r .refused <<<"$out")" 5 "connect() refused by the mode"
	kill "$web" 2>/dev/null
	kill -TERM "$CTL"; wait "$CTL"
	grep "refused" "$WORK/hu.log" | head -n 5
	return 0
}

# The metrics endpoint under a slowloris (32 connections from 8 addresses,
# a byte every 0.5 s) and a 1,000-connection flood: scrapes from elsewhere
# still get through, and no slow connection stays open much past 3 s.
test_metrics_endpoint_bounded() {
	local conf=$WORK/mb.conf i ok slow flood out srcs=()
	printf '[broker]\ninterface = %s\nmetrics = %s:9464\n[service s]\nlisten = %s:80\ndefault = web\n[app web]\n' \
		"$CB_IF_DIR" "$CB_IP_DIR" "$CB_VIP" > "$conf"
	for i in $(seq 21 28); do
		ip -n "$CB_NS_CLIENT" addr add "198.18.0.$i/24" dev "$CB_IF_CLIENT" || die "address"
		at_exit "ip -n $CB_NS_CLIENT addr del 198.18.0.$i/24 dev $CB_IF_CLIENT"
		srcs+=("198.18.0.$i")
	done
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	ctl_start "$conf" "$WORK/mb.sock" "$WORK/mb.log"
	scrapes() {     # scrapes from backend 1, one each 0.25 s for $1 s: how many answered
		local n=0 j
		for j in $(seq $(($1 * 4))); do
			nsx "$CB_NS_B1" curl -s -m 1 -o /dev/null -w '%{http_code}\n' "http://$CB_IP_DIR:9464/metrics" |
				grep -q 200 && n=$((n + 1))
			sleep 0.25
		done
		echo "$n"
	}
	cli python3 "$HERE/hostile.py" slowloris "$CB_IP_DIR" 9464 32 8 "${srcs[@]}" > "$WORK/slow.json" &
	slow=$!; BG_PIDS+=("$slow")
	sleep 0.5
	ok=$(scrapes 6); echo "scrapes during the slowloris: $ok of 24"
	[ "$ok" -ge 22 ] || die "scrapes blocked by a slowloris: $ok of 24"
	wait "$slow"; out=$(cat "$WORK/slow.json"); echo "slowloris: $out"
	awk -v s="$(jq -r .longest_open_s <<<"$out")" 'BEGIN { exit !(s < 5.0) }' ||
		die "a slow connection stayed open too long: $out"
	cli python3 "$HERE/hostile.py" flood "$CB_IP_DIR" 9464 1000 6 > "$WORK/flood.json" &
	flood=$!; BG_PIDS+=("$flood")
	sleep 1
	ok=$(scrapes 4); echo "scrapes during the 1,000-connection flood: $ok of 16"
	[ "$ok" -ge 15 ] || die "scrapes blocked by a connection flood: $ok of 16"
	wait "$flood"
	kill -TERM "$CTL"; wait "$CTL"
	return 0
}

# ---- runner -----------------------------------------------------------------
ALL_TESTS=(test_handshake_native test_handshake_skb test_handshake_tc test_client_options_off
	   test_egress_guard_blocks_kernel_rst test_bpftool_map_dump test_loader_behaviour
	   test_syn_flood_stateless
	   test_xdp_filter_beside_tc test_xdp_filter_beside_xdp test_check_config
	   test_controller_end_to_end test_controller_sigkill_restart test_controller_wrk
	   test_keepalive_per_request
	   test_controller_tls_sni test_controller_on_demand test_controller_fail_closed
	   test_controller_repair_failure_resets test_controller_per_source_bound
	   test_controller_restart_after_handoff test_controller_restart_after_build
	   test_controller_restart_after_steer
	   test_controller_reload
	   test_controller_exits_without_interface test_two_namespaces_same_ifname
	   test_detach_force_orphans test_tc_mode_serves_redirected
	   test_materialized_matches_accepted test_first_response_loss
	   test_materialized_without_rtt_probe test_repeat_client_skips_rtt_probe
	   test_unknown_segment_reset test_native_challenge_acks test_controller_resets_vanished_flow
	   test_controller_reuses_time_wait_tuple
	   test_cluster_routes_by_path test_cluster_live_migration test_cluster_keepalive_per_request
	   test_cluster_move_target_dies_after_ship test_cluster_move_target_dies_after_prepared
	   test_cluster_move_target_dies_before_live test_cluster_migrate_cli test_cluster_drain
	   test_cluster_spills_when_saturated test_cluster_backend_dies
	   test_cluster_restarts_keep_flows test_cluster_commit_lost test_cluster_node_is_both
	   test_cluster_target_dies_at_commit
	   test_cluster_channel_rejects test_cluster_refused_goes_elsewhere
	   test_cluster_silent_target_and_nowhere
	   test_app_socket_hostile_users test_metrics_endpoint_bounded)
# more tests, each file appending its own to ALL_TESTS
for f in "$HERE"/tests_*.sh; do
	[ -e "$f" ] || continue
	# shellcheck source=/dev/null
	source "$f"
done
if [ $# -gt 0 ]; then TESTS=("$@"); else TESTS=("${ALL_TESTS[@]}"); fi

[ "$(id -u)" -eq 0 ] || { echo "integration tests need root"; exit 1; }
topo_up || { echo "topology setup failed"; exit 1; }

# Stop every process left in the topology's namespaces (TERM, then KILL).
reap_namespaces() {
	local ns pids
	for ns in $CB_ALL_NS; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] || continue
		echo "runner: left running in $ns, stopped: $(ps -o pid=,args= -p "${pids//$'\n'/,}" | tr '\n' ';')"
		kill $pids 2>/dev/null
		sleep 0.3
		kill -KILL $(ip netns pids "$ns" 2>/dev/null) 2>/dev/null
	done
	return 0
}

passed=0 failed=0 skipped=0
for t in "${TESTS[@]}"; do
	log="$WORK/$t.log"
	# every check in a test is explicit (die/expect_eq): no set -e, which
	# would also fire on the expected non-zero exits the tests examine
	# the subshell kills what its test started, even when the test dies
	# and runs the CLEANUP commands a test registered (at_exit)
	# (SIGCONT too: a test may have stopped one, which a SIGTERM alone
	# leaves stopped, and wait with it)
	( trap 'for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; kill -CONT "$p" 2>/dev/null; done; wait
		for c in "${CLEANUP[@]}"; do eval "$c"; done' EXIT; "$t" ) >"$log" 2>&1
	rc=$?
	# what the test started in its namespaces and did not stop (an app
	# started through a shell function leaves its own pid unknown, and apps
	# outlive their controller since they reconnect): stopped here, named
	reap_namespaces >> "$log"
	dir "$CB" detach "$CB_IF_DIR" >/dev/null 2>&1
	dir xdp-filter unload "$CB_IF_DIR" >/dev/null 2>&1
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1)); echo "[PASS] $t"
		# NET_VERBOSE=1: a passing test's output too (its figures)
		[ -n "${NET_VERBOSE:-}" ] && sed 's/^/    /' "$log"
	elif [ $rc -eq $SKIP ]; then
		skipped=$((skipped + 1)); echo "[SKIP] $t: $(tail -n 1 "$log")"
	else
		failed=$((failed + 1)); echo "[FAIL] $t"; sed 's/^/    /' "$log" | tail -n 25
	fi
done
echo "net: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
