# shellcheck shell=bash
# Sourced by run.sh: the lifecycle of an attachment (issue 10, part 3).
#   test_fail_closed_without_controller   no controller for [broker]
#       no_controller (1s here): curl is refused at once (connection refused,
#       the kernel's answer when nothing listens), not left to time out;
#       counted; served once a controller and an app run; refused again
#       after the controller is killed; with --no-controller hold a SYN is
#       held instead and served when a controller comes.
#   test_upgrade_in_place_keeps_flows     attach over a live attachment whose
#       programs are another build's (its record says so) and attach
#       --replace: the programs are swapped (new ids) on the director (XDP)
#       and a backend (TC ingress and egress), pins kept, while a steered
#       download (REDIRECT), a local one (LOCAL), a held request (UNBOUND) and
#       table entries in every transient state live: the downloads end
#       byte-exact with no RST, the held request is served by an app that
#       registers after the upgrade, the other entries are untouched.
#   test_attach_settings_from_config   [broker] mode, flow_cap, rst_rate,
#       csum_verify, no_controller in the file set the attachment (what the
#       systemd unit's ExecStartPre and ExecReload run), an option given
#       wins, a bad value is refused with its line.
#   test_flow_table_sized_by_config   [broker] flows sizes the flow table at
#       a fresh attach; the controller and replaced programs load against
#       it; another size on a live attachment warns and keeps it.
#   test_new_layout_reattaches_and_ends_the_controller   the record says
#       another map layout (abi): attach warns that flows are dropped and
#       re-attaches with new maps; the running controller notices that the
#       pins are not its maps and exits with a message (a restart opens
#       them); the new controller serves.

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

# The director's flow state counts from its metrics: "unbound local redirect".
dir_flow_states() {
	metrics_get "$CB_NS_DIR" | awk -F'[ "]' '/^connbroker_flows\{state=/ { v[$2] = $NF }
		END { print v["unbound"] + 0, v["local"] + 0, v["redirect"] + 0 }'
}

# Attachment $2 in namespace $1 as JSON (connbroker status -j).
attach_json() { nsx "$1" "$CB" -j status "$2" | jq -c '.[0]'; }

test_upgrade_in_place_keeps_flows() {
	local pcap=$WORK/up.pcap pins key st before after dl_r dl_l held f sum hdr ids0 ids1 out
	local -a keys=()
	cluster_conf ""
	# the held request waits for an app that comes after the upgrade
	sed -i 's/^wait_ms = 3000$/wait_ms = 20000/' "$WORK/cluster.conf"
	grep -q '^wait_ms = 20000$' "$WORK/cluster.conf" || die "wait_ms not raised"
	cluster_start
	cluster_app b1 one; cluster_app dir web
	sleep 0.8
	capture_start "$pcap"
	cli curl -s -m 40 --limit-rate 1M -D "$WORK/up-r.hdr" -o "$WORK/up-r.body" \
		-w '%{local_port}' "http://$CB_VIP/one/bytes/4000000" > "$WORK/up-r.port" &
	dl_r=$!
	cli curl -s -m 40 --limit-rate 1M -D "$WORK/up-l.hdr" -o "$WORK/up-l.body" \
		-w '%{local_port}' "http://$CB_VIP/bytes/4000000" > "$WORK/up-l.port" &
	dl_l=$!
	cli curl -s -m 40 -o "$WORK/up-h.body" "http://$CB_VIP/two/held" &
	held=$!
	BG_PIDS+=("$dl_r" "$dl_l" "$held")
	sleep 1
	read -r -a st <<<"$(dir_flow_states)"
	echo "director flows before: unbound ${st[0]} local ${st[1]} redirect ${st[2]}"
	[ "${st[0]}" -ge 1 ] && [ "${st[1]}" -ge 1 ] && [ "${st[2]}" -ge 1 ] ||
		die "not every live state on the director (unbound local redirect: ${st[*]})"

	# the transient states, as entries of clients that send nothing
	pins=$(topo_pins "$CB_NS_DIR" "$CB_IF_DIR")
	for f in 3 4 6 7; do            # FROZEN SHIPPING PENDING MOVING
		key=$(flow_key_bytes 198.18.0.$((200 + f)) "$CB_VIP" $((1000 + f)) 80)
		bpftool map update pinned "$pins/cb_flows" key $key value \
			$(python3 -c "import struct, time; print(' '.join(str(b) for b in struct.pack('<I8II HBBBBH', (time.monotonic_ns() // 10**6 | 1) & 0xffffffff, *([7] * 8), $f, 1460, 7, 7, 0, 0, 0)))") ||
			die "insert a flow in state $f"
		keys+=("$key")
	done
	before=$(for key in "${keys[@]}"; do bpftool map lookup pinned "$pins/cb_flows" key $key; done)

	# the director: its record says another build attached (build 0, as an
	# older loader): attach upgrades without being asked
	ids0=$(attach_json "$CB_NS_DIR" "$CB_IF_DIR" | jq -c '[.xdp_prog_id, .tc_egress_id]')
	bpftool map update pinned "$pins/cb_attach" key 0 0 0 0 value \
		$(bpftool -j map lookup pinned "$pins/cb_attach" key 0 0 0 0 | python3 -c "
import json, sys
v = [int(b, 16) for b in json.load(sys.stdin)['value']]
print(' '.join(map(str, v[:36] + [0, 0, 0, 0])))") ||
		die "record another build"
	out=$(dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --mode native 2>&1); echo "$out"
	grep -q "programs replaced in place (mode native" <<<"$out" || die "director not upgraded"
	ids1=$(attach_json "$CB_NS_DIR" "$CB_IF_DIR" | jq -c '[.xdp_prog_id, .tc_egress_id]')
	echo "director programs: $ids0 -> $ids1"
	[ "$(jq '.[0] != .[2] and .[1] != .[3]' <<<"[${ids0:1:-1},${ids1:1:-1}]")" = true ] ||
		die "the director's program ids did not change: $ids0 -> $ids1"
	# the same build again: nothing to replace
	out=$(dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --mode native 2>&1)
	grep -q "replaced" <<<"$out" && die "replaced without a new build: $out"
	# b1 (TC ingress and egress), asked to
	ids0=$(attach_json "$CB_NS_B1" "$CB_IF_B1" | jq -c '[.tc_ingress_id, .tc_egress_id]')
	out=$(nsx "$CB_NS_B1" "$CB" attach "$CB_IF_B1" --service "$CB_VIP:80" --mode tc --replace 2>&1)
	echo "$out"
	grep -q "programs replaced in place (mode tc" <<<"$out" || die "b1 not upgraded"
	ids1=$(attach_json "$CB_NS_B1" "$CB_IF_B1" | jq -c '[.tc_ingress_id, .tc_egress_id]')
	echo "b1 programs: $ids0 -> $ids1"
	[ "$(jq '.[0] != .[2] and .[1] != .[3]' <<<"[${ids0:1:-1},${ids1:1:-1}]")" = true ] ||
		die "b1's program ids did not change: $ids0 -> $ids1"

	after=$(for key in "${keys[@]}"; do bpftool map lookup pinned "$pins/cb_flows" key $key; done)
	expect_eq "$after" "$before" "the transient entries across the upgrade"
	for key in "${keys[@]}"; do bpftool map delete pinned "$pins/cb_flows" key $key; done

	# the held request: served by an app that comes now
	cluster_app b2 two
	wait "$held" || die "the held request failed (curl $?)"
	grep -q "app=two path=/two/held node=b2" "$WORK/up-h.body" || die "held answer: $(head -c 300 "$WORK/up-h.body")"
	wait "$dl_r" || die "the steered download failed across the upgrade (curl $?)"
	wait "$dl_l" || die "the local download failed across the upgrade (curl $?)"
	capture_stop
	for f in r l; do
		hdr=$(grep -i '^x-sha256' "$WORK/up-$f.hdr" | tr -d '\r' | awk '{print $2}')
		sum=$(sha256sum "$WORK/up-$f.body" | awk '{print $1}')
		expect_eq "$(stat -c %s "$WORK/up-$f.body")" 4000000 "download $f size"
		expect_eq "$sum" "$hdr" "download $f bytes"
		tshark -r "$pcap" -Y "tcp.flags.reset==1 && tcp.port==$(cat "$WORK/up-$f.port")" 2>/dev/null
		expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1 && tcp.port==$(cat "$WORK/up-$f.port")")" 0 \
			"RSTs on download $f (above)"
	done
	# both controllers lived through it (they check the attachment every second)
	kill -0 "$CTL_dir" && kill -0 "$CTL_b1" || die "a controller exited across the upgrade"
}

test_new_layout_reattaches_and_ends_the_controller() {
	local conf=$WORK/nl.conf sock=$WORK/nl.sock pins out pid rc i
	printf '[broker]\ninterface = %s\nmetrics = off\n[service s]\nlisten = %s:80\ndefault = web\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --config "$conf" || die attach
	at_exit "dir $CB detach $CB_IF_DIR >/dev/null 2>&1"
	ctl_start "$conf" "$sock" "$WORK/nl1.log"; pid=$CTL
	pins=$(topo_pins "$CB_NS_DIR" "$CB_IF_DIR")
	# the record: abi (bytes 32..35) of another build
	bpftool map update pinned "$pins/cb_attach" key 0 0 0 0 value \
		$(bpftool -j map lookup pinned "$pins/cb_attach" key 0 0 0 0 | python3 -c "
import json, sys
v = [int(b, 16) for b in json.load(sys.stdin)['value']]
print(' '.join(map(str, v[:32] + [1, 2, 3, 4] + v[36:])))") || die "record another layout"
	out=$(dir "$CB" attach "$CB_IF_DIR" --config "$conf" 2>&1); echo "$out"
	grep -q "another map layout .*re-attaching drops every held and steered flow" <<<"$out" ||
		die "no warning for another layout"
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && die "the controller runs on against the old maps"
	wait "$pid"; rc=$?
	cat "$WORK/nl1.log"
	[ "$rc" -ne 0 ] || die "the controller exited 0"
	grep -q "attached again with new maps" "$WORK/nl1.log" || die "no message from the controller"
	# restarted (as systemd would), it serves on the new maps
	ctl_start "$conf" "$sock" "$WORK/nl2.log"; pid=$CTL
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" web > "$WORK/nlweb.log" 2>&1 &
	BG_PIDS+=($!)
	sleep 0.5
	out=$(cli curl -s -m 5 "http://$CB_VIP/after") || { cat "$WORK/nl2.log"; die "curl after the restart"; }
	grep -q "path=/after " <<<"$out" || die "answer: $out"
	kill "$pid"; wait "$pid"
}

# The attachment's cb_config as "flow_byte_cap rst_rate flags no_ctl_ms".
attach_cfg() {
	bpftool -j map dump pinned "$(topo_pins "$CB_NS_DIR" "$CB_IF_DIR")/cb_config" |
		jq -r '.[0].formatted.value | "\(.flow_byte_cap) \(.rst_rate) \(.flags) \(.no_ctl_ms)"'
}

test_attach_settings_from_config() {
	local conf=$WORK/as.conf out
	printf '[broker]\ninterface = %s\nmetrics = off\nmode = tc\nflow_cap = 32768\nrst_rate = 5\ncsum_verify = no\nno_controller = hold\n[service s]\nlisten = %s:80\ndefault = web\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" check-config "$conf" || die "check-config"
	dir "$CB" attach "$CB_IF_DIR" --config "$conf" || die attach
	at_exit "dir $CB detach $CB_IF_DIR >/dev/null 2>&1"
	expect_eq "$(dir "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].mode')" tc "mode from the file"
	expect_eq "$(attach_cfg)" "32768 5 0 0" "flow_cap rst_rate flags no_controller from the file"
	# again (a reload): the same; an option given wins
	dir "$CB" attach "$CB_IF_DIR" --config "$conf" || die "attach again"
	expect_eq "$(attach_cfg)" "32768 5 0 0" "settings kept by attaching again"
	dir "$CB" attach "$CB_IF_DIR" --config "$conf" --rst-rate 7 --no-controller 3s || die "attach with options"
	expect_eq "$(attach_cfg)" "32768 7 0 3000" "options win over the file"
	# a bad value: refused with its file and line, the attachment untouched
	sed -i 's/^mode = tc$/mode = fast/' "$conf"
	out=$(dir "$CB" attach "$CB_IF_DIR" --config "$conf" 2>&1) && die "attach took mode = fast"
	echo "$out"
	grep -q "as.conf:4: mode: 'fast': expected native, skb or tc" <<<"$out" || die "message: $out"
	expect_eq "$(attach_cfg)" "32768 7 0 3000" "the attachment after a refused file"
}

# The flow table's size comes from [broker] flows at a fresh attach; the
# controller's and the replaced programs' objects take the pinned size
# (they would fail to load against it otherwise); attaching again with
# another size warns and keeps the table and its flows.
test_flow_table_sized_by_config() {
	local conf=$WORK/ft.conf sock=$WORK/ft.sock out app rc
	printf '[broker]\ninterface = %s\nmetrics = off\nflows = 2048\n[service s]\nlisten = %s:80\ndefault = web\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	dir "$CB" attach "$CB_IF_DIR" --config "$conf" || die attach
	at_exit "dir $CB detach $CB_IF_DIR >/dev/null 2>&1"
	expect_eq "$(dir "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].flows_max')" 2048 "flows_max from the file"
	expect_eq "$(bpftool -j map show pinned "$(topo_pins "$CB_NS_DIR" "$CB_IF_DIR")/cb_flows" | jq -r .max_entries)" \
		2048 "the pinned table's entries"
	ctl_start "$conf" "$sock" "$WORK/ft-ctl.log"
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" web > "$WORK/ft-app.log" 2>&1 &
	app=$!; BG_PIDS+=("$app")
	sleep 0.5
	out=$(cli curl -s -m 3 "http://$CB_VIP/one") || { cat "$WORK/ft-ctl.log"; die "not served with a 2048-flow table"; }
	grep -q "app=web" <<<"$out" || die "answer: $out"
	# another size on a live attachment: a warning, the table and its flow kept
	out=$(dir "$CB" attach "$CB_IF_DIR" --config "$conf" --flows 4096 2>&1) || die "attach again: $out"
	grep -q "flows = 4096 applies at a fresh attach; the live flow table keeps its 2048 entries" <<<"$out" ||
		die "no warning: $out"
	expect_eq "$(dir "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].flows_max')" 2048 "flows_max after attaching again"
	[ "$(dir "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].flows')" -ge 1 ] || die "the flow is gone"
	# the programs replaced in place load against the 2048-entry pin
	dir "$CB" attach "$CB_IF_DIR" --config "$conf" --replace >/dev/null 2>&1 || die "attach --replace"
	out=$(cli curl -s -m 3 "http://$CB_VIP/two") || die "not served after the programs were replaced"
	grep -q "app=web" <<<"$out" || die "answer after replace: $out"
	grep -q "not attached any more\|cannot" "$WORK/ft-ctl.log" && { cat "$WORK/ft-ctl.log"; die "controller trouble"; }
	rc=0; out=$(dir "$CB" attach "$CB_IF_DIR" --flows 10 --service "$CB_VIP:80" 2>&1) || rc=$?
	[ "$rc" = 2 ] || die "--flows 10: exit $rc, not the usage error's 2"
	grep -q -- "--flows '10': expected 1024..16777216" <<<"$out" || die "message: $out"
}

ALL_TESTS+=(test_fail_closed_without_controller test_upgrade_in_place_keeps_flows
	    test_attach_settings_from_config test_new_layout_reattaches_and_ends_the_controller
	    test_flow_table_sized_by_config)
