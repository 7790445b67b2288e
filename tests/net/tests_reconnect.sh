# shellcheck shell=bash
# Sourced by tests/net/run.sh (after it defined its helpers and ALL_TESTS).
#
# Issue 10 part 3: apps survive a controller restart.  build/http_app
# (libconnbroker) and examples/app.py (the protocol in plain Python, no
# library) stay up, the same processes, across a kill -9 and a SIGTERM of
# the controller: they register again by themselves within a bound, serve
# again, a keep-alive connection the C app held across the restart keeps
# working, and a request made while no controller ran is answered.  A new
# controller that no longer has their apps ends them, with a message.

# Poll "$@" every 0.1 s for up to $1 seconds: 0 once it succeeds, else 1.
rc_within() {
	local n=$(($1 * 10))
	shift
	until "$@"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

# The running controller has exactly one instance of app $1.
rc_registered() {
	metrics_get "$CB_NS_DIR" | grep -q "^connbroker_app_instances{app=\"$1\"} 1\$"
}

rc_alive() { kill -0 "$1" 2>/dev/null; }
rc_dead() { ! kill -0 "$1" 2>/dev/null; }

# GET $1 from the VIP, answered by app $2 (a fresh connection).
rc_served() {
	local out
	out=$(cli curl -s -m 5 "http://$CB_VIP$1") || die "curl $1 after $RC_PHASE (exit $?)"
	grep -q "app=$2 .*path=$1" <<<"$out" || die "$1 after $RC_PHASE: '$out'"
}

# Both apps registered again (one instance each) and serving, the same pids.
rc_back() {
	rc_within 4 rc_registered c || { cat "$RC_W/c.log"; die "http_app not registered again after $RC_PHASE"; }
	rc_within 4 rc_registered py || { cat "$RC_W/py.log"; die "app.py not registered again after $RC_PHASE"; }
	rc_alive "$RC_C" || die "http_app died ($RC_PHASE)"
	rc_alive "$RC_PY" || die "app.py died ($RC_PHASE)"
	rc_served "/c/$1" c
	rc_served "/py/$1" py
}

test_apps_survive_controller_restart() {
	local w=$WORK/rc sock=$WORK/rc.sock held out rc late
	RC_W=$w
	mkdir -p "$w"
	rc_conf() {     # $1: the apps the controller knows (the default first)
		printf '[broker]\ninterface = %s\ndecide_ms = 200\n[service s]\nlisten = %s:80\ndefault = %s\nwait_ms = 5000\n' \
			"$CB_IF_DIR" "$CB_VIP" "${1%% *}"
		[[ " $1 " = *" py "* ]] && printf '[rule py]\nservice = s\npath_prefix = /py/\napp = py\n'
		for a in $1; do printf '[app %s]\n' "$a"; done
	}
	rc_conf "c py" > "$w/ctl.conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	at_exit "dir $CB detach $CB_IF_DIR >/dev/null 2>&1"
	ctl_start "$w/ctl.conf" "$sock" "$w/ctl1.log"
	# shellcheck disable=SC2016 # the controller running when the test ends
	at_exit 'kill "$CTL" 2>/dev/null'
	nsenter --net=/run/netns/"$CB_NS_DIR" "$ROOT/build/http_app" --app c --socket "$sock" > "$w/c.log" 2>&1 &
	RC_C=$!; BG_PIDS+=("$RC_C")
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" py > "$w/py.log" 2>&1 &
	RC_PY=$!; BG_PIDS+=("$RC_PY")
	RC_PHASE=start
	rc_back 0

	# a keep-alive connection to http_app, held across the restart
	cat > "$w/held.py" <<'PY'
import socket, sys, os, time
s = socket.create_connection((sys.argv[1], 80), timeout=15)
f = s.makefile("rb")
def get(path):
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += f.read(1)
    n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    print(f.read(n).decode().strip(), flush=True)
get("/c/held-1")
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
get("/c/held-2")
PY
	cli python3 "$w/held.py" "$CB_VIP" "$w/go" > "$w/held.out" 2>&1 &
	held=$!; BG_PIDS+=("$held")
	rc_within 5 grep -q "path=/c/held-1" "$w/held.out" || { cat "$w/held.out"; die "held connection"; }

	# kill -9: the apps see their registration closed and stay up
	kill -KILL "$CTL"; wait "$CTL" 2>/dev/null
	# a request while no controller runs: held by the datapath, routed by the
	# next controller (made at once: past [broker] no_controller, 2 s by
	# default, new connections are refused)
	cli curl -s -m 15 "http://$CB_VIP/py/while-down" > "$w/late.out" 2>&1 &
	late=$!; BG_PIDS+=("$late")
	rc_within 3 grep -q "the controller went away" "$w/c.log" || { cat "$w/c.log"; die "http_app: no 'went away'"; }
	rc_within 3 grep -q "the controller went away" "$w/py.log" || { cat "$w/py.log"; die "app.py: no 'went away'"; }
	sleep 1                 # the apps back off meanwhile (not asserted on: the bound below is)
	rc_alive "$RC_C" || die "http_app exited when the controller was killed"
	rc_alive "$RC_PY" || die "app.py exited when the controller was killed"
	ctl_start "$w/ctl.conf" "$sock" "$w/ctl2.log"
	RC_PHASE="kill -9 and restart"
	rc_back 1
	grep -q "registered again (reconnect 1)" "$w/c.log" || { cat "$w/c.log"; die "http_app's log"; }
	grep -q "registered again as py (reconnect 1)" "$w/py.log" || { cat "$w/py.log"; die "app.py's log"; }
	wait "$late"; rc=$?
	out=$(cat "$w/late.out"); echo "request made while the controller was down: $out"
	if [ $rc -ne 0 ] || ! grep -q "app=py .*path=/py/while-down" <<<"$out"; then
		cat "$w/ctl2.log"; die "the request made while the controller was down (curl exit $rc)"
	fi
	touch "$w/go"
	wait "$held"; rc=$?
	cat "$w/held.out"
	[ $rc -eq 0 ] || die "the held connection after the restart (client exit $rc)"
	grep -q "path=/c/held-2" "$w/held.out" || die "the held connection after the restart"

	# SIGTERM: a clean stop (the socket file removed), then a new controller
	kill -TERM "$CTL"; wait "$CTL"; expect_eq "$?" 0 "controller exit status on SIGTERM"
	ctl_start "$w/ctl.conf" "$sock" "$w/ctl3.log"
	RC_PHASE="SIGTERM and restart"
	rc_back 2
	grep -q "registered again (reconnect 2)" "$w/c.log" || { cat "$w/c.log"; die "http_app's log"; }
	grep -q "registered again as py (reconnect 2)" "$w/py.log" || { cat "$w/py.log"; die "app.py's log"; }

	# a controller whose config no longer has these apps: both end, saying why
	rc_conf "other" > "$w/ctl.conf"
	kill -TERM "$CTL"; wait "$CTL"
	ctl_start "$w/ctl.conf" "$sock" "$w/ctl4.log"
	rc_within 4 rc_dead "$RC_C" || die "http_app still running, refused by the controller"
	rc_within 4 rc_dead "$RC_PY" || die "app.py still running, refused by the controller"
	wait "$RC_C"; expect_eq "$?" 1 "http_app's exit status when refused"
	wait "$RC_PY"; expect_eq "$?" 1 "app.py's exit status when refused"
	tail -n 2 "$w/c.log" "$w/py.log"
	grep -q "http_app: c: the controller refused the app" "$w/c.log" || die "http_app did not say why it ended"
	grep -q "register py: ERR unknown app 'py'" "$w/py.log" || die "app.py did not say why it ended"
	kill -TERM "$CTL"; wait "$CTL"
	return 0
}

ALL_TESTS+=(test_apps_survive_controller_restart)
