#!/usr/bin/env bash
# make bench: measured figures, each side by side with its baseline from the
# same run on the same topology and generator.  Not a test: it asserts nothing.
#
#  1. SYN-ACKs per second: connbroker's XDP SYN cookies (native and skb modes,
#     and the TC hook) vs the kernel's own SYN cookies (tcp_syncookies=2 with a
#     listener), under the same trafgen SYN flood pinned to one CPU.
#  2. Map memory per unbound flow (bpftool's memlock of the flow table).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CB="$ROOT/build/connbroker"
# shellcheck source=../tests/net/topology.sh
source "$ROOT/tests/net/topology.sh"
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
TG=$(mktemp /tmp/cb-bench.XXXXXX.trafgen)
LISTENER_PID=

cleanup() {
	[ -n "$LISTENER_PID" ] && kill "$LISTENER_PID" 2>/dev/null || true
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
read -r memlock entries < <(bpftool -j map show pinned "/sys/fs/bpf/connbroker/$CB_IF_DIR/cb_flows" |
	jq -r '"\(.bytes_memlock) \(.max_entries)"')
nsx "$CB_NS_DIR" "$CB" detach "$CB_IF_DIR" >/dev/null
printf 'flow table: %d bytes memlock for %d entries = %d bytes per unbound flow (key 12 B + value 64 B + LRU element overhead)\n' \
	"$memlock" "$entries" $(( memlock / entries ))
