#!/usr/bin/env bash
# make bench: measured figures, each side by side with its baseline from the
# same run on the same topology and generator.  Not a test: it asserts nothing.
#
#  1. SYN-ACKs per second: connbroker's XDP SYN cookies (native and skb modes,
#     and the TC hook) vs the kernel's own SYN cookies (tcp_syncookies=2 with a
#     listener), under the same trafgen SYN flood pinned to one CPU.
#  2. Map memory per unbound flow (bpftool's memlock of the flow table).
#  3. New connections per second and latency p50/p99 (wrk, Connection: close)
#     for (a) connbroker -> the C app, (b) the same app accepting from the
#     kernel, (c) HAProxy routing by path to the same app; ratios to (b).
#  4. Hand-off to a peer: director CPU per GB and throughput vs HAProxy
#     proxying, and the hand-off time idle and under load.
#  5. Per-request routing on keep-alive: requests/s when every request of a
#     keep-alive connection is routed by its own path (route = per-request)
#     vs the same load with one app per connection.
#  6. Live migration between two backends: the pause the client sees at each
#     move (p50/p99) and moves per second.
#  3b. Controller workers: new connections/s and the controller's CPU per
#     connection with 1 and 2 workers (attach --workers), the same C app,
#     runs interleaved, medians of 3; the kernel's accept as the base.
#  7. nginx under `connbroker exec` vs nginx on its own kernel listener
#     (EXEC_WORKERS=2: the controller with two workers).
#
# BENCH_SECTIONS="3 7" runs only those sections (default: all; 1b is the
# IPv6-vs-IPv4 program time of section 1).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CB="$ROOT/build/connbroker"
# shellcheck source=../tests/net/topology.sh
source "$ROOT/tests/net/topology.sh"
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
TG=$(mktemp /tmp/cb-bench.XXXXXX.trafgen)
LISTENER_PID=
BG=()

cleanup() {
	[ -n "$LISTENER_PID" ] && kill "$LISTENER_PID" 2>/dev/null || true
	[ -n "${PASS_PIN:-}" ] && rm -f "$PASS_PIN"
	for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; done
	topo_down
	rm -f "$TG"
	[ -n "${WORK:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT

tx_packets() { ip -n "$CB_NS_CLIENT" -j -s link show "$CB_IF_CLIENT" | jq '.[0].stats64.tx.packets'; }

# A SYN with Linux's usual options from random sources in 198.18.1.0/24
# (routed back to the client host, which drops the SYN-ACKs without RSTs).
write_trafgen() {
	local dmac cmac
	dmac=$(ip -n "$CB_NS_DIR" -j link show "$CB_IF_DIR" | jq -r '.[0].address' | sed 's/^/0x/; s/:/, 0x/g')
	cmac=$(ip -n "$CB_NS_CLIENT" -j link show "$CB_IF_CLIENT" | jq -r '.[0].address' | sed 's/^/0x/; s/:/, 0x/g')
	cat > "$TG" <<TGEOF
{
  $dmac, $cmac, 0x08, 0x00,
  0x45, 0x00, const16(60), drnd(2), 0x40, 0x00, 64, 6, csumip(14, 33),
  198, 18, 1, drnd(), 198, 18, 0, 100,
  drnd(2), const16(80), drnd(4), const32(0), 0xa0, 0x02, const16(64240), csumtcp(14, 34), const16(0),
  0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, drnd(4), const32(0), 0x01, 0x03, 0x03, 0x07
}
TGEOF
}

# Flood for SECONDS_PER_RUN on CPU 0; prints "offered_pps".
flood() {
	local before after
	before=$(tx_packets)
	nsx "$CB_NS_CLIENT" timeout "$SECONDS_PER_RUN" taskset -c 0 \
		trafgen -i "$TG" -o "$CB_IF_CLIENT" -q --cpus 1 >/dev/null 2>&1 || true
	after=$(tx_packets)
	echo $(( (after - before) / SECONDS_PER_RUN ))
}

cb_counter() { nsx "$CB_NS_DIR" "$CB" -j status "$CB_IF_DIR" | jq -r ".[0].counters.$1"; }

# The SYN figures have no controller running: a heartbeat an hour ahead
# keeps the programs on the path a live controller gives them (fail closed
# checks the beat on every SYN; without one every SYN would be refused).
fresh_beat() {
	bpftool map update pinned "$(topo_pins "$CB_NS_DIR" "$CB_IF_DIR")/cb_controller" key 0 0 0 0 \
		value $(python3 -c "import struct, time
print(' '.join(str(b) for b in struct.pack('<QII', time.monotonic_ns() + 3600 * 10**9, 1, 0)))")
}

bench_connbroker() {   # mode -> "answered_pps offered_pps ns_per_packet_in_program"
	local mode=$1 offered sent id ns
	nsx "$CB_NS_DIR" "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --mode "$mode" >/dev/null
	fresh_beat
	id=$(nsx "$CB_NS_DIR" "$CB" -j status "$CB_IF_DIR" | jq -r '.[0] | if .xdp_prog_id > 0 then .xdp_prog_id else .tc_ingress_id end')
	offered=$(flood)
	sent=$(cb_counter syn_cookie_sent)
	ns=$(bpftool -j prog show id "$id" | jq -r 'if .run_cnt > 0 then (.run_time_ns / .run_cnt | floor) else 0 end')
	nsx "$CB_NS_DIR" "$CB" detach "$CB_IF_DIR" >/dev/null
	echo "$(( sent / SECONDS_PER_RUN )) $offered $ns"
}

# The generator and the veth hop alone, on the receive path of each hook: a
# program that drops every packet (tests/net/xdp_drop.bpf.c) on the director,
# native XDP, generic XDP, or TC ingress (the kernel's own path: no XDP
# program, so veth hands packets to the stack as it does for the kernel's
# syncookies); prints "dropped_pps".
bench_drop() {   # native | skb | tc
	local id runs
	case $1 in
	native|skb)
		ip -n "$CB_NS_DIR" link set dev "$CB_IF_DIR" "$([ "$1" = native ] && echo xdpdrv || echo xdpgeneric)" \
			obj "$ROOT/build/xdp_drop.bpf.o" sec xdp
		id=$(ip -n "$CB_NS_DIR" -j link show "$CB_IF_DIR" | jq -r '.[0].xdp.prog.id')
		;;
	tc)
		nsx "$CB_NS_DIR" tc qdisc add dev "$CB_IF_DIR" clsact
		nsx "$CB_NS_DIR" tc filter add dev "$CB_IF_DIR" ingress bpf da obj "$ROOT/build/xdp_drop.bpf.o" sec tc
		id=$(nsx "$CB_NS_DIR" tc -j filter show dev "$CB_IF_DIR" ingress | jq -r '[.[] | .options.prog.id // empty][0]')
		;;
	esac
	flood >/dev/null
	runs=$(bpftool -j prog show id "$id" | jq -r '.run_cnt')
	case $1 in
	native) ip -n "$CB_NS_DIR" link set dev "$CB_IF_DIR" xdpdrv off ;;
	skb) ip -n "$CB_NS_DIR" link set dev "$CB_IF_DIR" xdpgeneric off ;;
	tc) nsx "$CB_NS_DIR" tc qdisc del dev "$CB_IF_DIR" clsact ;;
	esac
	echo $(( runs / SECONDS_PER_RUN ))
}

bench_kernel() {
	local offered sent
	nsx "$CB_NS_DIR" sysctl -qw net.ipv4.tcp_syncookies=2
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('$CB_VIP', 80)); s.listen(128); time.sleep(3600)" &
	LISTENER_PID=$!
	sleep 0.5
	nsx "$CB_NS_DIR" nstat -n >/dev/null
	offered=$(flood)
	sent=$(nsx "$CB_NS_DIR" nstat -az TcpExtSyncookiesSent | awk '/TcpExtSyncookiesSent/ {print $2}')
	kill "$LISTENER_PID"; wait "$LISTENER_PID" 2>/dev/null || true; LISTENER_PID=
	echo "$(( sent / SECONDS_PER_RUN )) $offered"
}

APP="$ROOT/build/http_app"
WRK_SECONDS=${WRK_SECONDS:-5}
WRK_CONNS=${WRK_CONNS:-50}
WORK=$(mktemp -d /tmp/cb-bench.XXXXXX)
BG_START() { nsenter --net=/run/netns/"$CB_NS_DIR" "$@" >/dev/null 2>&1 & BG+=($!); }
med3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
# BENCH_SECTIONS="3 7" runs only those sections (default: all of them).
BENCH_SECTIONS=${BENCH_SECTIONS:-1 1b 2 3 3b 3c 4 5 6 7}
want() { [[ " $BENCH_SECTIONS " == *" $1 "* ]]; }

topo_up
nsx "$CB_NS_DIR" ip route add 198.18.1.0/24 via "$CB_IP_CLIENT"
# The load generator's own limits, as on any wrk host: at 30-40k new
# connections/s the few that the client closes first (wrk closes as soon as
# it has the answer, a race with the server's FIN) leave TIME_WAIT sockets
# that fill the even half of the default 28k-port range within a minute,
# and then connect() spends its time in the port search (seen: 1,000 req/s
# with wrk at 100 % system time in __inet_check_established).  Both sides
# of every comparison run on this client.
nsx "$CB_NS_CLIENT" sysctl -qw net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1
write_trafgen

if want 1; then
echo "connbroker bench: $(nproc) CPUs, kernel $(uname -r), ${SECONDS_PER_RUN}s per run,"
echo "trafgen SYN flood pinned to CPU 0 from 198.18.1.0/24 (generator and receiver share the machine)"
echo
read -r k_pps k_off < <(bench_kernel)
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
declare -A drop_pps
for m in native skb tc; do drop_pps[$m]=$(bench_drop "$m"); done
# ns per answered SYN on the one CPU that runs everything, less what the
# generator and the veth hop cost per packet on the same receive path (the
# drop run of that hook; the kernel's: TC).  Valid while every SYN offered
# is answered (the generator's own cost is then the same per packet).
path_ns() { awk -v a="$1" -v d="${drop_pps[$2]}" 'BEGIN { printf "%.0f", a && d ? 1e9 / a - 1e9 / d : 0 }'; }
k_path=$(path_ns "$k_pps" tc)
printf '%-34s %12s %12s %8s %14s %12s %8s\n' "SYN-ACKs per second" "answered/s" "offered/s" "ratio" \
	"ns/pkt in prog" "path ns/SYN" "ratio"
printf '%-34s %12d %12d %8s %14s %12s %8s\n' "kernel syncookies (baseline)" "$k_pps" "$k_off" "1.00" "-" \
	"$k_path" "1.00"
for mode in native skb tc; do
	read -r pps off ns < <(bench_connbroker "$mode")
	p=$(path_ns "$pps" "$mode")
	printf '%-34s %12d %12d %8s %14s %12s %8s\n' "connbroker cookies, $mode" "$pps" "$off" \
		"$(awk -v a="$pps" -v b="$k_pps" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" "$ns" "$p" \
		"$(awk -v a="$p" -v b="$k_path" 'BEGIN { printf "%.2f", b ? a / b : 0 }')"
done
sysctl -qw kernel.bpf_stats_enabled="$old_stats"
echo "(one CPU runs the generator, the veth hop and the answer, so answered/s is per core"
echo " for the whole path and the ratio understates the handler-only difference; path ns/SYN"
echo " is that CPU's time per answered SYN less its time per packet when a program on the same"
echo " hook drops every packet (native ${drop_pps[native]}, skb ${drop_pps[skb]}, tc and kernel ${drop_pps[tc]}"
echo " packets/s): the answer's own cost, kernel or connbroker)"
fi

# ---- 1b. the program alone: SYNs, and packets that are not for a service --
# One run of the attached XDP program on one frame (build/prog-time: a
# bpf_prog_test_run per run, the median of SYN_RUNS; tests/bench/prog_time.c
# says why not `bpftool prog run ... repeat`), frames interleaved over
# SYN_ROUNDS rounds, the median round.  No veth, no generator: the cost of
# the program itself.  The baseline for a packet that is not for a service
# (a SYN to another port) is an XDP program that passes everything
# (tests/net/xdp_pass.bpf.c) on the same frame.
SYN_RUNS=${SYN_RUNS:-20000}
SYN_ROUNDS=${SYN_ROUNDS:-5}
syn_frame() {   # family dport file
	python3 - "$1" "$2" "$3" <<'PYEOF'
import struct, sys
fam, dport, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
opts = bytes([2, 4, 5, 0xb4, 4, 2, 8, 10]) + struct.pack("!II", 12345, 0) + bytes([1, 3, 3, 7])
tcp = struct.pack("!HHIIBBHHH", 40000, dport, 1000000, 0, (20 + len(opts)) // 4 << 4, 0x02, 64240, 0, 0) + opts
eth = bytes.fromhex("020000000002020000000001")
if fam == "4":
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0,
                     bytes([198, 18, 0, 1]), bytes([198, 18, 0, 100]))
    frame = eth + b"\x08\x00" + ip + tcp
else:
    ip = (struct.pack("!IHBB", 0x60000000, len(tcp), 6, 64) +
          bytes.fromhex("20010db8000000000000000000000001") +     # 2001:db8::1
          bytes.fromhex("20010db8000000000000000000000100"))      # 2001:db8::100
    frame = eth + b"\x86\xdd" + ip + tcp
open(out, "wb").write(frame)
PYEOF
}
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
syn_family_bench() {
	local id pass_id pin f4 f6 fo i v4=() v6=() vo=() vp=() vv=() r4 r6 a b o p w
	f4=$(mktemp /tmp/cb-syn4.XXXXXX) f6=$(mktemp /tmp/cb-syn6.XXXXXX) fo=$(mktemp /tmp/cb-other.XXXXXX)
	pin=/sys/fs/bpf/cb-bench-xdp-pass-$$ PASS_PIN=$pin
	syn_frame 4 80 "$f4"; syn_frame 6 80 "$f6"; syn_frame 4 22 "$fo"
	bpftool prog load "$ROOT/build/xdp_pass.bpf.o" "$pin" type xdp
	pass_id=$(bpftool -j prog show pinned "$pin" | jq -r .id)
	# the TC program on the same frames, its rounds alternated with the XDP
	# ones (an attach each): bpf_prog_test_run gives it a linear skb, as a
	# NIC's receive path does for a SYN (trafgen's are paged: section 1's TC
	# figure includes pulling them linear)
	local tc_id t4 tv t4r=() tvr=()
	for i in $(seq 1 "$SYN_ROUNDS"); do
		nsx "$CB_NS_DIR" "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --service "[$CB_VIP6]:80" >/dev/null
		fresh_beat
		id=$(nsx "$CB_NS_DIR" "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].xdp_prog_id')
		read -r a r4 < <(taskset -c 1 "$ROOT/build/prog-time" "$id" "$f4" "$SYN_RUNS"); v4+=("$a")
		read -r a r6 < <(taskset -c 1 "$ROOT/build/prog-time" "$id" "$f6" "$SYN_RUNS"); v6+=("$a")
		read -r a _ < <(taskset -c 1 "$ROOT/build/prog-time" "$id" "$fo" "$SYN_RUNS"); vo+=("$a")
		read -r a _ < <(taskset -c 1 "$ROOT/build/prog-time" "$pass_id" "$fo" "$SYN_RUNS"); vp+=("$a")
		# the TCP source port (offset 34) other on every run
		read -r a _ < <(taskset -c 1 "$ROOT/build/prog-time" "$id" "$f4" "$SYN_RUNS" 34); vv+=("$a")
		nsx "$CB_NS_DIR" "$CB" detach "$CB_IF_DIR" >/dev/null
		nsx "$CB_NS_DIR" "$CB" attach "$CB_IF_DIR" --mode tc --service "$CB_VIP:80" >/dev/null
		fresh_beat
		tc_id=$(nsx "$CB_NS_DIR" "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].tc_ingress_id')
		read -r a _ < <(taskset -c 1 "$ROOT/build/prog-time" "$tc_id" "$f4" "$SYN_RUNS"); t4r+=("$a")
		read -r a _ < <(taskset -c 1 "$ROOT/build/prog-time" "$tc_id" "$f4" "$SYN_RUNS" 34); tvr+=("$a")
		nsx "$CB_NS_DIR" "$CB" detach "$CB_IF_DIR" >/dev/null
	done
	rm -f "$pin"; PASS_PIN=
	rm -f "$f4" "$f6" "$fo"
	a=$(median "${v4[@]}") b=$(median "${v6[@]}") o=$(median "${vo[@]}") p=$(median "${vp[@]}")
	w=$(median "${vv[@]}")
	ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }
	echo
	printf '%-44s %10s %8s %10s   (%s)\n' "one XDP run on one frame" "ns" "ratio" "ns - pass" "bpf_prog_test_run, medians of $SYN_ROUNDS rounds x $SYN_RUNS runs"
	printf '%-44s %10s %8s %10s   runs: %s\n' "IPv4 SYN, answered (XDP_TX: $r4) (baseline)" "$a" "1.00" "$((a - p))" "${v4[*]}"
	printf '%-44s %10s %8s %10s   runs: %s\n' "IPv6 SYN, answered (XDP_TX: $r6)" "$b" "$(ratio "$b" "$a")" "$((b - p))" "${v6[*]}"
	printf '%-44s %10s %8s %10s   runs: %s\n' "IPv4 SYN, another source port every run" "$w" "$(ratio "$w" "$a")" "$((w - p))" "${vv[*]}"
	t4=$(median "${t4r[@]}") tv=$(median "${tvr[@]}")
	printf '%-44s %10s %8s %10s   runs: %s\n' "TC program, IPv4 SYN (vs the XDP row)" "$t4" "$(ratio "$t4" "$a")" "$((t4 - p))" "${t4r[*]}"
	printf '%-44s %10s %8s %10s   runs: %s\n' "TC, another source port every run (vs XDP)" "$tv" "$(ratio "$tv" "$w")" "$((tv - p))" "${tvr[*]}"
	printf '%-44s %10s %8s %10s   runs: %s\n' "pass-everything XDP program (baseline)" "$p" "1.00" "0" "${vp[*]}"
	printf '%-44s %10s %8s %10s   runs: %s\n' "connbroker on a SYN to a port not served" "$o" "$(ratio "$o" "$p")" "$((o - p))" "${vo[*]}"
	echo "(each figure includes what a run of any program costs here, the pass-everything row:"
	echo " \"ns - pass\" is the program's own time.  One frame over and over keeps its map slots"
	echo " in cache; another source port every run moves the cookie and its hint slot, as a flood"
	echo " of varied SYNs does; section 1 gives the figure under a real flood)"
}
want 1b && syn_family_bench

if want 2; then
echo
nsx "$CB_NS_DIR" "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" >/dev/null
read -r memlock entries ksz vsz < <(bpftool -j map show pinned "$(topo_pins "$CB_NS_DIR" "$CB_IF_DIR")/cb_flows" |
	jq -r '"\(.bytes_memlock) \(.max_entries) \(.bytes_key) \(.bytes_value)"')
nsx "$CB_NS_DIR" "$CB" detach "$CB_IF_DIR" >/dev/null
printf 'flow table: %d bytes memlock for %d entries = %d bytes per unbound flow (key %d B + value %d B + the hash element'"'"'s and its bucket'"'"'s overhead)\n' \
	"$memlock" "$entries" $(( memlock / entries )) "$ksz" "$vsz"
fi

# ---- 3. connections per second and latency ------------------------------------

if want 3; then
# wrk with a new connection per request; prints "req/s p50_ms p99_ms errors"
measure() {
	local out
	out=$(nsx "$CB_NS_CLIENT" wrk -t2 -c"$WRK_CONNS" -d"$WRK_SECONDS" --latency -H "Connection: close" "$1" 2>&1)
	awk -v errs="$(grep -c 'Socket errors\|Non-2xx' <<<"$out")" '
		function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
		/Requests\/sec/ { rps = $2 } /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
		END { printf "%d %.3f %.3f %d\n", rps, p50, p99, errs }' <<<"$out"
}

cat > "$WORK/haproxy.cfg" <<HAP
global
    maxconn 8000
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind $CB_IP_DIR:8081
    use_backend api if { path_beg /api/ }
    default_backend web
backend web
    server s1 $CB_IP_DIR:8080
backend api
    server s1 $CB_IP_DIR:8080
HAP
printf '[broker]\ninterface = %s\nmetrics = off\n[service s]\nlisten = %s:80\ndefault = web\nqueue = 4096\n[rule api]\nservice = s\npath_prefix = /api/\napp = web\n[app web]\n' \
	"$CB_IF_DIR" "$CB_VIP" > "$WORK/cb.conf"

BG_START "$APP" --app direct --listen "$CB_IP_DIR:8080"
BG_START haproxy -db -f "$WORK/haproxy.cfg"
nsx "$CB_NS_DIR" "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" >/dev/null
BG_START "$CB" run --config "$WORK/cb.conf" --socket "$WORK/cb.sock"
sleep 0.5
BG_START "$APP" --app web --socket "$WORK/cb.sock"
sleep 0.5

read -r b_rps b_p50 b_p99 b_err < <(measure "http://$CB_IP_DIR:8080/api/x")
read -r a_rps a_p50 a_p99 a_err < <(measure "http://$CB_VIP/api/x")
read -r c_rps c_p50 c_p99 c_err < <(measure "http://$CB_IP_DIR:8081/api/x")
echo
echo "new connections (wrk -c$WRK_CONNS -d${WRK_SECONDS}s, Connection: close, the same C app behind each)"
printf '%-40s %10s %8s %9s %9s %8s %6s\n' "" "conn/s" "ratio" "p50 ms" "p99 ms" "p99 x" "errors"
row() {
	printf '%-40s %10d %8s %9.3f %9.3f %8s %6d\n' "$1" "$2" \
		"$(awk -v a="$2" -v b="$b_rps" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" "$3" "$4" \
		"$(awk -v a="$4" -v b="$b_p99" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" "$5"
}
row "(b) app accepting from the kernel (base)" "$b_rps" "$b_p50" "$b_p99" "$b_err"
row "(a) connbroker -> app (TCP_REPAIR)" "$a_rps" "$a_p50" "$a_p99" "$a_err"
row "(c) HAProxy routing by path -> app" "$c_rps" "$c_p50" "$c_p99" "$c_err"
nsx "$CB_NS_DIR" "$CB" detach "$CB_IF_DIR" >/dev/null
for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null
BG=()
fi

# ---- 3b. controller workers ---------------------------------------------------
# The same C app behind connbroker attached with --workers 1 and --workers 2
# (a fresh attach each run: the workers are the attachment's), and on its
# own kernel listener (base); wrk -c$WRK_CONNS, Connection: close.  Runs
# interleaved, medians of 3.  "ctl µs": the controller's CPU (every thread)
# per connection, from /proc over the run.  On this 2-CPU machine wrk, the
# app and the controller share both CPUs: the figure says what a second
# worker gives when the CPUs are not the controller's alone.
if want 3b; then
wk_conf() {
	printf '[broker]\ninterface = %s\nmetrics = off\n[service s]\nlisten = %s:80\ndefault = web\nqueue = 4096\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$WORK/wk.conf"
}
# "conn/s ctl_us_per_conn p99_ms" for the URL (ctl pid $2, 0: none)
wk_measure() {
	local out c0=0 c1=0 hz
	hz=$(getconf CLK_TCK)
	[ "$2" != 0 ] && c0=$(awk '{ print $14 + $15 }' "/proc/$2/stat")
	out=$(nsx "$CB_NS_CLIENT" wrk -t2 -c"$WRK_CONNS" -d"$WRK_SECONDS" --latency -H "Connection: close" "$1" 2>&1)
	[ "$2" != 0 ] && c1=$(awk '{ print $14 + $15 }' "/proc/$2/stat")
	awk -v c=$(( c1 - c0 )) -v hz="$hz" '
		function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
		/requests in/ { n = $1 } /Requests\/sec/ { r = $2 } /^ +99%/ { p99 = ms($2) } /Socket errors|Non-2xx/ { e = 1 }
		END { printf "%d%s %.1f %.2f\n", r, e ? "(errors)" : "", n ? c * 1e6 / hz / n : 0, p99 }' <<<"$out"
}
# one run through connbroker with $1 workers
wk_run() {
	local ctl r
	nsx "$CB_NS_DIR" "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --workers "$1" >/dev/null
	nsenter --net=/run/netns/"$CB_NS_DIR" "$CB" run --config "$WORK/wk.conf" --socket "$WORK/wk.sock" >/dev/null 2>&1 &
	ctl=$!
	sleep 0.5
	nsenter --net=/run/netns/"$CB_NS_DIR" "$APP" --app web --socket "$WORK/wk.sock" >/dev/null 2>&1 &
	local app=$!
	sleep 0.3
	r=$(wk_measure "http://$CB_VIP/w" "$ctl")
	kill "$app" "$ctl" 2>/dev/null; wait "$app" "$ctl" 2>/dev/null || true
	nsx "$CB_NS_DIR" "$CB" detach "$CB_IF_DIR" >/dev/null
	echo "$r"
}
wk_conf
BG_START "$APP" --app direct --listen "$CB_IP_DIR:8080"
sleep 0.3
kb=() w1=() w2=()
for rep in 1 2 3; do
	kb+=("$(wk_measure "http://$CB_IP_DIR:8080/w" 0)")
	w1+=("$(wk_run 1)")
	w2+=("$(wk_run 2)")
done
col() { local i=$1; shift; printf '%s\n' "$@" | awk -v i="$i" '{ print $i }'; }
K_R=$(med3 $(col 1 "${kb[@]}")) W1_R=$(med3 $(col 1 "${w1[@]}"))
echo
echo "controller workers: new connections (wrk -c$WRK_CONNS -d${WRK_SECONDS}s, Connection: close, the C app; medians of 3 interleaved runs)"
printf '%-44s %9s %9s %9s %9s %8s   %s\n' "" "conn/s" "x kernel" "x 1 wkr" "ctl µs" "p99 ms" "conn/s runs"
wk_row() {   # label runs...
	local label=$1 r k p; shift
	r=$(med3 $(col 1 "$@")) k=$(med3 $(col 2 "$@")) p=$(med3 $(col 3 "$@"))
	printf '%-44s %9s %9s %9s %9s %8s   %s\n' "$label" "$r" \
		"$(awk -v a="$r" -v b="$K_R" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" \
		"$(awk -v a="$r" -v b="$W1_R" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" "$k" "$p" \
		"$(col 1 "$@" | tr '\n' ' ')"
}
wk_row "app accepting from the kernel (base)" "${kb[@]}"
wk_row "connbroker, 1 worker" "${w1[@]}"
wk_row "connbroker, 2 workers" "${w2[@]}"
for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null
BG=()
fi

# ---- 3c. building a socket in TCP_REPAIR: system calls vs io_uring -----------
# The controller's socket build (cb_repair_build + cb_repair_go_live, ~15
# system calls a socket) against the same steps as io_uring chains, a batch
# of CB_FLOW_BATCH sockets in three io_uring_enter() calls
# (tests/bench/repair_time.c).  Nothing is sent: the sockets go live without
# a window probe and are closed in repair mode.
if want 3c; then
read -r _ RT_SYNC _ RT_URING < <(nsx "$CB_NS_DIR" taskset -c 1 "$ROOT/build/repair-time" \
	"$CB_IP_DIR" 198.18.1.1 4096 7)
echo
echo "one socket built in TCP_REPAIR, as a local hand-off builds it (4,096 a round, medians of 7 interleaved rounds)"
printf '%-52s %8s %6s\n' "" "ns" "ratio"
printf '%-52s %8s %6s\n' "a system call a step (the controller's way) (base)" "$RT_SYNC" "1.00"
printf '%-52s %8s %6s\n' "the same steps through io_uring, 32 sockets a batch" "$RT_URING" \
	"$(awk -v a="$RT_URING" -v b="$RT_SYNC" 'BEGIN { printf "%.2f", b ? a / b : 0 }')"
fi

# ---- 4. hand-off to a peer: director CPU per GB, throughput, hand-off time ----
# The director ships each connection to backend 1, which answers the client
# directly; the baseline is HAProxy on the director proxying to the same app
# on backend 1 (listening).  Director CPU = its process (controller or
# HAProxy) plus, for connbroker, the XDP program's run time (bpf_stats).
# Softirq time of the veth hops is in neither.
# A cluster's configuration into $1: service s (app $2, spread) on the
# director and the backends named after it (b1, b2) serving it.
head -c 32 /dev/urandom | xxd -p | tr -d '\n' > "$WORK/psk"   # the clusters' key (sections 4 and 6)
bench_cluster_conf() {
	local file=$1 app=$2 b id=2
	shift 2
	printf '[broker]\ncluster = bench\npsk_file = %s\n[service s]\nlisten = %s:80\ndefault = %s\nplacement = spread\n[app %s]\n[node dir]\nid = 1\ncontrol = %s:9400\n' \
		"$WORK/psk" "$CB_VIP" "$app" "$app" "$CB_IP_DIR" > "$file"
	for b in "$@"; do
		local ip=$CB_IP_B1; [ "$b" = b2 ] && ip=$CB_IP_B2
		printf '[node %s]\nid = %d\ncontrol = %s:9400\nservices = s\n' "$b" "$id" "$ip" >> "$file"
		id=$((id + 1))
	done
}
if want 4; then
BULK="$ROOT/tests/net/bulk_app.py"
bench_cluster_conf "$WORK/cluster.conf" bulk b1
cat > "$WORK/haproxy2.cfg" <<HAP
global
    maxconn 8000
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend fe
    bind $CB_IP_DIR:8082
    default_backend b1
backend b1
    server s1 $CB_IP_B1:8080
HAP
nsx "$CB_NS_DIR" "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" >/dev/null
nsx "$CB_NS_B1" "$CB" attach "$CB_IF_B1" --service "$CB_VIP:80" --mode tc >/dev/null
nsenter --net=/run/netns/"$CB_NS_DIR" "$CB" run --config "$WORK/cluster.conf" --interface "$CB_IF_DIR" \
	--node dir --socket "$WORK/dir.sock" >/dev/null 2>&1 & BG+=($!); DIR_CTL=$!
nsenter --net=/run/netns/"$CB_NS_B1" "$CB" run --config "$WORK/cluster.conf" --interface "$CB_IF_B1" \
	--node b1 --socket "$WORK/b1.sock" --metrics off >/dev/null 2>&1 & BG+=($!)
sleep 1.5
nsenter --net=/run/netns/"$CB_NS_B1" python3 "$BULK" "$WORK/b1.sock" bulk b1 >/dev/null 2>&1 & BG+=($!)
nsenter --net=/run/netns/"$CB_NS_B1" python3 "$BULK" --listen "$CB_IP_B1:8080" bulk b1 >/dev/null 2>&1 & BG+=($!)
nsenter --net=/run/netns/"$CB_NS_DIR" haproxy -db -f "$WORK/haproxy2.cfg" >/dev/null 2>&1 & BG+=($!); HAP_PID=$!
sleep 1

proc_cpu_ns() { awk '{ printf "%d\n", ($14 + $15) * 1e9 / 100 }' "/proc/$1/stat"; }     # utime+stime, USER_HZ 100
xdp_ns() { bpftool -j prog show 2>/dev/null | jq '[.[] | select(.name == "cb_xdp") | .run_time_ns // 0] | add // 0'; }

# N downloads of SIZE bytes from URL; prints "director_cpu_ns bytes seconds"
bulk_run() {
	local url=$1 size=$2 n=$3 pid=$4 with_xdp=$5 c0 c1 x0 x1 t0 t1 i
	c0=$(proc_cpu_ns "$pid"); x0=$([ "$with_xdp" = 1 ] && xdp_ns || echo 0); t0=$(date +%s%N)
	for i in $(seq 1 "$n"); do
		nsx "$CB_NS_CLIENT" curl -s -m 60 -o /dev/null "$url/bytes/$size" || echo "download failed" >&2
	done
	t1=$(date +%s%N); c1=$(proc_cpu_ns "$pid"); x1=$([ "$with_xdp" = 1 ] && xdp_ns || echo 0)
	echo "$(( c1 - c0 + x1 - x0 )) $(( size * n )) $(( t1 - t0 ))"
}

old_stats=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
echo
echo "hand-off to a peer: director CPU per GB and throughput (N downloads each, runs interleaved, medians of 3)"
printf '%-12s %-26s %14s %12s %10s\n' "response" "path" "director ms/GB" "MB/s" "CPU ratio"
for size in 1000000 10000000; do
	n=$(( size >= 10000000 ? 10 : 50 ))
	cb_cpu=() hp_cpu=() cb_mbs=() hp_mbs=()
	for rep in 1 2 3; do
		read -r cpu bytes ns < <(bulk_run "http://$CB_VIP" "$size" "$n" "$DIR_CTL" 1)
		cb_cpu+=("$(( cpu * 1000000000 / bytes ))"); cb_mbs+=("$(( bytes * 1000 / ns ))")
		read -r cpu bytes ns < <(bulk_run "http://$CB_IP_DIR:8082" "$size" "$n" "$HAP_PID" 0)
		hp_cpu+=("$(( cpu * 1000000000 / bytes ))"); hp_mbs+=("$(( bytes * 1000 / ns ))")
	done
	med() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
	c=$(med "${cb_cpu[@]}"); h=$(med "${hp_cpu[@]}")
	printf '%-12s %-26s %14.1f %12d %10s\n' "$((size / 1000000)) MB" "HAProxy proxying (base)" \
		"$(awk -v v="$h" 'BEGIN { print v / 1e6 }')" "$(med "${hp_mbs[@]}")" "1.00"
	printf '%-12s %-26s %14.1f %12d %10s\n' "$((size / 1000000)) MB" "connbroker hand-off (DSR)" \
		"$(awk -v v="$c" 'BEGIN { print v / 1e6 }')" "$(med "${cb_mbs[@]}")" \
		"$(awk -v a="$c" -v b="$h" 'BEGIN { printf "%.3f", b ? a / b : 0 }')"
done
sysctl -qw kernel.bpf_stats_enabled="$old_stats"

# hand-off time: first request byte at the director's hook -> the peer's DONE
# (its app holds the fd), as the director reports it in status
for i in $(seq 1 300); do nsx "$CB_NS_CLIENT" curl -s -m 2 -o /dev/null "http://$CB_VIP/h$i"; done
sleep 1.2
idle=$(nsx "$CB_NS_DIR" "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].controller.handoff_us | "\(.p50) \(.p99)"')
# where the idle time goes: the director's stages, and the backend's own two
stages=$(nsx "$CB_NS_DIR" "$CB" -j status "$CB_IF_DIR" |
	jq -r '.[0].controller.handoff_us.stages | "\(.decide.p50) \(.prepare.p50) \(.steer.p50) \(.commit.p50)"')
tstages=$(nsx "$CB_NS_B1" "$CB" -j status "$CB_IF_B1" |
	jq -r '.[0].controller.handoff_us.stages | "\(.build.p50) \(.live.p50)"')
nsx "$CB_NS_CLIENT" wrk -t2 -c"$WRK_CONNS" -d"$WRK_SECONDS" -H "Connection: close" "http://$CB_VIP/w" > "$WORK/wrk-peer.txt" 2>&1
sleep 1.2
load=$(nsx "$CB_NS_DIR" "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].controller.handoff_us | "\(.p50) \(.p99)"')
echo
echo "hand-off to a peer, first request byte at the director's hook -> the peer's DONE (its app has the fd)"
printf '%-40s %10s %10s\n' "" "p50 us" "p99 us"
printf '%-40s %10s %10s\n' "idle (300 sequential requests)" $idle
read -r s_dec s_prep s_steer s_commit <<<"$stages"; read -r t_build t_live <<<"$tstages"
printf '  idle p50 by stage: hook -> SHIP sent %s, -> PREPARED back %s (backend build %s), -> COMMIT sent %s,\n' \
	"$s_dec" "$s_prep" "$t_build" "$s_steer"
printf '  -> DONE back %s (backend live + fd to app %s) us; on 2 CPUs a woken peer often preempts the sender,\n' \
	"$s_commit" "$t_live"
echo "  so a stage may hold the other side's work"
printf '%-40s %10s %10s   (%s conn/s)\n' "under load (wrk -c$WRK_CONNS, Connection: close)" $load \
	"$(awk '/Requests\/sec/ { printf "%d", $2 }' "$WORK/wrk-peer.txt")"
for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null
BG=()
nsx "$CB_NS_DIR" "$CB" detach "$CB_IF_DIR" >/dev/null
nsx "$CB_NS_B1" "$CB" detach "$CB_IF_B1" >/dev/null
fi

# ---- 5. per-request routing on keep-alive ----------------------------------
# One controller, two services on the same app pair: port 80 routes every
# request (the apps release the connection after each answer), port 81 keeps
# a connection with the app of its first request.  wrk keep-alive, requests
# alternating between /api/ (app api) and / (app web); runs interleaved.
if want 5; then
cat > "$WORK/ka.conf" <<CONF
[broker]
interface = $CB_IF_DIR
metrics = off
[service pr]
listen = $CB_VIP:80
default = web
route = per-request
queue = 4096
[service pc]
listen = $CB_VIP:81
default = web
queue = 4096
[rule api-pr]
service = pr
path_prefix = /api/
app = api
[rule api-pc]
service = pc
path_prefix = /api/
app = api
[app web]
[app api]
CONF
cat > "$WORK/alt.lua" <<'LUA'
local n = 0
request = function()
	n = n + 1
	return wrk.format("GET", (n % 2 == 0) and "/api/x" or "/index.html")
end
LUA
nsx "$CB_NS_DIR" "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --service "$CB_VIP:81" >/dev/null
BG_START "$CB" run --config "$WORK/ka.conf" --socket "$WORK/ka.sock"
sleep 0.5
BG_START "$APP" --app web --socket "$WORK/ka.sock"
BG_START "$APP" --app api --socket "$WORK/ka.sock"
sleep 0.5
ka_rps() {
	nsx "$CB_NS_CLIENT" wrk -t2 -c"$WRK_CONNS" -d"$WRK_SECONDS" -s "$WORK/alt.lua" "$1" 2>&1 |
		awk '/Requests\/sec/ { printf "%d", $2 } /Socket errors|Non-2xx/ { e = 1 } END { if (e) printf " (errors)" }'
}
pr=() pc=()
for rep in 1 2 3; do
	pc+=("$(ka_rps "http://$CB_VIP:81/")")
	pr+=("$(ka_rps "http://$CB_VIP/")")
done
echo
echo "keep-alive requests/s (wrk -c$WRK_CONNS -d${WRK_SECONDS}s, alternating /api/ and /, medians of 3 interleaved runs)"
printf '%-58s %10s %8s   %s\n' "" "req/s" "ratio" "runs"
printf '%-58s %10s %8s   %s\n' "per connection: each connection stays with its first app (base)" \
	"$(med3 "${pc[@]}")" "1.00" "${pc[*]}"
printf '%-58s %10s %8s   %s\n' "per request: every request routed by its path (fd passed)" \
	"$(med3 "${pr[@]}")" "$(awk -v a="$(med3 "${pr[@]}")" -v b="$(med3 "${pc[@]}")" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" "${pr[*]}"
for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null
BG=()
nsx "$CB_NS_DIR" "$CB" detach "$CB_IF_DIR" >/dev/null
fi

# ---- 6. live migration: the pause a client sees at each move -----------------
# MIG_CONNS streams at once, each a numbered stream each way (2 MB/s down),
# moved between b1 and b2 every 0.5 s by the app (RELEASE to=stream@other);
# the director relays every move.  The pause of a move is the longest arrival
# gap around it at the client: the MOVES longest gaps of all clients, MOVES
# counted from the apps' logs (a chunk arrives every 2 ms between moves).
if want 6; then
MIG_CONNS=${MIG_CONNS:-8}
MIG_SECONDS=${MIG_SECONDS:-12}
STREAM="$ROOT/tests/net/stream_app.py"
bench_cluster_conf "$WORK/mig.conf" stream b1 b2
down=$(( 2000000 * MIG_SECONDS )) up=$(( 400000 * (MIG_SECONDS - 2) ))
nsx "$CB_NS_DIR" "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" >/dev/null
for n in b1:"$CB_NS_B1":"$CB_IF_B1":b2 b2:"$CB_NS_B2":"$CB_IF_B2":b1; do
	IFS=: read -r name ns ifn next <<<"$n"
	nsx "$ns" "$CB" attach "$ifn" --service "$CB_VIP:80" --mode tc >/dev/null
	nsenter --net=/run/netns/"$ns" "$CB" run --config "$WORK/mig.conf" --interface "$ifn" \
		--node "$name" --socket "$WORK/$name.sock" --metrics off >/dev/null 2>&1 & BG+=($!)
done
nsenter --net=/run/netns/"$CB_NS_DIR" "$CB" run --config "$WORK/mig.conf" --interface "$CB_IF_DIR" \
	--node dir --socket "$WORK/dir.sock" >/dev/null 2>&1 & BG+=($!)
sleep 1.5
for n in b1:"$CB_NS_B1":b2 b2:"$CB_NS_B2":b1; do
	IFS=: read -r name ns next <<<"$n"
	for i in $(seq 1 "$MIG_CONNS"); do
		nsenter --net=/run/netns/"$ns" python3 "$STREAM" "$WORK/$name.sock" stream "$name" "$next" \
			"$down" "$up" 0.5 0.002 4096 > "$WORK/app-$name-$i.log" 2>&1 & BG+=($!)
	done
done
sleep 1.5
CLIENTS=()
t0=$(date +%s%N)
for i in $(seq 1 "$MIG_CONNS"); do
	nsx "$CB_NS_CLIENT" python3 "$ROOT/tests/net/stream_client.py" "$CB_VIP" 80 /stream "$down" "$up" \
		$(( MIG_SECONDS * 4 )) 3 > "$WORK/client-$i.json" 2>/dev/null &
	CLIENTS+=($!)
done
wait "${CLIENTS[@]}" 2>/dev/null
t1=$(date +%s%N)
moves=$(cat "$WORK"/app-b*-*.log | grep -c '^released at')
python3 - "$moves" "$(( (t1 - t0) / 1000000 ))" "$WORK"/client-*.json <<'PY'
import json, sys
moves, ms = int(sys.argv[1]), int(sys.argv[2])
res = [json.loads(open(f).read() or "{}") for f in sys.argv[3:]]
ok = sum(1 for r in res if r.get("exact") and r.get("end") == "fin")
gaps = sorted((g for r in res for g in r.get("gaps_ms", [])), reverse=True)[:moves]
gaps.sort()
def pct(p):
    return gaps[min(len(gaps) - 1, int(p * len(gaps)))] if gaps else float("nan")
print()
print("live migration between two backends (%d streams at once, each moved every 0.5 s, 2 MB/s down)" % len(res))
print("  %d moves in %.1f s: %.1f moves/s; %d of %d streams complete and byte-exact" % (
    moves, ms / 1000, moves * 1000 / ms if ms else 0, ok, len(res)))
print("  pause seen by the client at a move: p50 %.1f ms, p99 %.1f ms, max %.1f ms "
      "(the %d longest arrival gaps)" % (pct(0.5), pct(0.99), gaps[-1] if gaps else 0, len(gaps)))
PY
nsx "$CB_NS_DIR" "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].controller.handoff_us.moves |
	"  on the director, MOVE received -> re-steered and committed: p50 \(.p50) us, p99 \(.p99) us over \(.samples)"'
for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null
BG=()
for n in "$CB_NS_DIR:$CB_IF_DIR" "$CB_NS_B1:$CB_IF_B1" "$CB_NS_B2:$CB_IF_B2"; do
	nsx "${n%%:*}" "$CB" detach "${n#*:}" >/dev/null
done
fi

# ---- 7. an unmodified server under `connbroker exec` ---------------------------
# The same nginx (2 workers, a 32-byte file) behind connbroker through
# `connbroker exec` (its listen()/accept4() on :80 get the materialized
# sockets, lib/preload.c) vs on its own kernel listener (the director's
# address, :8080); wrk with a new connection per request and keep-alive,
# runs interleaved, medians of 3.  Through connbroker three times: :80 with
# the default RTT probe, which a repeat client (wrk's) does not get once the
# kernel caches its RTT (repair/rtt_memo.h); :80 again as first-time clients
# would see it (net.ipv4.tcp_no_metrics_save = 1 in the director: no RTT is
# ever cached, every connection probes); :81 a service with rtt_probe = no
# (two segments less per connection, repair/repair.h).
if want 7 && command -v nginx >/dev/null; then
	mkdir -p "$WORK/www" "$WORK/tmp"
	echo "hello from an unmodified server" > "$WORK/www/index.html"
	for which in exec:80 real:8080; do
		name=${which%%:*} port=${which#*:}
		listen=$([ "$name" = real ] && echo "listen $CB_IP_DIR:$port;" || echo "listen $port; listen 81;")
		cat > "$WORK/$name.conf" <<NGX
user root;
worker_processes 2;
daemon off;
pid $WORK/$name.pid;
error_log $WORK/$name.err;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/tmp/$name-body;
    proxy_temp_path $WORK/tmp/$name-proxy;
    fastcgi_temp_path $WORK/tmp/$name-fcgi;
    uwsgi_temp_path $WORK/tmp/$name-uwsgi;
    scgi_temp_path $WORK/tmp/$name-scgi;
    server { $listen root $WORK/www; }
}
NGX
	done
	printf '[broker]\ninterface = %s\nmetrics = off\n[service s]\nlisten = %s:80\ndefault = web\nqueue = 4096\n[service q]\nlisten = %s:81\ndefault = web\nqueue = 4096\nrtt_probe = no\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" "$CB_VIP" > "$WORK/ex.conf"
	# EXEC_WORKERS=N: the controller with N workers (attach --workers)
	nsx "$CB_NS_DIR" "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --service "$CB_VIP:81" \
		--workers "${EXEC_WORKERS:-1}" >/dev/null
	BG_START "$CB" run --config "$WORK/ex.conf" --socket "$WORK/ex.sock"
	EX_CTL=${BG[-1]}
	sleep 0.5
	BG_START "$CB" exec --app web --port 80,81 --socket "$WORK/ex.sock" -- \
		nginx -p "$WORK" -e "$WORK/exec.err" -c "$WORK/exec.conf"
	BG_START nginx -p "$WORK" -e "$WORK/real.err" -c "$WORK/real.conf"
	sleep 1
	busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
	proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
	# URL [wrk args]: "req/s cpu ctl": the machine's busy CPU and the
	# controller's, in µs per request (/proc: 10 ms ticks over the run)
	ex_rps() {
		local url=$1 b0 c0 out; shift
		b0=$(busy_ticks) c0=$(proc_ticks "$EX_CTL")
		out=$(nsx "$CB_NS_CLIENT" wrk -t2 -c"$WRK_CONNS" -d"$WRK_SECONDS" "$@" "$url" 2>&1)
		awk -v b="$(( $(busy_ticks) - b0 ))" -v c="$(( $(proc_ticks "$EX_CTL") - c0 ))" \
			-v hz="$(getconf CLK_TCK)" '
			/requests in/ { n = $1 } /Requests\/sec/ { r = $2 } /Socket errors|Non-2xx/ { e = 1 }
			END { printf "%d%s %.0f %.1f", r, e ? "(errors)" : "", n ? b * 1e6 / hz / n : 0,
			      n ? c * 1e6 / hz / n : 0 }' <<< "$out"
	}
	col() { local i=$1; shift; printf '%s\n' "$@" | awk -v i="$i" '{ print $i }'; }
	echo
	echo "nginx (2 workers, 32-byte file) under connbroker exec vs its own listener (wrk -c$WRK_CONNS -d${WRK_SECONDS}s, medians of 3 interleaved runs)"
	echo "(CPU: the whole machine's busy time per request, and the controller's part of it; /proc, medians)"
	printf '%-64s %8s %6s %9s %6s %8s   %s\n' "" "req/s" "ratio" "CPU µs" "ratio" "ctl µs" "req/s runs"
	ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }
	row() {   # label base-runs... -- runs...
		local label=$1 r c k; shift
		r=$(med3 $(col 1 "$@")) c=$(med3 $(col 2 "$@")) k=$(med3 $(col 3 "$@"))
		printf '%-64s %8s %6s %9s %6s %8s   %s\n' "$label" "$r" "$(ratio "$r" "$BASE_R")" "$c" \
			"$(ratio "$c" "$BASE_C")" "$k" "$(col 1 "$@" | tr '\n' ' ')"
	}
	# first byte at the hook -> fd in nginx (the controller's status, its
	# last 4,096 local hand-offs): idle, 200 requests one after another
	handoff_pcts() {
		sleep 1.2       # the status file is written once a second
		nsx "$CB_NS_DIR" "$CB" -j status "$CB_IF_DIR" |
			jq -r '.[0].controller.local_handoff_us |
				"\(.p50) \(.p99) \(.ring.p50) \(.ring.p99) \(.controller.p50) \(.controller.p99)"'
	}
	for i in $(seq 1 200); do
		nsx "$CB_NS_CLIENT" curl -s -o /dev/null "http://$CB_VIP/index.html"
	done
	read -r HO_IDLE50 HO_IDLE99 HO_IRING50 HO_IRING99 HO_ICTL50 HO_ICTL99 < <(handoff_pcts)
	for mode in close keepalive; do
		args=(); [ "$mode" = close ] && args=(-H "Connection: close")
		re=() ex=() nq=() fr=()
		for rep in 1 2 3; do
			re+=("$(ex_rps "http://$CB_IP_DIR:8080/index.html" "${args[@]}")")
			ex+=("$(ex_rps "http://$CB_VIP/index.html" "${args[@]}")")
			if [ "$mode" = close ]; then
				nsx "$CB_NS_DIR" sysctl -qw net.ipv4.tcp_no_metrics_save=1
				nsx "$CB_NS_DIR" ip tcp_metrics flush all
				fr+=("$(ex_rps "http://$CB_VIP/index.html" "${args[@]}")")
				nsx "$CB_NS_DIR" sysctl -qw net.ipv4.tcp_no_metrics_save=0
				nq+=("$(ex_rps "http://$CB_VIP:81/index.html" "${args[@]}")")
			fi
		done
		if [ "$mode" = close ]; then
			# the same under load: one more run, its hand-offs fill the samples
			ex_rps "http://$CB_VIP/index.html" "${args[@]}" >/dev/null
			read -r HO_LOAD50 HO_LOAD99 HO_LRING50 HO_LRING99 HO_LCTL50 HO_LCTL99 < <(handoff_pcts)
		fi
		label=$([ "$mode" = close ] && echo "new connection per request" || echo "keep-alive")
		BASE_R=$(med3 $(col 1 "${re[@]}")) BASE_C=$(med3 $(col 2 "${re[@]}"))
		row "$label, own kernel listener (base)" "${re[@]}"
		row "$label, connbroker exec" "${ex[@]}"
		# keep-alive: one hand-off per connection, the probe's cost is noise
		if [ "$mode" = close ]; then
			row "$label, connbroker exec, first-time clients" "${fr[@]}"
			row "$label, connbroker exec, rtt_probe = no" "${nq[@]}"
		fi
	done
	echo "first byte at the hook -> fd in nginx: p50 ${HO_IDLE50} us, p99 ${HO_IDLE99} us idle (200 requests"
	echo " one after another); p50 ${HO_LOAD50} us, p99 ${HO_LOAD99} us under wrk -c$WRK_CONNS, Connection: close"
	echo " split where the controller reads the record: hook -> read p50 ${HO_IRING50} us, p99 ${HO_IRING99} us,"
	echo " read -> fd sent p50 ${HO_ICTL50} us, p99 ${HO_ICTL99} us idle; under load ${HO_LRING50} / ${HO_LRING99} us"
	echo " and ${HO_LCTL50} / ${HO_LCTL99} us"
	for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null
	BG=()
	nsx "$CB_NS_DIR" "$CB" detach "$CB_IF_DIR" >/dev/null
elif want 7; then
	echo; echo "nginx not installed: section 7 (connbroker exec) skipped"
fi
