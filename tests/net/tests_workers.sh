# shellcheck shell=bash
# Sourced by run.sh: a controller loop per CPU (issue 11, part 3).
#   test_controller_workers   attached with --workers 2: two rings, two
#       controller threads each owning its flows; wrk keep-alive and
#       Connection: close with zero errors, both workers served flows, a
#       reload (SIGHUP) under load loses nothing, `events` reads both rings
#       and status shows the workers.
#   test_workers_restart_keeps_flows   20 requests held with no app, the
#       controller killed (-9) and started again: each worker recovers the
#       flows of its own share of the stash, all 20 are answered, no RST.
#   test_workers_refuse_a_cluster   a configuration with [node]s on an
#       attachment with 2 workers is refused with a message saying why.

# Flows each worker handed to apps (from the metrics): "n0 n1".
worker_flows() {
	metrics_get "$CB_NS_DIR" | awk '/^connbroker_worker_flows_total/ {
		match($0, /worker="[0-9]+"/); w = substr($0, RSTART + 8, RLENGTH - 9); n[w] = $2 }
		END { printf "%d %d\n", n[0], n[1] }'
}

test_controller_workers() {
	local conf=$WORK/wk.conf sock=$WORK/wk.sock ctl out f0 f1 st bg
	printf '[broker]\ninterface = %s\nmetrics = 127.0.0.1:9464\nworkers = 2\n[service s]\nlisten = %s:80\ndefault = web\nqueue = 1024\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	# the services and workers = 2 from the configuration
	dir "$CB" attach "$CB_IF_DIR" --config "$conf" || die attach
	at_exit "dir $CB detach $CB_IF_DIR >/dev/null 2>&1"
	st=$(dir "$CB" -j status "$CB_IF_DIR")
	expect_eq "$(jq -r '.[0].workers' <<<"$st")" 2 "status: workers"
	dir "$CB" status "$CB_IF_DIR" | grep -q "workers: 2 controller loops" || die "status text: workers"
	# events reads every worker's ring: a connection's records are there
	# whichever ring its tuple hashes to (before any controller runs)
	events_start "$WORK/wk-events.json"
	# (at once: with no controller, new connections are refused after
	# no_controller, 2 s by default)
	local curls=()
	for i in 1 2 3 4 5 6 7 8; do cli curl -s -m 1 "http://$CB_VIP/ev$i" >/dev/null & curls+=($!); done
	wait "${curls[@]}"; events_stop
	[ "$(grep -c '"type":"open"' "$WORK/wk-events.json")" -eq 8 ] ||
		{ cat "$WORK/wk-events.json"; die "events missed records of one of the rings"; }
	ctl_start "$conf" "$sock" "$WORK/wk-ctl.log"; ctl=$CTL
	grep -q "2 workers" "$WORK/wk-ctl.log" || { cat "$WORK/wk-ctl.log"; die "controller: not 2 workers"; }
	for _ in 1 2; do
		dir "$ROOT/build/http_app" --app web --socket "$sock" 2>/dev/null &
		BG_PIDS+=($!)
	done
	sleep 0.3
	out=$(cli wrk -t2 -c100 -d3 "http://$CB_VIP/keepalive" 2>&1); echo "$out"
	grep -q "Socket errors\|Non-2xx" <<<"$out" && die "errors with keep-alive"
	[ "$(awk '/requests in/ {print $1}' <<<"$out")" -gt 1000 ] || die "too few requests"
	# Connection: close, with a reload in the middle of it: the workers
	# stop at a callback's start while the main loop swaps the configuration
	cli wrk -t2 -c100 -d4 -H "Connection: close" "http://$CB_VIP/close" > "$WORK/wk-wrk.txt" 2>&1 &
	bg=$!
	sleep 1.5; kill -HUP "$ctl"; sleep 0.5; kill -HUP "$ctl"
	wait "$bg"; out=$(cat "$WORK/wk-wrk.txt"); echo "$out"
	grep -q "Socket errors\|Non-2xx" <<<"$out" && die "errors with Connection: close and reloads"
	[ "$(awk '/requests in/ {print $1}' <<<"$out")" -gt 1000 ] || die "too few requests"
	grep -c "reload: .*: 0 changes" "$WORK/wk-ctl.log" | grep -qx 2 ||
		{ cat "$WORK/wk-ctl.log"; die "the two reloads did not both happen"; }
	read -r f0 f1 < <(worker_flows)
	echo "flows handed to apps: worker 0 $f0, worker 1 $f1"
	[ "$f0" -gt 1000 ] && [ "$f1" -gt 1000 ] || die "a worker served (almost) nothing: $f0 / $f1"
	kill -TERM "$ctl"; wait "$ctl"
	cat "$WORK/wk-ctl.log"
	grep -q " 0 failed" "$WORK/wk-ctl.log" || die "materialization failures"
	# a live attach keeps its workers (their rings hold the flows' records)
	out=$(dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --workers 1 2>&1)
	grep -q "keeps its 2" <<<"$out" || { echo "$out"; die "no warning that workers apply at a fresh attach"; }
	expect_eq "$(dir "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].workers')" 2 "workers after a live attach"
	dir "$CB" detach "$CB_IF_DIR"
}

test_workers_restart_keeps_flows() {
	local conf=$WORK/wr.conf sock=$WORK/wr.sock pcap=$WORK/wr.pcap ctl web i ok=0
	printf '[broker]\ninterface = %s\ndecide_ms = 200\n[service s]\nlisten = %s:80\ndefault = web\nwait_ms = 20000\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --workers 2 || die attach
	at_exit "dir $CB detach $CB_IF_DIR >/dev/null 2>&1"
	ctl_start "$conf" "$sock" "$WORK/wr1.log"; ctl=$CTL
	capture_start "$pcap"
	for i in $(seq 1 20); do
		cli curl -s -m 15 "http://$CB_VIP/req/$i" -o "$WORK/wr-$i.out" &
		BG_PIDS+=($!)
	done
	sleep 1.5                       # all requests in the stash, no app yet
	kill -KILL "$ctl"; wait "$ctl" 2>/dev/null
	ctl_start "$conf" "$sock" "$WORK/wr2.log"; ctl=$CTL
	dir python3 "$ROOT/examples/app.py" "$sock" web > "$WORK/wrweb.log" 2>&1 &
	web=$!; BG_PIDS+=("$web")
	ok=$(answered_requests wr 20)
	capture_stop
	cat "$WORK/wr2.log"
	expect_eq "$ok" 20 "requests answered after kill -9 and restart"
	# both workers had some: 20 tuples over two shares
	local n0 n1
	n0=$(sed -n 's/.*worker 0 recovered \([0-9]*\) flows.*/\1/p' "$WORK/wr2.log")
	n1=$(sed -n 's/.*worker 1 recovered \([0-9]*\) flows.*/\1/p' "$WORK/wr2.log")
	expect_eq "$((${n0:-0} + ${n1:-0}))" 20 "flows recovered by the two workers ($n0 + $n1)"
	[ "${n0:-0}" -gt 0 ] && [ "${n1:-0}" -gt 0 ] || die "one worker recovered every flow: $n0 / $n1"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1 && ip.src==$CB_VIP")" 0 "RSTs from the VIP"
	kill "$web" "$ctl"; wait "$ctl"
	dir "$CB" detach "$CB_IF_DIR"
}

test_workers_refuse_a_cluster() {
	local conf=$WORK/wc.conf out
	cat > "$conf" <<CONF
[broker]
interface = $CB_IF_DIR
node = a
cluster = t
psk_file = $WORK/wc.psk
[service s]
listen = $CB_VIP:80
default = web
[app web]
[node a]
id = 1
control = $CB_IP_DIR:9400
[node b]
id = 2
control = $CB_IP_B1:9400
services = s
CONF
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$WORK/wc.psk"; chmod 600 "$WORK/wc.psk"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --workers 2 >/dev/null || die attach
	at_exit "dir $CB detach $CB_IF_DIR >/dev/null 2>&1"
	out=$(dir timeout 10 "$CB" run --config "$conf" --socket "$WORK/wc.sock" 2>&1)
	[ $? -ne 0 ] || die "a cluster ran on 2 workers"
	grep -q "a cluster runs with one worker" <<<"$out" || { echo "$out"; die "no reason given"; }
	dir "$CB" detach "$CB_IF_DIR"
}

ALL_TESTS+=(test_controller_workers test_workers_restart_keeps_flows test_workers_refuse_a_cluster)
