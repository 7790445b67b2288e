# shellcheck shell=bash
# Sourced by tests/net/run.sh (after it defined its helpers and ALL_TESTS).
#
# Issue #9: HTTP through connbroker under 5 % random loss, reordering and late
# duplicates in both directions, next to a kernel listener serving the same
# app under the same impairment at the same time; connbroker must serve every
# request byte-exact, none hung.
#
# Between the client and the VIP, in the bridge namespace:
#   loss        nftables (bridge family, forward hook): numgen random mod 100
#               < 5 drop, each direction
#   reordering  tests/net/impair.bpf.c at clsact egress of the bridge ports to
#   duplicates  the client and to the director: 2 % of the segments take the
#               delay line alone (overtaken by those behind them), 2 % are
#               cloned into it (a byte-identical copy arrives late); the delay
#               line (tests/net/loss_delay.py, a veth pair read with AF_PACKET)
#               holds each for 2-30 ms (80 %) or 60-250 ms and sends it on
#               (this kernel has neither netem nor fq to hold it in the kernel)
# Captures of what the bridge delivered to each end count the duplicates,
# reorderings and retransmissions that really arrived (tests/net/loss_pcap.py).
#
# The same request list (tests/net/loss_client.py: LOSS_REQUESTS, GET and
# POST, bodies of 1 byte to 200 KB; 80 % of the connections carry one
# request, the others 2-6 with keep-alive; 16 connections at a time per
# server) goes to VIP:80 (connbroker, tests/net/loss_app.py registered as its
# app) and to VIP:8080 (the same app on a kernel listener in the director),
# both at once.  Every request and response body is checked by sha256, none is
# retried, each has LOSS_DEADLINE seconds (then it hung).  Fails if connbroker
# fails or hangs any request; the kernel's failures are reported (baseline).
# Each failed connection is traced from the captures, with a diagnosis.
# A handshake whose ACK and first data are both lost reaches connbroker first
# with a later segment; its cookie is then checked with the ISN the SYN
# carried (bpf/lib/maps.h, cb_syn_isn): such connections must succeed like
# the rest.  LOSS_ALLOW=cookie-gap reports instead of failing connections the
# captures show reset for that cause (a bisecting aid only).

LOSS_REQUESTS=${LOSS_REQUESTS:-1100}
LOSS_SEED=${LOSS_SEED:-9}
LOSS_WORKERS=${LOSS_WORKERS:-16}
LOSS_DEADLINE=${LOSS_DEADLINE:-30}     # seconds a request may take: beyond, it hung
LOSS_PCT=5                             # loss per direction
LOSS_REORDER=200 LOSS_DUP=200          # per 10,000 segments per direction

# Impairment up in the bridge namespace ($1: work directory); cleanups
# registered with at_exit.  Sets LOSS_DELAY_PID, LOSS_PIN.
loss_impair_up() {
	local w=$1 n=$CB_NS_NET d0=${CB_TOPO}dly0 d1=${CB_TOPO}dly1 port ifi k v
	local to_cli=br-$CB_IF_CLIENT to_dir=br-$CB_IF_DIR
	LOSS_PIN=/sys/fs/bpf/cb-impair-$CB_TOPO
	at_exit "nsx $n nft delete table bridge cbloss 2>/dev/null"
	at_exit "ip -n $n link del $d0 2>/dev/null"
	at_exit "for p in $to_cli $to_dir; do nsx $n tc qdisc del dev \$p clsact 2>/dev/null; done"
	at_exit "rm -rf $LOSS_PIN"
	rm -rf "$LOSS_PIN"
	ip -n "$n" link add "$d0" type veth peer name "$d1" || die "delay veth"
	for port in "$d0" "$d1"; do
		ip -n "$n" link set "$port" up
		nsx "$n" ethtool -K "$port" tso off gso off gro off tx off >/dev/null 2>&1
	done
	bpftool prog loadall "$ROOT/build/impair.bpf.o" "$LOSS_PIN" pinmaps "$LOSS_PIN/maps" ||
		die "load impair.bpf.o (make builds it)"
	ifi=$(ip -n "$n" -j link show "$d0" | jq -r '.[0].ifindex')
	# impair_cfg: the delay interface, the client address (network order),
	# reorder and duplicate rates; a key, then the value's 4 bytes
	while read -r k v; do
		# shellcheck disable=SC2086  # $v: four byte arguments
		bpftool map update pinned "$LOSS_PIN/maps/impair_cfg" key "$k" 0 0 0 value $v || die "impair_cfg $k"
	done < <(python3 -c "
import socket, struct
for k, v in enumerate((struct.pack('<I', $ifi), socket.inet_aton('$CB_IP_CLIENT'),
                       struct.pack('<I', $LOSS_REORDER), struct.pack('<I', $LOSS_DUP))):
    print(k, ' '.join(map(str, v)))")
	for port in "$to_cli" "$to_dir"; do
		nsx "$n" tc qdisc add dev "$port" clsact || die "clsact on $port"
		nsx "$n" tc filter add dev "$port" egress bpf da object-pinned "$LOSS_PIN/impair_egress" ||
			die "impair_egress on $port"
	done
	nsx "$n" tc qdisc add dev "$d1" clsact
	nsx "$n" tc filter add dev "$d1" ingress bpf da object-pinned "$LOSS_PIN/impair_sink" || die "impair_sink"
	nsx "$n" nft -f - <<NFT || die "nft loss"
table bridge cbloss {
	chain loss {
		type filter hook forward priority 0; policy accept;
		ip saddr $CB_IP_CLIENT ip daddr $CB_VIP numgen random mod 100 < $LOSS_PCT counter drop comment "to_server"
		ip saddr $CB_VIP ip daddr $CB_IP_CLIENT numgen random mod 100 < $LOSS_PCT counter drop comment "to_client"
	}
}
NFT
	nsenter --net=/run/netns/"$n" python3 "$HERE/loss_delay.py" "$d1" "$CB_IP_CLIENT" "$to_cli" "$to_dir" \
		"$w/delay.json" "$LOSS_SEED" > "$w/delay.log" 2>&1 &
	LOSS_DELAY_PID=$!; BG_PIDS+=("$LOSS_DELAY_PID")
	sleep 0.3
	kill -0 "$LOSS_DELAY_PID" 2>/dev/null || { cat "$w/delay.log"; die "delay line"; }
}

# impair_stats summed over the CPUs: "key value" pairs
loss_bpf_stats() {
	bpftool -j map dump pinned "$LOSS_PIN/maps/impair_stats" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    key = int.from_bytes(bytes(int(b, 16) for b in e["key"]), "little")
    print(key, sum(int.from_bytes(bytes(int(b, 16) for b in v["value"]), "little") for v in e["values"]))'
}

# nft drops of direction $1 (to_server / to_client)
loss_nft_drops() {
	nsx "$CB_NS_NET" nft -j list table bridge cbloss |
		jq -r --arg c "$1" '.nftables[] | select(.rule.comment == $c) | .rule.expr[] | select(.counter) | .counter.packets'
}

# tcpdump in the bridge namespace of what port $1 sends out, into $2
loss_capture() {
	nsenter --net=/run/netns/"$CB_NS_NET" tcpdump --immediate-mode -Q out -s 128 -B 16384 -i "$1" -U -w "$2" \
		"tcp and host $CB_IP_CLIENT" 2>"$2.log" &
	BG_PIDS+=($!)
	LOSS_CAPS+=($!)
}

loss_in_mode() {
	local mode=$1 w=$WORK/loss-$1 conf sock ctl app klisten c80 c8080 t0 t1 rc
	local pcaps stats delay table=$WORK/loss-table.txt
	mkdir -p "$w"
	conf=$w/ctl.conf sock=$w/ctl.sock
	t0=$(date +%s)
	loss_impair_up "$w"
	printf '[broker]\ninterface = %s\nmetrics = off\n[service loss]\nlisten = %s:80\ndefault = web\nqueue = 1024\nwait_ms = 5000\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --mode "$mode" || die "attach $mode"
	ctl_start "$conf" "$sock" "$w/ctl.log"; ctl=$CTL
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$HERE/loss_app.py" "$sock" web > "$w/app.log" 2>&1 &
	app=$!; BG_PIDS+=("$app")
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$HERE/loss_app.py" --listen "$CB_VIP:8080" > "$w/kapp.log" 2>&1 &
	klisten=$!; BG_PIDS+=("$klisten")
	sleep 0.5
	dir ss -Hltn | grep -q "$CB_VIP:80 " && die "something listens on :80"
	LOSS_CAPS=()
	loss_capture "br-$CB_IF_CLIENT" "$w/to_client.pcap"
	loss_capture "br-$CB_IF_DIR" "$w/to_server.pcap"
	sleep 0.5
	# both servers at once: the same requests, the same impairment, the same moment
	nsenter --net=/run/netns/"$CB_NS_CLIENT" python3 "$HERE/loss_client.py" "$CB_VIP" 80 "$LOSS_REQUESTS" \
		"$LOSS_SEED" "$LOSS_WORKERS" "$LOSS_DEADLINE" "$w/cb.json" > /dev/null 2> "$w/cb.err" &
	c80=$!; BG_PIDS+=("$c80")
	nsenter --net=/run/netns/"$CB_NS_CLIENT" python3 "$HERE/loss_client.py" "$CB_VIP" 8080 "$LOSS_REQUESTS" \
		"$LOSS_SEED" "$LOSS_WORKERS" "$LOSS_DEADLINE" "$w/kernel.json" > /dev/null 2> "$w/kernel.err" &
	c8080=$!; BG_PIDS+=("$c8080")
	wait "$c80"; rc=$?
	[ $rc -eq 0 ] || { cat "$w/cb.err"; die "connbroker client exited $rc"; }
	wait "$c8080"; rc=$?
	[ $rc -eq 0 ] || { cat "$w/kernel.err"; die "kernel client exited $rc"; }
	sleep 0.5
	kill "$LOSS_DELAY_PID"; wait "$LOSS_DELAY_PID" 2>/dev/null
	for p in "${LOSS_CAPS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	t1=$(date +%s)
	kill -TERM "$ctl"; wait "$ctl"
	echo "--- controller"; tail -n 3 "$w/ctl.log"
	dir "$CB" -j status "$CB_IF_DIR" | jq -c '.[0].counters | with_entries(select(.value != 0))'
	dir "$CB" detach "$CB_IF_DIR"

	echo "--- impairment ($mode)"
	for p in "$w"/to_client.pcap "$w"/to_server.pcap; do
		echo "$(basename "$p"): $(grep -h 'captured\|dropped by kernel' "$p.log" | tr '\n' ' ')"
	done
	echo "nft drops: to_server $(loss_nft_drops to_server), to_client $(loss_nft_drops to_client)"
	stats=$(loss_bpf_stats | tr '\n' ' ')
	# impair_stats: key = dir * 5 + stat; dir 0 to the server, 1 to the client;
	# stat 0 seen, 1 reordered, 2 duplicated, 3 returned, 4 clone failed
	python3 - "$stats" <<'PY'
import sys
v = sys.argv[1].split()
s = {int(v[i]): int(v[i + 1]) for i in range(0, len(v), 2)}
for d, name in ((0, "to_server"), (1, "to_client")):
    print("impair.bpf %s: seen %d, sent alone through the delay line %d, duplicated into it %d, back from it %d, clone failures %d"
          % (name, *(s.get(d * 5 + k, 0) for k in range(5))))
PY
	delay=$(cat "$w/delay.json"); echo "delay line: $delay"
	pcaps=$(python3 "$HERE/loss_pcap.py" "$CB_IP_CLIENT" 80,8080 "$w/to_client.pcap" "$w/to_server.pcap") ||
		die "capture analysis"
	echo "delivered (capture): $pcaps"
	for s in cb kernel; do
		jq -c '{target, requests, connections, ok, failed, hung, seconds, get, post, bytes_up, bytes_down, ms_p50, ms_p99, ms_max, over_ms}' "$w/$s.json"
		echo "slowest: $(jq -c '[.slowest[] | {id, method, req_len, resp_len, port, ms}]' "$w/$s.json")"
	done
	echo "--- apps"; cat "$w/app.log" "$w/kapp.log" | grep -v "^registered\|^listening" | head -n 20

	# the table row of each server: mode server requests ok failed hung seconds retrans dup reordered
	[ -s "$table" ] || printf '%-7s %-11s %8s %6s %6s %5s %8s %8s %6s %9s %7s\n' mode server requests ok failed hung seconds \
		retrans dup reordered p99_ms > "$table"
	for s in cb:80:connbroker kernel:8080:kernel; do
		python3 - "$mode" "${s##*:}" "$w/${s%%:*}.json" "$pcaps" "${s#*:}" >> "$table" <<'PY'
import json, sys
mode, server, path, pcaps, port = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), sys.argv[5].split(":")[0]
r = json.load(open(path))
p = pcaps[port]
tot = lambda k: p["to_server"][k] + p["to_client"][k]
print("%-7s %-11s %8d %6d %6d %5d %8.1f %8d %6d %9d %7.0f" % (mode, server, r["requests"], r["ok"], r["failed"],
      r["hung"], r["seconds"], tot("retrans"), tot("dup"), tot("reordered"), r["ms_p99"]))
PY
	done
	# each request that failed, and what the captures show of its connection
	for s in cb:80 kernel:8080; do
		jq -c '.failures[] | {id, method, req_len, resp_len, new_conn, port, kind, error, ms}' "$w/${s%:*}.json" | head -n 20
		# (the requests not sent after one failed on its connection share its trace)
		jq -r '.failures[] | select(.error | startswith("not sent") | not) | "\(.port) \(.t + .ms / 1000)"' \
			"$w/${s%:*}.json" | head -n 20 | while read -r cport tend; do
			python3 "$HERE/loss_pcap.py" --trace "$CB_IP_CLIENT" "${s#*:}" "$cport" "$tend" "$w/to_client.pcap" \
				"$w/to_server.pcap" > "$w/trace-${s%:*}-$cport.txt"
		done
		# shellcheck disable=SC2012
		for f in $(ls "$w"/trace-"${s%:*}"-*.txt 2>/dev/null | head -n 3); do cut -c1-160 "$f"; done
	done
	echo "--- $mode: $((t1 - t0)) s"
	cat "$table"

	# the impairment happened, both ways, to both servers
	python3 - "$pcaps" <<'PY' || die "the impairment did not show in the captures"
import json, sys
p = json.loads(sys.argv[1])
bad = ["%s %s %s" % (port, d, k) for port in p for d in p[port] for k in ("dup", "reordered", "retrans")
       if p[port][d][k] == 0]
sys.exit("none delivered: " + ", ".join(bad) if bad else 0)
PY
	if [ "$(loss_nft_drops to_server)" -eq 0 ] || [ "$(loss_nft_drops to_client)" -eq 0 ]; then die "no loss"; fi
	[ "$(jq -r .send_errors <<<"$delay")" = 0 ] || die "the delay line failed to send: $delay"

	# the baseline is reported, connbroker must match it
	local req ok failed hung unexplained diags
	for s in kernel cb; do
		read -r req ok failed hung < <(jq -r '"\(.requests) \(.ok) \(.failed) \(.hung)"' "$w/$s.json")
		[ "$req" -ge 1000 ] || die "$s: only $req requests"
		[ "$ok" = "$req" ] && continue
		diags=$(cat "$w"/trace-"$s"-*.txt 2>/dev/null | grep '^diagnosis:' | cut -d: -f2 | sort | uniq -c | tr -s ' ' | tr '\n' ';')
		if [ "$s" = kernel ]; then
			echo "NOTE: the kernel listener itself failed $failed and hung $hung of $req requests (baseline, reported):$diags"
			continue
		fi
		# LOSS_ALLOW=cookie-gap: failures whose every connection the capture
		# shows reset for the known cookie defect are reported, not fatal
		unexplained=$(jq -r '[.failures[].port] | unique | .[]' "$w/cb.json" | while read -r cport; do
			grep -q '^diagnosis: cookie-gap' "$w/trace-cb-$cport.txt" 2>/dev/null || echo "$cport"; done)
		if [[ " ${LOSS_ALLOW-} " == *" cookie-gap "* ]] && [ "$hung" = 0 ] && [ -z "$unexplained" ]; then
			echo "NOTE: connbroker ($mode): $failed of $req requests failed, all on connections reset for the known cookie defect (LOSS_ALLOW=cookie-gap):$diags"
			continue
		fi
		die "connbroker ($mode): $failed failed, $hung hung of $req requests (the kernel: $(jq -r '"\(.failed) failed, \(.hung) hung"' "$w/kernel.json")); diagnoses:$diags"
	done
	grep -q "stopping: [0-9]* materialized, 0 failed" "$w/ctl.log" || die "materialization failures: $(tail -n 1 "$w/ctl.log")"
	return 0
}
test_loss_native() { loss_in_mode native; }
test_loss_tc() { loss_in_mode tc; }

ALL_TESTS+=(test_loss_native test_loss_tc)
