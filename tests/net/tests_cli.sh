# shellcheck shell=bash
# Sourced by tests/net/run.sh (after it defined its helpers and ALL_TESTS).
#
# Issue #10, part 5: a command line that behaves like ip, bpftool and
# xdp-loader.  Every command answers -h/--help on stdout with exit 0 and
# nothing on stderr; an unknown option or a missing argument is the usage on
# stderr and exit 2; -j goes before or after the command; under -j a failure
# is one JSON object {"error":...,"command":...} on stdout; --version names
# libbpf and libxdp; events refuses to steal a running controller's ring.

# The commands `connbroker help` lists.
cli_commands() {
	"$CB" help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }'
}

# Run "$@", capturing stdout, stderr and the exit status into CLI_OUT,
# CLI_ERR, CLI_RC.
cli_run() {
	"$@" > "$WORK/cli.out" 2> "$WORK/cli.err"
	CLI_RC=$?
	CLI_OUT=$(cat "$WORK/cli.out")
	CLI_ERR=$(cat "$WORK/cli.err")
}

test_cli_uniform() {
	local cmds c h n=0 a b
	cmds=$(cli_commands)
	echo "commands: $(tr '\n' ' ' <<<"$cmds")"
	for c in attach detach status flows events secret check-config run drain migrate version help; do
		grep -qx "$c" <<<"$cmds" || die "'$c' not in the list of commands"
	done
	for c in $cmds; do
		for h in --help -h; do
			cli_run "$CB" "$c" "$h"
			expect_eq "$CLI_RC" 0 "connbroker $c $h: exit status"
			grep -q "Usage" <<<"$CLI_OUT" || die "connbroker $c $h: no usage on stdout: $CLI_OUT"
			[ -z "$CLI_ERR" ] || die "connbroker $c $h: stderr: $CLI_ERR"
		done
		# the same text from help CMD and CMD --help, before or after
		cli_run "$CB" help "$c"
		expect_eq "$CLI_RC" 0 "connbroker help $c"
		[ "$CLI_OUT" = "$("$CB" "$c" --help)" ] || die "help $c differs from $c --help"
		[ "$CLI_OUT" = "$("$CB" --help "$c")" ] || die "--help $c differs from $c --help"
		cli_run "$CB" "$c" --bogus-option
		expect_eq "$CLI_RC" 2 "connbroker $c --bogus-option: exit status"
		grep -q "Usage" <<<"$CLI_ERR" || die "connbroker $c --bogus-option: no usage on stderr: $CLI_ERR"
		[ -z "$CLI_OUT" ] || die "connbroker $c --bogus-option: stdout: $CLI_OUT"
		n=$((n + 1))
	done
	echo "$n commands answer --help, -h and help CMD, and refuse --bogus-option"
	# what issue 10 found: secret rotate --help said "--help: not attached"
	cli_run "$CB" secret rotate --help
	expect_eq "$CLI_RC" 0 "secret rotate --help"
	grep -q "Usage: connbroker secret rotate IFNAME" <<<"$CLI_OUT" || die "secret rotate --help: $CLI_OUT"
	for h in --help -h help; do
		cli_run "$CB" $h
		expect_eq "$CLI_RC" 0 "connbroker $h"
		grep -q "^Usage: connbroker \[OPTIONS\] COMMAND" <<<"$CLI_OUT" || die "connbroker $h: $CLI_OUT"
		[ -z "$CLI_ERR" ] || die "connbroker $h: stderr: $CLI_ERR"
	done
	# missing arguments: the usage on stderr, exit 2
	for a in "attach" "attach $CB_IF_DIR" "detach" "flows" "events" "secret" "secret rotate" \
		 "check-config" "run" "drain" "migrate 1.2.3.4:5" "" "nosuch-command" "--bogus"; do
		# shellcheck disable=SC2086  # $a: words
		cli_run "$CB" $a
		expect_eq "$CLI_RC" 2 "connbroker $a: exit status"
		grep -q "Usage" <<<"$CLI_ERR" || die "connbroker $a: no usage on stderr: $CLI_ERR"
		[ -z "$CLI_OUT" ] || die "connbroker $a: stdout: $CLI_OUT"
	done
	# a bad value: exit 2 and why
	cli_run "$CB" events "$CB_IF_DIR" --count 0
	expect_eq "$CLI_RC" 2 "events --count 0"
	grep -q "count '0'" <<<"$CLI_ERR" || die "events --count 0: $CLI_ERR"

	# -j before the command, after it, at the end: the same JSON (but for
	# what moves between two calls: counters, the heartbeat's age)
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	a=$(dir "$CB" -j status "$CB_IF_DIR" | jq -S 'del(.[].counters, .[].heartbeat_age_ms)') ||
		die "-j status: not JSON"
	[ "$(jq 'length' <<<"$a")" = 1 ] || die "-j status: $a"
	for b in "status -j $CB_IF_DIR" "status $CB_IF_DIR -j" "--json status $CB_IF_DIR" \
		 "status $CB_IF_DIR --json" "-v status -j $CB_IF_DIR"; do
		# shellcheck disable=SC2086
		[ "$(dir "$CB" $b 2>/dev/null | jq -S 'del(.[].counters, .[].heartbeat_age_ms)')" = "$a" ] ||
			die "connbroker $b differs from connbroker -j status: $(dir "$CB" $b)"
	done
	dir "$CB" flows "$CB_IF_DIR" -j | jq -e 'type == "array"' >/dev/null || die "flows IF -j"

	# under -j a failure is one JSON object on stdout, exit status kept
	for b in "-j status nosuch0:1:status:not attached" "status nosuch0 -j:1:status:not attached" \
		 "-j flows nosuch0:1:flows:not attached" "-j secret rotate nosuch0:1:secret:not attached" \
		 "-j check-config /nonexistent.conf:1:check-config:" \
		 "-j events:2:events:expected exactly one interface" \
		 "-j attach --bogus:2:attach:unrecognized option" \
		 "-j drain b1 --socket /nonexistent.sock:1:drain:cannot reach the controller" \
		 "-j nosuch-command:2:null:unknown command"; do
		IFS=: read -r a rc c h <<<"$b"
		# shellcheck disable=SC2086
		cli_run dir "$CB" $a
		expect_eq "$CLI_RC" "$rc" "connbroker $a: exit status"
		expect_eq "$(jq -s length <<<"$CLI_OUT")" 1 "connbroker $a: one JSON value on stdout ($CLI_OUT)"
		jq -e --arg c "$c" --arg h "$h" '(.error | type == "string" and contains($h)) and
			((.command // "null") == $c)' <<<"$CLI_OUT" >/dev/null ||
			die "connbroker $a: $CLI_OUT"
		echo "connbroker $a -> $CLI_OUT"
	done
	# a message with quotes stays valid JSON
	cli_run dir "$CB" -j status 'no"such'
	jq -e '.error | contains("no\"such")' <<<"$CLI_OUT" >/dev/null || die "escaping: $CLI_OUT"

	# versions, and the libraries this binary runs with
	for b in --version -V version "version -j"; do
		# shellcheck disable=SC2086
		cli_run "$CB" $b
		expect_eq "$CLI_RC" 0 "connbroker $b"
		if [ "$b" = "version -j" ]; then
			jq -e '(.version | length > 0) and (.libbpf.version | test("^1\\.[0-9]+")) and
				(.libxdp.version | test("^1\\.[0-9]+"))' <<<"$CLI_OUT" >/dev/null ||
				die "version -j: $CLI_OUT"
		else
			grep -q "^connbroker [0-9]" <<<"$CLI_OUT" || die "$b: $CLI_OUT"
			grep -q "^libbpf 1\.[0-9]" <<<"$CLI_OUT" || die "$b: no libbpf version: $CLI_OUT"
			grep -q "^libxdp 1\.[0-9]" <<<"$CLI_OUT" || die "$b: no libxdp version: $CLI_OUT"
		fi
	done
	echo "$CLI_OUT"
	[ "$("$CB" -j --version)" = "$("$CB" version --json)" ] || die "-j --version differs"
	# the libbpf it names is the one it runs with
	grep -q "$(ldd "$CB" | awk '/libbpf/ { print $3 }' | xargs readlink -f)" <<<"$("$CB" --version)" ||
		die "libbpf path: $("$CB" --version) vs $(ldd "$CB" | grep libbpf)"

	# the man page comes from the same table: groff reads it without a warning
	"$CB" help --man > "$WORK/connbroker.8" || die "help --man"
	a=$(groff -man -Tutf8 -ww -z "$WORK/connbroker.8" 2>&1)
	[ -z "$a" ] || die "groff warns: $a"
	for c in $cmds; do
		[ "$c" = help ] && continue
		grep -qF ".SS \"${c//-/\\-} " "$WORK/connbroker.8" ||
			echo "NOTE: $c is not in the man page (no entry in user/cli/usage.c)"
	done
	dir "$CB" detach "$CB_IF_DIR" || die detach
}

# events refuses to start while a controller consumes the ring (it took
# requests from it: 2 of 10 timed out), names the controller's pid; --force
# reads anyway; once the controller is gone it reads; a controller that starts
# while events runs stops it.
test_cli_events_refuses_with_controller() {
	local conf=$WORK/ev.conf sock=$WORK/ev.sock ctl ev rc
	printf '[broker]\ninterface = %s\nmetrics = off\n[service s]\nlisten = %s:80\ndefault = web\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	ctl_start "$conf" "$sock" "$WORK/ev-ctl.log"; ctl=$CTL
	for _ in $(seq 20); do [ -S "$sock" ] && break; sleep 0.1; done
	kill -0 "$ctl" 2>/dev/null || { cat "$WORK/ev-ctl.log"; die "controller did not start"; }

	cli_run dir timeout 5 "$CB" events "$CB_IF_DIR" --timeout 1
	echo "$CLI_ERR"
	expect_eq "$CLI_RC" 1 "events while a controller runs"
	grep -q "a controller (pid $ctl) runs on $CB_IF_DIR" <<<"$CLI_ERR" || die "message: $CLI_ERR"
	grep -q -- "--force" <<<"$CLI_ERR" || die "no word of --force: $CLI_ERR"
	cli_run dir timeout 5 "$CB" -j events "$CB_IF_DIR" --timeout 1
	expect_eq "$CLI_RC" 1 "-j events while a controller runs"
	jq -e --arg p "pid $ctl" '.command == "events" and (.error | contains($p))' <<<"$CLI_OUT" >/dev/null ||
		die "-j events: $CLI_OUT"
	# --force: it reads (and ends after a second without a record)
	cli_run dir timeout 5 "$CB" events "$CB_IF_DIR" --timeout 1 --force
	expect_eq "$CLI_RC" 0 "events --force while a controller runs ($CLI_ERR)"
	kill -TERM "$ctl"; wait "$ctl"
	cli_run dir timeout 5 "$CB" events "$CB_IF_DIR" --timeout 1
	expect_eq "$CLI_RC" 0 "events once the controller stopped ($CLI_ERR)"

	# a controller that starts while events runs stops it
	nsenter --net=/run/netns/"$CB_NS_DIR" "$CB" events "$CB_IF_DIR" > "$WORK/ev.out" 2> "$WORK/ev.err" &
	ev=$!; BG_PIDS+=("$ev")
	sleep 0.5
	kill -0 "$ev" 2>/dev/null || die "events did not start: $(cat "$WORK/ev.err")"
	ctl_start "$conf" "$sock" "$WORK/ev-ctl2.log"; ctl=$CTL
	timeout 4 tail --pid="$ev" -f /dev/null || die "events still runs 4 s after a controller started"
	wait "$ev"; rc=$?
	cat "$WORK/ev.err"
	expect_eq "$rc" 1 "events after a controller started"
	grep -q "a controller (pid $ctl) started on $CB_IF_DIR" "$WORK/ev.err" || die "message: $(cat "$WORK/ev.err")"
	kill -0 "$ctl" 2>/dev/null || { cat "$WORK/ev-ctl2.log"; die "the controller did not survive"; }
	kill -TERM "$ctl"; wait "$ctl"
	dir "$CB" detach "$CB_IF_DIR"
}

# connbroker.conf(5) and `help config` come from one table: every key the
# parser accepts (a strcmp(k, "...") in user/ctl/config.c, and include) is
# in it, the page is valid roff (groff -ww warns of nothing) and names them too.
test_config_reference_complete() {
	local keys k ref man missing=""
	keys=$(grep -o 'strcmp(k, "[a-z_]*")' "$ROOT/user/ctl/config.c" | sed 's/.*"\(.*\)".*/\1/' | sort -u)
	[ "$(wc -l <<<"$keys")" -ge 40 ] || die "too few keys found in config.c: $keys"
	ref=$("$CB" help config) || die "help config"
	man=$("$CB" help --man5 | groff -man -Tutf8 -P-cbou -ww 2>"$WORK/man5.err") || die "groff"
	[ -s "$WORK/man5.err" ] && { cat "$WORK/man5.err"; die "groff warns about connbroker.conf(5)"; }
	for k in $keys include; do
		grep -qE "^  $k = " <<<"$ref" || missing="$missing $k"
		grep -qE "^ +$k = " <<<"$man" || missing="$missing $k(man)"
	done
	[ -z "$missing" ] || die "keys the parser accepts but the reference lacks:$missing"
	expect_eq "$(grep -c '^\[' <<<"$ref")" 5 "sections in help config"
}

ALL_TESTS+=(test_config_reference_complete test_cli_uniform test_cli_events_refuses_with_controller)
