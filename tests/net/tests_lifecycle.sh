# shellcheck shell=bash
# Sourced by run.sh: the lifecycle of an attachment (issue 10, part 3).
#   test_fail_closed_without_controller   no controller for [broker]
#       no_controller (1s here): curl is refused at once (connection refused,
#       the kernel's answer when nothing listens), not left to time out;
#       counted; served once a controller and an app run; refused again
#       after the controller is killed; with --no-controller hold a SYN is
#       held instead and served when a controller comes.

# Wait (up to $1 tenths of a second) until status says new connections are
# refused now; 1 when they never are.
wait_refusing() {
	local i
	for i in $(seq "$1"); do
		dir "$CB" status "$CB_IF_DIR" | grep -q "(refusing now)" && return 0
		sleep 0.1
	done
	return 1
}

test_fail_closed_without_controller() {
	local conf=$WORK/fc.conf sock=$WORK/fc.sock rc out web pid held n0
	printf '[broker]\ninterface = %s\nmetrics = off\ndecide_ms = 200\nno_controller = 1s\n[service s]\nlisten = %s:80\ndefault = web\nwait_ms = 5000\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --config "$conf" || die attach
	at_exit "dir $CB detach $CB_IF_DIR >/dev/null 2>&1"
	out=$(dir "$CB" status "$CB_IF_DIR"); echo "$out"
	grep -q "no controller: reset new connections after 1000 ms" <<<"$out" || die "no_controller from the config"
	grep -q "no controller has run since" <<<"$out" || die "the attach's beat"
	expect_eq "$(dir "$CB" -j status "$CB_IF_DIR" | jq '.[0].no_controller_ms')" 1000 "no_controller_ms in JSON"

	# no controller ever started: refused, not held
	wait_refusing 30 || die "status never says refusing"
	cli curl -s -m 5 -o /dev/null "http://$CB_VIP/"; rc=$?
	expect_eq "$rc" 7 "curl without a controller (7: connection refused; 28 would be a timeout)"
	[ "$(counter syn_no_controller)" -ge 1 ] || die "syn_no_controller not counted"
	expect_eq "$(dir "$CB" -j status "$CB_IF_DIR" | jq '.[0].flows')" 0 "flows held for nobody"

	# a controller and an app: served
	ctl_start "$conf" "$sock" "$WORK/fc1.log"; pid=$CTL
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" web > "$WORK/fcweb.log" 2>&1 &
	web=$!; BG_PIDS+=("$web")
	sleep 0.5
	out=$(cli curl -s -m 5 "http://$CB_VIP/served") || { cat "$WORK/fc1.log"; die "curl with a controller"; }
	grep -q "path=/served " <<<"$out" || die "answer: $out"
	dir "$CB" status "$CB_IF_DIR" | grep -q "last heartbeat: .* (controller pid $pid)" || die "the controller's beat"

	# the controller is killed: refused again within the bound
	kill -KILL "$pid"; wait "$pid" 2>/dev/null
	n0=$(counter syn_no_controller)
	wait_refusing 30 || die "not refusing after the controller died"
	cli curl -s -m 5 -o /dev/null "http://$CB_VIP/after-kill"; rc=$?
	expect_eq "$rc" 7 "curl after the controller was killed"
	[ "$(counter syn_no_controller)" -gt "$n0" ] || die "refusal after the kill not counted"

	# hold (attach again, settings updated in place): held, then served by
	# the controller that comes
	dir "$CB" attach "$CB_IF_DIR" --config "$conf" --no-controller hold || die "attach --no-controller hold"
	dir "$CB" status "$CB_IF_DIR" | grep -q "no controller: hold new connections" || die "hold not set"
	n0=$(dir "$CB" -j status "$CB_IF_DIR" | jq '.[0].flows')
	cli curl -s -m 15 -o "$WORK/fc-held.out" "http://$CB_VIP/held" &
	held=$!; BG_PIDS+=("$held")
	sleep 1.5
	expect_eq "$(dir "$CB" -j status "$CB_IF_DIR" | jq '.[0].flows')" $((n0 + 1)) "flows, with the held one"
	ctl_start "$conf" "$sock" "$WORK/fc2.log"; pid=$CTL
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" web > "$WORK/fcweb2.log" 2>&1 &
	BG_PIDS+=($!)
	wait "$held"; rc=$?
	expect_eq "$rc" 0 "the held curl, once a controller came"
	grep -q "path=/held " "$WORK/fc-held.out" || die "held answer: $(cat "$WORK/fc-held.out")"
	kill "$pid" "$web" 2>/dev/null; wait "$pid"
}

ALL_TESTS+=(test_fail_closed_without_controller)
