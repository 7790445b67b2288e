# shellcheck shell=bash
# Sourced by run.sh: scale (issue 11, part 4).
#   test_million_idle_connections   a flow table sized for it ([broker]
#       flows, here attach --flows) holds SCALE_FLOWS (1,000,000) idle
#       handshaken connections: build/handshakes (tests/net/handshakes.c)
#       completes them from raw frames, no kernel socket on either side (no
#       controller runs: no_controller = hold keeps them); every one is in
#       the table, none was refused or evicted; prints the table's memory.

SCALE_FLOWS=${SCALE_FLOWS:-1000000}

test_million_idle_connections() {
	local out dmac map entries mem n c
	[ -x "$ROOT/build/handshakes" ] || die "build/handshakes missing: make build/handshakes"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --no-controller hold \
		--flows $((SCALE_FLOWS + SCALE_FLOWS / 8)) >/dev/null || die attach
	at_exit "dir $CB detach $CB_IF_DIR >/dev/null 2>&1"
	dmac=$(ip -n "$CB_NS_DIR" -j link show "$CB_IF_DIR" | jq -r '.[0].address')
	out=$(cli "$ROOT/build/handshakes" "$CB_IF_CLIENT" "$dmac" "$CB_VIP" 80 "$SCALE_FLOWS" 2>&1) ||
		{ echo "$out"; die "not every handshake completed"; }
	tail -n 1 <<<"$out"
	n=$(dir "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].flows')
	[ "$n" = "$SCALE_FLOWS" ] || { dir "$CB" -j status "$CB_IF_DIR" |
		jq -c '.[0].counters | with_entries(select(.value > 0))'; die "$n idle connections held, not $SCALE_FLOWS"; }
	for c in ack_cookie_ok:$SCALE_FLOWS flow_insert_fail:0 rst_unbound:0 ack_cookie_bad:0; do
		expect_eq "$(counter "${c%%:*}")" "${c#*:}" "${c%%:*}"
	done
	map=$(bpftool -j map show pinned "$(topo_pins "$CB_NS_DIR" "$CB_IF_DIR")/cb_flows")
	entries=$(jq -r .max_entries <<<"$map") mem=$(jq -r .bytes_memlock <<<"$map")
	echo "flow table: $mem bytes ($((mem / 1048576)) MiB) for $entries entries, $((mem / entries)) B each; $n connections held"
}

ALL_TESTS+=(test_million_idle_connections)
