# shellcheck shell=bash
# Sourced by run.sh: the metrics endpoint as Prometheus reads it (issue 10,
# part 4): valid exposition text by promtool's own check, every sample
# labelled with its interface, connbroker_build_info, label values escaped
# (a service and an app with a quote and a backslash in their names), and a
# second controller in the same namespace refused with a message saying
# what to do, not a library's unprefixed line.

test_metrics_prometheus_valid() {
	local conf=$WORK/m.conf sock=$WORK/m.sock out bad2
	command -v promtool >/dev/null || { echo "promtool not installed (Debian: prometheus)"; return $SKIP; }
	cat > "$conf" <<CONF
[broker]
interface = $CB_IF_DIR
metrics = 127.0.0.1:9464
[service sh"op]
listen = $CB_VIP:80
default = w\\eb
[rule a"pi]
service = sh"op
path_prefix = /api/
app = w\\eb
[app w\\eb]
CONF
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" || die attach
	at_exit "dir $CB detach $CB_IF_DIR >/dev/null 2>&1"
	ctl_start "$conf" "$sock" "$WORK/m.log"
	at_exit "kill $CTL 2>/dev/null"
	out=$(dir curl -s -m 3 http://127.0.0.1:9464/metrics) || { cat "$WORK/m.log"; die "scrape"; }
	# promtool reads the text as Prometheus does; lint findings are not errors
	dir promtool check metrics <<<"$out" > "$WORK/promtool.txt" 2>&1
	grep -qi 'error' "$WORK/promtool.txt" && { cat "$WORK/promtool.txt"; die "promtool: invalid exposition"; }
	grep -q 'connbroker_decisions_total{interface="'"$CB_IF_DIR"'",service="sh\\"op",rule="a\\"pi"} 0' <<<"$out" ||
		die "escaped labels: $(grep decisions_total <<<"$out" | head -3)"
	grep -q 'connbroker_app_instances{interface="'"$CB_IF_DIR"'",app="w\\\\eb"} 0' <<<"$out" ||
		die "escaped app label: $(grep app_instances <<<"$out")"
	expect_eq "$(grep -v '^#' <<<"$out" | grep -vc "{interface=\"$CB_IF_DIR\"")" 0 "samples without the interface label"
	grep -qE '^connbroker_build_info\{interface="[^"]+",version="[0-9.]+",libbpf="[0-9]+\.[0-9]+[0-9.]*",libxdp="[0-9]+\.[0-9.]+"\} 1$' <<<"$out" ||
		die "build_info: $(grep build_info <<<"$out")"
	# a second controller (another interface) wanting the same port
	dir ip link add cbm0 type veth peer name cbm1 || die "veth"
	at_exit "dir ip link del cbm0 2>/dev/null; dir $CB detach cbm0 >/dev/null 2>&1"
	dir ip link set cbm0 up; dir ip link set cbm1 up
	dir "$CB" attach cbm0 --service 198.18.0.101:80 --mode skb || die "attach cbm0"
	sed "s/^interface = .*/interface = cbm0/; s/^listen = .*/listen = 198.18.0.101:80/" "$conf" > "$WORK/m2.conf"
	bad2=$(dir timeout 5 "$CB" run --config "$WORK/m2.conf" --socket "$WORK/m2.sock" 2>&1); echo "$bad2" | tail -2
	grep -q "metrics: cannot listen on 127.0.0.1:9464: in use (another controller" <<<"$bad2" ||
		die "the second controller's message: $bad2"
	grep -qi "Failed to bind" <<<"$bad2" && die "libmicrohttpd's own line leaked: $bad2"
	return 0
}

ALL_TESTS+=(test_metrics_prometheus_valid)

# The alert rules and the dashboard in contrib/ (promtool check rules and its
# rule unit tests; the dashboard regenerated from its script matches the
# JSON in git) name only metrics a live cluster director exports, with the
# label values they match (tests/net/metrics_names.py).
test_metrics_contrib() {
	local c=$ROOT/contrib
	command -v promtool >/dev/null || { echo "promtool not installed (Debian: prometheus)"; return $SKIP; }
	promtool check rules "$c/prometheus/connbroker-alerts.yml" || die "promtool check rules"
	(cd "$c/prometheus" && promtool test rules connbroker-alerts.test.yml) || die "promtool test rules"
	cp "$c/grafana/connbroker.json" "$WORK/dash.json"
	python3 "$c/grafana/gen_dashboard.py" || die "gen_dashboard.py"
	cmp -s "$c/grafana/connbroker.json" "$WORK/dash.json" ||
		{ cp "$WORK/dash.json" "$c/grafana/connbroker.json"; die "connbroker.json is not what gen_dashboard.py writes"; }
	jq -e '.panels | length > 0' "$c/grafana/connbroker.json" >/dev/null || die "dashboard JSON"
	cluster_conf ""
	cluster_start
	cluster_app b1 one; cluster_app dir web
	sleep 0.8
	cli curl -s -m 5 -o /dev/null "http://$CB_VIP/one/x" || die "a request through the cluster"
	dir curl -s -m 3 http://127.0.0.1:9464/metrics > "$WORK/scrape.txt" || die "scrape"
	python3 "$HERE/metrics_names.py" "$WORK/scrape.txt" "$c/prometheus/connbroker-alerts.yml" \
		"$c/grafana/connbroker.json" || die "contrib/ names metrics the controller does not export"
	return 0
}

ALL_TESTS+=(test_metrics_contrib)
