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
	for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; done
	topo_down
	rm -f "$TG"
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

bench_connbroker() {   # mode -> "answered_pps offered_pps ns_per_packet_in_program"
	local mode=$1 offered sent id ns
	nsx "$CB_NS_DIR" "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --mode "$mode" >/dev/null
	id=$(nsx "$CB_NS_DIR" "$CB" -j status "$CB_IF_DIR" | jq -r '.[0] | if .xdp_prog_id > 0 then .xdp_prog_id else .tc_ingress_id end')
	offered=$(flood)
	sent=$(cb_counter syn_cookie_sent)
	ns=$(bpftool -j prog show id "$id" | jq -r 'if .run_cnt > 0 then (.run_time_ns / .run_cnt | floor) else 0 end')
	nsx "$CB_NS_DIR" "$CB" detach "$CB_IF_DIR" >/dev/null
	echo "$(( sent / SECONDS_PER_RUN )) $offered $ns"
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

topo_up
nsx "$CB_NS_DIR" ip route add 198.18.1.0/24 via "$CB_IP_CLIENT"
write_trafgen

echo "connbroker bench: $(nproc) CPUs, kernel $(uname -r), ${SECONDS_PER_RUN}s per run,"
echo "trafgen SYN flood pinned to CPU 0 from 198.18.1.0/24 (generator and receiver share the machine)"
echo
read -r k_pps k_off < <(bench_kernel)
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
printf '%-34s %12s %12s %8s %14s\n' "SYN-ACKs per second" "answered/s" "offered/s" "ratio" "ns/pkt in prog"
printf '%-34s %12d %12d %8s %14s\n' "kernel syncookies (baseline)" "$k_pps" "$k_off" "1.00" "-"
for mode in native skb tc; do
	read -r pps off ns < <(bench_connbroker "$mode")
	printf '%-34s %12d %12d %8s %14s\n' "connbroker cookies, $mode" "$pps" "$off" \
		"$(awk -v a="$pps" -v b="$k_pps" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" "$ns"
done
sysctl -qw kernel.bpf_stats_enabled="$old_stats"
echo "(one CPU runs the generator, the veth hop and the answer, so answered/s is per core"
echo " for the whole path and the ratio understates the handler-only difference)"

echo
nsx "$CB_NS_DIR" "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" >/dev/null
read -r memlock entries < <(bpftool -j map show pinned "$(topo_pins "$CB_NS_DIR" "$CB_IF_DIR")/cb_flows" |
	jq -r '"\(.bytes_memlock) \(.max_entries)"')
nsx "$CB_NS_DIR" "$CB" detach "$CB_IF_DIR" >/dev/null
printf 'flow table: %d bytes memlock for %d entries = %d bytes per unbound flow (key 12 B + value 64 B + LRU element overhead)\n' \
	"$memlock" "$entries" $(( memlock / entries ))

# ---- 3. connections per second and latency ------------------------------------
APP="$ROOT/build/http_app"
WRK_SECONDS=${WRK_SECONDS:-5}
WRK_CONNS=${WRK_CONNS:-50}
WORK=$(mktemp -d /tmp/cb-bench.XXXXXX)
BG_START() { nsenter --net=/run/netns/"$CB_NS_DIR" "$@" >/dev/null 2>&1 & BG+=($!); }

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
rm -rf "$WORK"
