# shellcheck shell=bash
# Sourced by tests/net/run.sh (after it defined its helpers and ALL_TESTS).
#
# IPv6 (issue 9, part 1) in the namespace topology (tests/net/topology.sh):
# client 2001:db8::1, director 2001:db8::2, b1 ::3, b2 ::4, VIP6
# 2001:db8::100 on the director's interface and on the backends' lo.
#
#   test_ipv6_topology          kernel only, no connbroker: addresses usable at
#                               once, a kernel listener on VIP6 answers, ND for
#                               VIP6 answered by the director alone, backends
#                               silent about VIP6 yet serving it (DSR)
#   test_ipv6_handshake_{native,tc}   cookies, first bytes and flows over IPv6
#                               next to IPv4 on one attachment (dual stack)
#   test_ipv6_controller_routes one dual-stack service by path, one by SNI,
#                               byte-exact both ways, over IPv6 and IPv4
#   test_ipv6_cluster_handoff_and_migration   hand-offs to b1/b2 answered by
#                               direct server return from VIP6, a live move
#                               of an IPv6 connection between b1 and b2
#   test_ipv6_cluster_migrate_cli   `connbroker migrate [2001:db8::1]:PORT`

# MAC of interface $2 in namespace $1.
v6_mac() { ip -n "$1" -j link show dev "$2" | jq -r '.[0].address'; }

# Wait until something listens on $2 (as ss prints it, "[addr]:port") in $1.
v6_wait_listen() {
	local i
	for i in $(seq 50); do
		nsx "$1" ss -Hltn | awk '{print $4}' | grep -qxF "$2" && return 0
		sleep 0.1
	done
	# what the server said, and who holds the port (a CI failure once, not reproduced)
	[ -n "${3:-}" ] && cat "$3"
	nsx "$1" ss -Htanp | head -20
	die "nothing listens on $2 in $1"
}

# A kernel listener (python http.server, serving directory $4) on [$2]:$3 in
# namespace $1; killed when the test ends.
v6_kernel_http() {
	nsenter --net=/run/netns/"$1" python3 -m http.server "$3" --bind "$2" --directory "$4" \
		> "$WORK/http-$1-$3.log" 2>&1 &
	BG_PIDS+=($!)
	v6_wait_listen "$1" "[$2]:$3" "$WORK/http-$1-$3.log"
}

# ---- the topology, kernel only ----------------------------------------------

# Every host has its /64 and (director, backends) VIP6, none tentative or
# failed DAD, IPv6 on; the bridge namespace has no IPv6 of its own.  A kernel
# listener on [VIP6]:80 in the director serves curl -6 byte-exact.  Neighbour
# discovery, from captures on the four bridge ports: the client's own
# resolution of VIP6 (multicast, flooded: the bridge does no snooping),
# solicitations for VIP6 sent to its solicited-node group and straight to
# each backend's and the director's address, and each backend resolving the
# client for a datagram it sends from VIP6.  The solicitations for VIP6
# reached both backends, yet every advertisement for VIP6 comes from the
# director's MAC and no ND packet from a backend names VIP6 (as target or
# source); the client's neighbour entry for VIP6 is the director's MAC.
# Then direct server return works: with VIP6 pinned to b1's MAC in the
# client, a kernel listener on [VIP6]:8081 in b1 (VIP6 on lo) answers.
test_ipv6_topology() {
	local n ns ifn ip6 www=$WORK/www6 sum out f c mac_cli mac_dir mac_b1 mac_b2 cap="" curl_rc
	local -A ndcap=() hostmac=()
	for n in "$CB_NS_CLIENT $CB_IF_CLIENT $CB_IP6_CLIENT" "$CB_NS_DIR $CB_IF_DIR $CB_IP6_DIR" \
		 "$CB_NS_B1 $CB_IF_B1 $CB_IP6_B1" "$CB_NS_B2 $CB_IF_B2 $CB_IP6_B2"; do
		read -r ns ifn ip6 <<<"$n"
		ip -n "$ns" -6 addr show dev "$ifn" | grep -q "inet6 $ip6/64 " || die "$ns: no $ip6/64 on $ifn"
		expect_eq "$(ip -n "$ns" -6 addr show tentative)" "" "$ns: tentative addresses"
		expect_eq "$(ip -n "$ns" -6 addr show dadfailed)" "" "$ns: addresses that failed DAD"
		expect_eq "$(nsx "$ns" sysctl -n net.ipv6.conf.all.disable_ipv6)" 0 "$ns: IPv6 disabled"
		expect_eq "$(nsx "$ns" sysctl -n net.ipv6.conf."$ifn".accept_dad)" 0 "$ns: accept_dad on $ifn"
		expect_eq "$(nsx "$ns" sysctl -n net.ipv6.conf."$ifn".router_solicitations)" 0 \
			"$ns: router solicitations on $ifn"
		hostmac[$ns]=$(v6_mac "$ns" "$ifn")
	done
	mac_cli=${hostmac[$CB_NS_CLIENT]} mac_dir=${hostmac[$CB_NS_DIR]}
	mac_b1=${hostmac[$CB_NS_B1]} mac_b2=${hostmac[$CB_NS_B2]}
	ip -n "$CB_NS_DIR" -6 addr show dev "$CB_IF_DIR" | grep -q "inet6 $CB_VIP6/128 " ||
		die "VIP6 not on the director's interface"
	for n in "$CB_NS_B1 $CB_IF_B1" "$CB_NS_B2 $CB_IF_B2"; do
		read -r ns ifn <<<"$n"
		ip -n "$ns" -6 addr show dev lo | grep -q "inet6 $CB_VIP6/128 " || die "$ns: VIP6 not on lo"
		ip -n "$ns" -6 addr show dev "$ifn" | grep -q "inet6 $CB_VIP6/" && die "$ns: VIP6 on $ifn"
	done
	expect_eq "$(ip -n "$CB_NS_NET" -6 -o addr show | grep -v ' lo ')" "" "IPv6 addresses in the bridge namespace"

	# a kernel listener on [VIP6]:80 in the director, curl -6 from the client
	mkdir -p "$www"
	head -c 1000000 /dev/urandom > "$www/f.bin"
	sum=$(sha256sum "$www/f.bin" | cut -d' ' -f1)
	v6_kernel_http "$CB_NS_DIR" "$CB_VIP6" 80 "$www"

	for f in cli dir b1 b2; do
		case $f in cli) ifn=$CB_IF_CLIENT ;; dir) ifn=$CB_IF_DIR ;; b1) ifn=$CB_IF_B1 ;; b2) ifn=$CB_IF_B2 ;; esac
		ndcap[$f]=$WORK/nd6-$f.pcap
		capture_in "$CB_NS_NET" "br-$ifn" "${ndcap[$f]}" icmp6
		cap="$cap $LAST_CAP"
	done
	cli ip -6 neigh flush dev "$CB_IF_CLIENT"
	# (checked after the captures: an ND answer from the wrong host is the
	# first thing to report)
	cli curl -6 -s -m 3 -o "$WORK/f6.bin" "http://[$CB_VIP6]/f.bin"; curl_rc=$?
	for f in "$CB_IP6_B1" "$CB_IP6_B2" "$CB_IP6_DIR" snm; do
		cli python3 "$HERE/nd6_solicit.py" "$CB_IF_CLIENT" "$CB_VIP6" "$f" || die "NS to $f"
	done
	# each backend resolves the client for a datagram from VIP6: its NS
	# must not come from VIP6 (the client would learn VIP6 -> backend MAC)
	for ns in "$CB_NS_B1" "$CB_NS_B2"; do
		nsx "$ns" ip -6 neigh flush all
		nsx "$ns" python3 -c "
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(('$CB_VIP6', 0)); s.sendto(b'from VIP6', ('$CB_IP6_CLIENT', 9))" || die "$ns: datagram from VIP6"
	done
	sleep 0.5
	for c in $cap; do kill "$c" 2>/dev/null; wait "$c" 2>/dev/null; done

	local na="icmpv6.type==136 && icmpv6.nd.na.target_address==$CB_VIP6"
	local ns_vip="icmpv6.type==135 && icmpv6.nd.ns.target_address==$CB_VIP6"
	local nd="icmpv6.type>=133 && icmpv6.type<=137"
	local about_vip="(ipv6.src==$CB_VIP6 || icmpv6.nd.na.target_address==$CB_VIP6 || icmpv6.nd.ns.target_address==$CB_VIP6)"
	echo "ND seen on the client's port:"
	tshark -r "${ndcap[cli]}" -Y "$nd" 2>/dev/null | sed 's/^/  /'
	# the client's resolution, the NS to the director and the one to the group
	[ "$(tshark_count "${ndcap[cli]}" "$na && eth.src==$mac_dir")" -ge 3 ] ||
		die "fewer than 3 advertisements for VIP6 from the director reached the client"
	expect_eq "$(tshark_count "${ndcap[cli]}" "$na && eth.src!=$mac_dir")" 0 \
		"advertisements for VIP6 from another MAC than the director's"
	[ "$(tshark_count "${ndcap[dir]}" "$na && eth.src==$mac_dir")" -ge 3 ] || die "the director's advertisements"
	for f in b1 b2; do
		local m=$mac_b1 a=$CB_IP6_B1
		[ $f = b2 ] && m=$mac_b2 a=$CB_IP6_B2
		# they were asked: the two multicast NS (flooded) and one to their address
		[ "$(tshark_count "${ndcap[$f]}" "$ns_vip && eth.src==$mac_cli")" -ge 3 ] ||
			die "$f did not receive the solicitations for VIP6 (is the bridge snooping?)"
		expect_eq "$(tshark_count "${ndcap[$f]}" "$ns_vip && ipv6.dst==$a")" 1 "NS for VIP6 sent to $f's address"
		expect_eq "$(tshark_count "${ndcap[$f]}" "$nd && eth.src==$m && $about_vip")" 0 \
			"ND packets from $f naming VIP6"
		[ "$(tshark_count "${ndcap[$f]}" "icmpv6.type==135 && eth.src==$m && icmpv6.nd.ns.target_address==$CB_IP6_CLIENT")" -ge 1 ] ||
			die "$f did not resolve the client (the datagram from VIP6 was not sent?)"
	done
	out=$(cli ip -6 neigh show "$CB_VIP6" dev "$CB_IF_CLIENT"); echo "client: $out"
	grep -q "lladdr $mac_dir " <<<"$out" || die "the client's neighbour entry for VIP6 is not the director's MAC ($mac_dir)"
	expect_eq "$curl_rc" 0 "curl -6 to the kernel listener on [VIP6]:80"
	expect_eq "$(sha256sum "$WORK/f6.bin" | cut -d' ' -f1)" "$sum" "1 MB from [VIP6]:80 byte-exact"

	# direct server return: frames for VIP6 to b1's MAC reach b1's listener
	# on VIP6 (held on lo), which answers from VIP6
	v6_kernel_http "$CB_NS_B1" "$CB_VIP6" 8081 "$www"
	at_exit "nsx $CB_NS_CLIENT ip -6 neigh del $CB_VIP6 dev $CB_IF_CLIENT 2>/dev/null"
	cli ip -6 neigh replace "$CB_VIP6" lladdr "$mac_b1" dev "$CB_IF_CLIENT" nud permanent || die "pin VIP6"
	cli curl -6 -s -m 3 -o "$WORK/f6-b1.bin" "http://[$CB_VIP6]:8081/f.bin" || die "curl -6 to b1 through VIP6"
	expect_eq "$(sha256sum "$WORK/f6-b1.bin" | cut -d' ' -f1)" "$sum" "1 MB from b1's [VIP6]:8081 byte-exact"
	grep -q '"GET /f.bin' "$WORK/http-$CB_NS_B1-8081.log" || die "b1 did not serve it"
	cli ip -6 neigh del "$CB_VIP6" dev "$CB_IF_CLIENT" || die "unpin VIP6"
	cli curl -6 -s -m 3 -o /dev/null "http://[$CB_VIP6]/f.bin" || die "curl -6 to the director again"
	cli ip -6 neigh show "$CB_VIP6" dev "$CB_IF_CLIENT" | grep -q "lladdr $mac_dir " ||
		die "VIP6 did not resolve to the director again"
	return 0
}

# ---- the datapath: handshake, first bytes, flows ------------------------------

# handshake_in_mode (run.sh) over IPv6, with the IPv4 service on the same
# attachment at the same time: a python client (multi-segment request) and
# curl on each family, nothing listening; ESTABLISHED, every byte acked; the
# events hold each client's bytes exactly (events split by client address);
# a held IPv6 flow is in the flow table with the client's address and MSS
# 1440; SYN-ACKs offer the MSS the kernel would (1440 on IPv6, 1460 on IPv4);
# no RST from either service address (but the fail-closed one to curl's FIN),
# no client retransmission; cookie counters; detach leaves nothing.
handshake6_in_mode() {
	local mode=$1 ev=$WORK/ev6-$1.jsonl pcap=$WORK/cap6-$1.pcap out6 out4 flows holder n
	dir ss -Hltn | grep -q ":80 " && die "something listens on :80 in the director"
	# hold: no controller here, the flows wait (not refused: no_controller)
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --service "[$CB_VIP6]:80" --mode "$mode" \
		--no-controller hold ||
		die "attach $mode with [$CB_VIP6]:80"
	at_exit "nsx $CB_NS_DIR $CB detach $CB_IF_DIR >/dev/null 2>&1"
	dir "$CB" -j status "$CB_IF_DIR" > "$WORK/status6-$mode.json" || die "status"
	grep -q "$CB_VIP6" "$WORK/status6-$mode.json" || die "status does not show [$CB_VIP6]:80: $(cat "$WORK/status6-$mode.json")"
	grep -q "$CB_VIP" "$WORK/status6-$mode.json" || die "status does not show $CB_VIP:80"
	events_start "$ev"
	capture_start "$pcap" "tcp and (host $CB_VIP or host $CB_VIP6)"

	out6=$(cli python3 "$HERE/client.py" "$CB_VIP6" 80 5000 4) || die "python client over IPv6"
	echo "client6: ${out6:0:120}"
	expect_eq "$(jq -r .state <<<"$out6")" 1 "IPv6 client TCP state (1 = ESTABLISHED)"
	expect_eq "$(jq -r .bytes_acked <<<"$out6")" 5001 "bytes acknowledged to the IPv6 client"
	out4=$(cli python3 "$HERE/client.py" "$CB_VIP" 80 3000 3) || die "python client over IPv4"
	echo "client4: ${out4:0:120}"
	expect_eq "$(jq -r .state <<<"$out4")" 1 "IPv4 client TCP state (1 = ESTABLISHED)"
	expect_eq "$(jq -r .bytes_acked <<<"$out4")" 3001 "bytes acknowledged to the IPv4 client"

	cli curl -6 -s -m 1 -o /dev/null "http://[$CB_VIP6]/hello-curl6" --local-port 20006
	expect_eq "$?" 28 "curl -6 waits for a response (timeout, not refused or reset)"
	cli curl -4 -s -m 1 -o /dev/null "http://$CB_VIP/hello-curl4" --local-port 20004
	expect_eq "$?" 28 "curl -4 waits for a response (timeout, not refused or reset)"

	# an IPv6 flow held open (closed with an RST, so no FIN needs an answer)
	nsenter --net=/run/netns/"$CB_NS_CLIENT" python3 -c "
import socket, struct, time
s = socket.create_connection(('$CB_VIP6', 80)); s.sendall(b'x'); time.sleep(1.5)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))" &
	holder=$!; BG_PIDS+=("$holder")
	sleep 0.7
	flows=$(dir "$CB" -j flows "$CB_IF_DIR"); echo "flows: $flows"
	wait "$holder"
	capture_stop
	events_stop

	n=$(jq '[.[] | select(.client | contains("2001:db8::1"))] | length' <<<"$flows")
	expect_eq "$n" 1 "IPv6 flows in the table (client 2001:db8::1)"
	expect_eq "$(jq -r '.[] | select(.client | contains("2001:db8::1")) | .mss' <<<"$flows")" 1440 \
		"the IPv6 client's MSS in its flow"
	expect_eq "$(jq -r '.[] | select(.client | contains("2001:db8::1")) | .bytes_in' <<<"$flows")" 1 \
		"bytes_in of the IPv6 flow"
	jq -r '.[] | select(.client | contains("2001:db8::1")) | .service' <<<"$flows" | grep -q "$CB_VIP6" ||
		die "the IPv6 flow's service is not [$CB_VIP6]:80"

	# the events of each family, by client address (ports may coincide)
	jq -c 'select((.client // "") | contains("2001:db8::1"))' "$ev" > "$ev.6"
	jq -c 'select((.client // "") | contains("198.18.0.1"))' "$ev" > "$ev.4"
	python3 "$HERE/check_events.py" "$ev.6" "$out6" || die "IPv6 python client bytes"
	python3 "$HERE/check_events.py" "$ev.6" --prefix 20006 \
		"$(printf 'GET /hello-curl6 HTTP/1.1\r\nHost: [%s]\r\n' "$CB_VIP6" | xxd -p | tr -d '\n')" ||
		die "curl -6 bytes"
	python3 "$HERE/check_events.py" "$ev.4" "$out4" || die "IPv4 python client bytes"
	python3 "$HERE/check_events.py" "$ev.4" --prefix 20004 \
		"$(printf 'GET /hello-curl4 HTTP/1.1\r\nHost: %s\r\n' "$CB_VIP" | xxd -p | tr -d '\n')" ||
		die "curl -4 bytes"

	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1 && ipv6.src==$CB_VIP6 && tcp.dstport!=20006")" 0 \
		"RSTs from VIP6"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1 && ip.src==$CB_VIP && tcp.dstport!=20004")" 0 \
		"RSTs from the VIP"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.fin==1 && ipv6.src==$CB_IP6_CLIENT && tcp.srcport==20006")" 1 \
		"curl -6's FIN"
	expect_eq "$(tshark_count "$pcap" "tcp.analysis.retransmission && (ip.src==$CB_IP_CLIENT || ipv6.src==$CB_IP6_CLIENT)")" 0 \
		"client retransmissions"
	expect_eq "$(tshark -r "$pcap" -Y "tcp.flags.syn==1 && tcp.flags.ack==1 && ipv6.src==$CB_VIP6" \
		-T fields -e tcp.options.mss_val 2>/dev/null | sort -u | tr '\n' ' ')" "1440 " "MSS offered over IPv6"
	expect_eq "$(tshark_count "$pcap" "tcp.flags.syn==1 && tcp.flags.ack==1 && ipv6.src==$CB_VIP6")" 3 \
		"SYN-ACKs from VIP6 (python, curl, holder)"
	expect_eq "$(tshark -r "$pcap" -Y "tcp.flags.syn==1 && tcp.flags.ack==1 && ip.src==$CB_VIP" \
		-T fields -e tcp.options.mss_val 2>/dev/null | sort -u | tr '\n' ' ')" "1460 " "MSS offered over IPv4"
	[ "$(counter syn_cookie_sent)" -ge 5 ] || die "syn_cookie_sent: $(counter syn_cookie_sent)"
	[ "$(counter ack_cookie_ok)" -ge 5 ] || die "ack_cookie_ok: $(counter ack_cookie_ok)"
	expect_eq "$(counter ack_cookie_bad)" 0 "bad cookies"
	dir "$CB" detach "$CB_IF_DIR" || die "detach"
	[ -e "$(topo_pins "$CB_NS_DIR" "$CB_IF_DIR")" ] && die "pins left after detach"
	dir ip link show "$CB_IF_DIR" | grep -q 'prog/xdp' && die "XDP left after detach"
	return 0
}
test_ipv6_handshake_native() { handshake6_in_mode native; }
test_ipv6_handshake_tc() { handshake6_in_mode tc; }

# ---- the controller ------------------------------------------------------------

# One controller, two dual-stack services: shop (listen = VIP:80, [VIP6]:80)
# routes by path (/api/ -> api, a bulk app; else web, examples/app.py), tls
# (VIP:443, [VIP6]:443) by SNI (api.example -> tapi, else tweb; the apps
# terminate TLS).  Over IPv6 and then IPv4 in the same run: each app gets its
# requests, the FLOW line names the client in its family (client=[2001:db8::1]:PORT
# or client=198.18.0.1:PORT), a 3 MB download and 1 MB and 100 KB uploads
# (plain and TLS) are byte-exact, the download's segments are full-size for
# the family (1428 and 1448 bytes with timestamps, as an accepted socket's),
# no RST or retransmission from the service addresses, decisions counted,
# every flow materialized.
test_ipv6_controller_routes() {
	local conf=$WORK/ctl6.conf sock=$WORK/ctl6.sock pcap=$WORK/ctl6.pcap ctl out hdr sum a
	local fam host pat post100 sum100 up1m sum1m
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
		-subj /CN=shop.example -addext "subjectAltName=DNS:shop.example,DNS:api.example" \
		-keyout "$WORK/key6.pem" -out "$WORK/cert6.pem" 2>/dev/null || die "openssl req"
	cat > "$conf" <<CONF
[broker]
interface = $CB_IF_DIR
decide_ms = 300
[service shop]
listen = $CB_VIP:80, [$CB_VIP6]:80
default = web
wait_ms = 1000
on_timeout = http503
[rule api]
service = shop
path_prefix = /api/
app = api
[service tls]
listen = $CB_VIP:443, [$CB_VIP6]:443
default = tweb
[rule tapi]
service = tls
sni = api.example
app = tapi
[app web]
[app api]
[app tweb]
[app tapi]
CONF
	dir "$CB" check-config "$conf" || die "check-config refuses the dual-stack listen lines"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --service "[$CB_VIP6]:80" \
		--service "$CB_VIP:443" --service "[$CB_VIP6]:443" || die attach
	at_exit "nsx $CB_NS_DIR $CB detach $CB_IF_DIR >/dev/null 2>&1"
	ctl_start "$conf" "$sock" "$WORK/ctl6.log"; ctl=$CTL
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" web > "$WORK/web6.log" 2>&1 &
	BG_PIDS+=($!)
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$HERE/bulk_app.py" "$sock" api dir > "$WORK/api6.log" 2>&1 &
	BG_PIDS+=($!)
	for a in tweb tapi; do
		nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" "$a" \
			"$WORK/cert6.pem" "$WORK/key6.pem" > "$WORK/$a.log" 2>&1 &
		BG_PIDS+=($!)
	done
	sleep 0.7
	dir ss -Hltn | grep -q ":80 \|:443 " && die "something listens on :80 or :443"
	post100=$WORK/post100k.bin up1m=$WORK/up1m.bin
	head -c 100000 /dev/urandom > "$post100"; sum100=$(sha256sum "$post100" | cut -d' ' -f1)
	head -c 1000000 /dev/urandom > "$up1m"; sum1m=$(sha256sum "$up1m" | cut -d' ' -f1)
	capture_start "$pcap" "tcp and (host $CB_VIP or host $CB_VIP6)"
	for fam in 6 4; do
		if [ $fam = 6 ]; then host="[$CB_VIP6]" pat="client=\[$CB_IP6_CLIENT\]:[0-9]"
		else host=$CB_VIP pat="client=$CB_IP_CLIENT:[0-9]"; fi
		out=$(cli curl -$fam -s -m 3 "http://$host/index.html"); echo "$out"
		grep -q "app=web method=GET path=/index.html .*FLOW $pat.* service=shop rule=default app=web" <<<"$out" ||
			die "IPv$fam: default app, or the FLOW line's client"
		out=$(cli curl -$fam -s -m 5 --data-binary @"$post100" "http://$host/upload"); echo "$out"
		grep -q "app=web method=POST path=/upload body=100000 sha256=$sum100" <<<"$out" ||
			die "IPv$fam: 100 KB POST to web not byte-exact"
		out=$(cli curl -$fam -s -m 3 "http://$host/api/items"); echo "$out"
		grep -q "app=api path=/api/items node=dir" <<<"$out" || die "IPv$fam: path rule"
		hdr=$(cli curl -$fam -s -m 10 -D - -o "$WORK/dl$fam.bin" "http://$host/api/bytes/3000000") ||
			die "IPv$fam: 3 MB download"
		sum=$(sha256sum "$WORK/dl$fam.bin" | cut -d' ' -f1)
		grep -qi "x-sha256: $sum" <<<"$hdr" || die "IPv$fam: 3 MB download not byte-exact"
		out=$(cli curl -$fam -s -m 10 --data-binary @"$up1m" "http://$host/api/upload"); echo "$out"
		grep -q "app=api node=dir body=1000000 sha256=$sum1m" <<<"$out" || die "IPv$fam: 1 MB upload not byte-exact"
		out=$(cli curl -$fam -s -m 5 --cacert "$WORK/cert6.pem" --resolve "api.example:443:$host" \
			--data-binary @"$post100" https://api.example/v1) || { cat "$WORK"/tapi.log; die "IPv$fam: curl https api.example"; }
		echo "$out"
		grep -q "app=tapi method=POST path=/v1 body=100000 sha256=$sum100 .*FLOW $pat.* service=tls rule=tapi app=tapi" <<<"$out" ||
			die "IPv$fam: SNI rule, or the 100 KB TLS POST not byte-exact"
		out=$(cli curl -$fam -s -m 5 --cacert "$WORK/cert6.pem" --resolve "shop.example:443:$host" \
			https://shop.example/) || die "IPv$fam: curl https shop.example"
		echo "$out"
		grep -q "app=tweb .*FLOW $pat.* service=tls rule=default app=tweb" <<<"$out" ||
			die "IPv$fam: default for another SNI"
	done
	capture_stop
	expect_eq "$(tshark_count "$pcap" "tcp.flags.reset==1 && (ip.src==$CB_VIP || ipv6.src==$CB_VIP6)")" 0 \
		"RSTs from the service addresses"
	expect_eq "$(tshark_count "$pcap" "tcp.analysis.retransmission && (ip.src==$CB_VIP || ipv6.src==$CB_VIP6)")" 0 \
		"retransmissions by the director"
	# the largest segment from each service address: the full MSS of an
	# accepted socket with timestamps (IPv6 1500 - 40 - 20 - 12)
	expect_eq "$(tshark -r "$pcap" -Y "ipv6.src==$CB_VIP6" -T fields -e tcp.len 2>/dev/null | sort -n | tail -1)" 1428 \
		"largest segment from VIP6"
	expect_eq "$(tshark -r "$pcap" -Y "ip.src==$CB_VIP" -T fields -e tcp.len 2>/dev/null | sort -n | tail -1)" 1448 \
		"largest segment from the VIP"
	[ "$(tshark_count "$pcap" "tcp.flags.syn==1 && tcp.flags.ack==0 && ipv6.dst==$CB_VIP6")" -eq 7 ] ||
		die "IPv6 connections: $(tshark_count "$pcap" "tcp.flags.syn==1 && tcp.flags.ack==0 && ipv6.dst==$CB_VIP6"), want 7"
	metrics_get "$CB_NS_DIR" > "$WORK/metrics6.txt" || die "metrics scrape"
	grep 'decisions_total\|materializations_total' "$WORK/metrics6.txt"
	expect_eq "$(awk '/^connbroker_decisions_total\{/ && /service="shop"/ && /rule="api"/ {s += $2} END {print s + 0}' "$WORK/metrics6.txt")" 6 \
		"decisions by rule api"
	expect_eq "$(awk '/^connbroker_decisions_total\{/ && /service="tls"/ && /rule="tapi"/ {s += $2} END {print s + 0}' "$WORK/metrics6.txt")" 2 \
		"decisions by rule tapi"
	expect_eq "$(awk '/^connbroker_materializations_total\{/ && /result="ok"/ {s += $2} END {print s + 0}' "$WORK/metrics6.txt")" 14 \
		"materializations"
	kill -TERM "$ctl"; wait "$ctl"; expect_eq "$?" 0 "controller exit status on SIGTERM"
	grep -q "stopping: 14 materialized, 0 failed, 0 timed out" "$WORK/ctl6.log" || { cat "$WORK/ctl6.log"; die "controller summary"; }
	dir "$CB" detach "$CB_IF_DIR"
}

# ---- the cluster -------------------------------------------------------------

# cluster_conf (run.sh) with service shop dual-stack: listen = VIP:80, [VIP6]:80.
cluster6_conf() {
	cluster_conf "$1"
	sed -i "s|^listen = $CB_VIP:80\$|listen = $CB_VIP:80, [$CB_VIP6]:80|" "$WORK/cluster.conf"
	grep -qxF "listen = $CB_VIP:80, [$CB_VIP6]:80" "$WORK/cluster.conf" || die "cluster6_conf: no listen line"
}

# cluster_start (run.sh) attaching both service addresses on every node.
cluster6_start() {
	local n name ns ifn mode
	for n in $CL_NODES; do
		IFS=: read -r name ns ifn <<<"$n"
		mode=tc; [ "$name" = dir ] && mode=native
		nsx "$ns" "$CB" attach "$ifn" --service "$CB_VIP:80" --service "[$CB_VIP6]:80" --mode "$mode" ||
			die "attach $name"
		at_exit "nsx $ns $CB detach $ifn >/dev/null 2>&1"
		: > "$WORK/ctl-$name.log"
		cluster_ctl "$name"
	done
	cluster_wait_up
}

# The dual-stack cluster; over IPv6 /one/ is served by b1, /two/ by b2 and
# the default by the director's own app, each answer tagged with its node;
# 10 MB downloads from b1 and b2 and a 2 MB upload to b2 byte-exact; one
# IPv4 request to b1 in the same run.  Direct server return: in the capture
# on the director's bridge port not one response payload byte from VIP6 (or
# the VIP) but for the director's own answer (port 20556); at the client the
# responses come from VIP6 with b1's and b2's MACs, the service's TSvals never
# go back across a hand-off, no RST, and VIP6 still resolves to the director.
# Then a live move of an IPv6 connection: the stream app on b1 and b2
# (stream_app.py) gives the connection back after 1 s for the same app on
# the other node; a numbered stream each way completes byte-exact with a FIN
# through at least one move, no RST.
test_ipv6_cluster_handoff_and_migration() {
	local pcap=$WORK/cl6-client.pcap dpcap=$WORK/cl6-dir.pcap mpcap=$WORK/cl6-mig.pcap out sum hdr p rc moves
	local mac_dir mac_b1 mac_b2 down=2000000 up=1000000
	mac_dir=$(v6_mac "$CB_NS_DIR" "$CB_IF_DIR") mac_b1=$(v6_mac "$CB_NS_B1" "$CB_IF_B1")
	mac_b2=$(v6_mac "$CB_NS_B2" "$CB_IF_B2")
	cluster6_conf ""
	cat >> "$WORK/cluster.conf" <<CONF
[rule stream]
service = shop
path_prefix = /stream
app = stream
[app stream]
CONF
	nsx "$CB_NS_DIR" "$CB" check-config "$WORK/cluster.conf" || die "check-config"
	cluster6_start
	cluster_app b1 one; cluster_app b2 two; cluster_app dir web
	sleep 0.8
	capture_start "$pcap" "tcp and (host $CB_VIP or host $CB_VIP6)"
	dir_capture_start "$dpcap"
	out=$(cli curl -6 -s -m 5 "http://[$CB_VIP6]/one/a"); echo "$out"
	grep -q "app=one path=/one/a node=b1" <<<"$out" || die "/one/ over IPv6 not served by b1"
	out=$(cli curl -6 -s -m 5 "http://[$CB_VIP6]/two/b"); echo "$out"
	grep -q "app=two path=/two/b node=b2" <<<"$out" || die "/two/ over IPv6 not served by b2"
	out=$(cli curl -6 -s -m 5 --local-port 20556 "http://[$CB_VIP6]/c"); echo "$out"
	grep -q "app=web path=/c node=dir" <<<"$out" || die "the default over IPv6 not served by the director"
	for p in one two; do
		hdr=$(cli curl -6 -s -m 20 -D - -o "$WORK/dl6-$p.bin" "http://[$CB_VIP6]/$p/bytes/10000000") ||
			die "IPv6 download $p"
		sum=$(sha256sum "$WORK/dl6-$p.bin" | cut -d' ' -f1)
		grep -qi "x-sha256: $sum" <<<"$hdr" || die "10 MB from $p over IPv6 not byte-exact"
	done
	head -c 2000000 /dev/urandom > "$WORK/up6.bin"
	sum=$(sha256sum "$WORK/up6.bin" | cut -d' ' -f1)
	out=$(cli curl -6 -s -m 20 --data-binary @"$WORK/up6.bin" "http://[$CB_VIP6]/two/upload"); echo "$out"
	grep -q "node=b2 body=2000000 sha256=$sum" <<<"$out" || die "2 MB upload to b2 over IPv6 not byte-exact"
	out=$(cli curl -4 -s -m 5 "http://$CB_VIP/one/v4"); echo "$out"
	grep -q "app=one path=/one/v4 node=b1" <<<"$out" || die "/one/ over IPv4 not served by b1 (dual stack)"
	dir_capture_stop
	capture_stop
	expect_eq "$(tshark_count "$dpcap" "(ipv6.src==$CB_VIP6 || ip.src==$CB_VIP) && tcp.len>0 && tcp.dstport!=20556")" 0 \
		"response payload bytes of handed-off flows leaving the director"
	[ "$(tshark_count "$dpcap" "ipv6.src==$CB_VIP6 && tcp.len>0 && tcp.dstport==20556")" -gt 0 ] ||
		die "the capture on the director's port saw nothing of its own answer (is it the right one?)"
	[ "$(tshark_count "$pcap" "ipv6.src==$CB_VIP6 && tcp.len>0")" -gt 1000 ] || die "no IPv6 responses at the client"
	for p in "b1 $mac_b1" "b2 $mac_b2"; do
		[ "$(tshark_count "$pcap" "ipv6.src==$CB_VIP6 && tcp.len>0 && eth.src==${p#* }")" -gt 1000 ] ||
			die "no responses from VIP6 with ${p% *}'s MAC at the client (not direct server return?)"
	done
	expect_eq "$(rst_count "$pcap")" 0 "RSTs (but a closed socket's answer to a late duplicate)"
	tsvals_continue "$pcap" "ipv6.src==$CB_VIP6" 5 || die "timestamps across the hand-off"
	cli ip -6 neigh show "$CB_VIP6" dev "$CB_IF_CLIENT" | grep -q "lladdr $mac_dir " ||
		die "VIP6 no longer resolves to the director: $(cli ip -6 neigh show "$CB_VIP6")"
	out=$(metrics_get "$CB_NS_DIR")
	grep 'handoffs_total' <<<"$out"
	[ "$(awk '/^connbroker_handoffs_total\{/ && /node="b1"/ && /result="committed"/ {s += $2} END {print s + 0}' <<<"$out")" -ge 3 ] ||
		die "hand-offs to b1"

	# a live move of an IPv6 connection between b1 and b2
	for p in b1:b2 b2:b1; do
		local ns=$CB_NS_B1; [ "${p%%:*}" = b2 ] && ns=$CB_NS_B2
		nsenter --net=/run/netns/"$ns" python3 "$HERE/stream_app.py" "$WORK/${p%%:*}.sock" stream \
			"${p%%:*}" "${p#*:}" $down $up 1.0 > "$WORK/app6-${p%%:*}-stream.log" 2>&1 &
		BG_PIDS+=($!)
	done
	sleep 0.8
	capture_start "$mpcap" "tcp and host $CB_VIP6"
	out=$(cli python3 "$HERE/stream_client.py" "$CB_VIP6" 80 /stream $down $up 30)
	rc=$?
	capture_stop
	echo "$out"
	cat "$WORK"/app6-b*-stream.log
	[ $rc -eq 0 ] || { grep -h 'live move\|MOVE\|error' "$WORK"/ctl-*.log | tail -20; die "IPv6 streams not complete and exact"; }
	moves=$(cat "$WORK"/app6-b*-stream.log | grep -c '^released at')
	echo "moves: $moves"
	[ "$moves" -ge 1 ] || die "the IPv6 connection never moved"
	grep -q '^done' "$WORK"/app6-b*-stream.log || die "no app finished the stream"
	expect_eq "$(tshark_count "$mpcap" "tcp.flags.syn==1 && tcp.flags.ack==0")" 1 "one connection"
	expect_eq "$(tshark_count "$mpcap" "tcp.flags.reset==1")" 0 "RSTs during the moves"
	[ "$(tshark_count "$mpcap" "ipv6.src==$CB_VIP6 && tcp.len>0 && eth.src==$mac_b1")" -gt 0 ] &&
	[ "$(tshark_count "$mpcap" "ipv6.src==$CB_VIP6 && tcp.len>0 && eth.src==$mac_b2")" -gt 0 ] ||
		die "the stream was not served by both b1 and b2"
	out=$(metrics_get "$CB_NS_DIR")
	grep 'relays_total' <<<"$out"
	[ "$(awk '/^connbroker_relays_total\{/ && /result="committed"/ {s += $2} END {print s + 0}' <<<"$out")" -ge 1 ] ||
		die "the director relayed no move"
	return 0
}

# test_cluster_migrate_cli (run.sh) over IPv6: a keep-alive IPv6 connection
# served by the C app on one backend is moved by the operator
# (connbroker migrate [2001:db8::1]:PORT web@OTHER) between two requests;
# the next request is answered there on the same connection, no RST.
test_ipv6_cluster_migrate_cli() {
	cluster6_conf ""
	cluster6_start
	cluster_http_app b1 web; cluster_http_app b2 web
	sleep 0.8
	migrate_between_requests "$CB_VIP6" "[$CB_IP6_CLIENT]" 6
}

ALL_TESTS+=(test_ipv6_topology test_ipv6_handshake_native test_ipv6_handshake_tc
	    test_ipv6_controller_routes test_ipv6_cluster_handoff_and_migration
	    test_ipv6_cluster_migrate_cli)
