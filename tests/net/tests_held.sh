# shellcheck shell=bash
# Sourced by run.sh: a built socket that no app instance can take yet.

ALL_TESTS+=(test_stalled_app_loses_nothing test_stalled_app_keeps_its_bounds)

# PREFIX: 450 clients at once, each a GET, their HTTP codes (a line each) in
# PREFIX-a.txt and PREFIX-b.txt; sets BURST_A, BURST_B (the two curls).  Two
# clients of 225: a source may hold 256 pending flows, and the app's socket
# takes ~280 FLOW messages before it is full; the second one from another
# address, which the topology's teardown removes.
burst_of_450() {
	ip -n "$CB_NS_CLIENT" addr add 198.18.0.11/24 dev "$CB_IF_CLIENT"
	cli curl -Z --parallel-immediate --parallel-max 300 -s -m 30 -o /dev/null -w '%{http_code}\n' \
		"http://$CB_VIP/a[1-225]" > "$1-a.txt" 2>&1 &
	BURST_A=$!; BG_PIDS+=("$BURST_A")
	cli curl -Z --parallel-immediate --parallel-max 300 -s -m 30 -o /dev/null -w '%{http_code}\n' \
		--interface 198.18.0.11 "http://$CB_VIP/b[1-225]" > "$1-b.txt" 2>&1 &
	BURST_B=$!; BG_PIDS+=("$BURST_B")
}

# The only app instance stops (SIGSTOP) while 450 clients connect: its
# socket's buffer fills and deliveries fail with EAGAIN.  Each socket built
# for them is held with its flow and offered again within wait_ms (before:
# reset as "hand-off failed"); the app resumes after 2 s and every client is
# answered, with no RST from the VIP.
test_stalled_app_loses_nothing() {
	local conf=$WORK/held.conf sock=$WORK/held.sock pcap=$WORK/held.pcap ctl app m held ok
	local soft hard
	printf '[broker]\ninterface = %s\nmetrics = 127.0.0.1:9464\n[service s]\nlisten = %s:80\ndefault = web\nqueue = 2048\nwait_ms = 10000\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	# the controller's fds (a socket per held flow) are not bound by the
	# usual soft limit of 1,024: raised to 4,096 within the hard limit
	ctl_start "$conf" "$sock" "$WORK/held-ctl.log"; ctl=$CTL
	read -r soft hard < <(awk '/^Max open files/ { print $4, $5 }' "/proc/$ctl/limits")
	[ "$soft" = unlimited ] || [ "$soft" -ge 4096 ] || [ "$soft" = "$hard" ] ||
		die "the controller's limit of open files: $soft (hard $hard)"
	nsenter --net=/run/netns/"$CB_NS_DIR" "$ROOT/build/http_app" --app web --socket "$sock" 2>/dev/null &
	app=$!; BG_PIDS+=("$app")
	sleep 0.3
	expect_eq "$(cli curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$CB_VIP/warm")" 200 "before the stall"
	capture_start "$pcap"
	kill -STOP "$app"       # (run.sh's cleanup sends SIGCONT with its SIGTERM)
	burst_of_450 "$WORK/held"
	sleep 2
	m=$(metrics_get "$CB_NS_DIR")
	held=$(awk '/^connbroker_handoff_held_total /{print $2}' <<<"$m")
	echo "while the app is stopped: $held sockets held"
	[ -n "$held" ] && [ "$held" -gt 0 ] || die "no delivery failed while the app was stopped: the test proves nothing"
	kill -CONT "$app"
	wait "$BURST_A" "$BURST_B"
	capture_stop
	ok=$(cat "$WORK/held-a.txt" "$WORK/held-b.txt" | grep -c '^200$')
	expect_eq "$ok" 450 "clients answered after the app resumed ($(sort "$WORK/held-a.txt" "$WORK/held-b.txt" | uniq -c | tr '\n' ' '))"
	m=$(metrics_get "$CB_NS_DIR")
	grep -q '^connbroker_resets_total{reason="handoff_failed"} 0$' <<<"$m" ||
		die "hand-offs reset: $(grep 'resets_total{reason="handoff_failed"' <<<"$m")"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1 && ip.src==$CB_VIP")" 0 "RSTs from the VIP"
	kill -TERM "$ctl"; wait "$ctl"
	grep -q " 0 failed" "$WORK/held-ctl.log" || { cat "$WORK/held-ctl.log"; die "failures"; }
	kill "$app"
	dir "$CB" detach "$CB_IF_DIR"
}

# The same stall with a small queue (16) and a short wait (1 s), on_timeout
# = http503: held flows keep the service's bounds.  Past the queue a flow is
# answered at once, a held one when its wait ends; the rest are served once
# the app resumes: every client gets a 200 or a 503, none an RST.
test_stalled_app_keeps_its_bounds() {
	local conf=$WORK/hb.conf sock=$WORK/hb.sock pcap=$WORK/hb.pcap ctl app m ok n503 qf a503
	printf '[broker]\ninterface = %s\nmetrics = 127.0.0.1:9464\n[service s]\nlisten = %s:80\ndefault = web\nqueue = 16\nwait_ms = 1000\non_timeout = http503\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	ctl_start "$conf" "$sock" "$WORK/hb-ctl.log"; ctl=$CTL
	nsenter --net=/run/netns/"$CB_NS_DIR" "$ROOT/build/http_app" --app web --socket "$sock" 2>/dev/null &
	app=$!; BG_PIDS+=("$app")
	sleep 0.3
	expect_eq "$(cli curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$CB_VIP/warm")" 200 "before the stall"
	capture_start "$pcap"
	kill -STOP "$app"
	burst_of_450 "$WORK/hb"
	sleep 2.5                       # past wait_ms: the held ones answered 503
	kill -CONT "$app"
	wait "$BURST_A" "$BURST_B"
	capture_stop
	ok=$(cat "$WORK/hb-a.txt" "$WORK/hb-b.txt" | grep -c '^200$')
	n503=$(cat "$WORK/hb-a.txt" "$WORK/hb-b.txt" | grep -c '^503$')
	echo "answered: $ok x 200, $n503 x 503"
	expect_eq "$((ok + n503))" 450 "every client answered 200 or 503 ($(sort "$WORK/hb-a.txt" "$WORK/hb-b.txt" | uniq -c | tr '\n' ' '))"
	m=$(metrics_get "$CB_NS_DIR")
	qf=$(awk '/^connbroker_queue_full_total /{print $2}' <<<"$m")
	a503=$(awk '/^connbroker_answered_503_total /{print $2}' <<<"$m")
	echo "queue_full $qf, answered_503 $a503, held $(awk '/^connbroker_handoff_held_total /{print $2}' <<<"$m")"
	[ "${qf:-0}" -gt 0 ] || die "no flow over the queue bound"
	[ "${a503:-0}" -gt "$qf" ] || die "no held flow answered at the end of its wait ($a503 503s, $qf over the queue)"
	expect_eq "$a503" "$n503" "503s counted"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1 && ip.src==$CB_VIP")" 0 "RSTs from the VIP"
	kill -TERM "$ctl"; wait "$ctl"
	kill "$app"
	dir "$CB" detach "$CB_IF_DIR"
}
