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

# The decision log and reset reasons: with decision_log = all a flow served
# by its app, one reset for want of an app and one answered 503 each give a
# line (client, service, rule, app, outcome, reason, latency), at notice
# priority for the reset and the 503 and info for the served one when
# stderr is the journal ($JOURNAL_STREAM names it: the lines start with
# <5> and <6>), and connbroker_resets_total{reason="no_app_in_time"} and
# connbroker_answered_503_total count them.
test_decision_log_and_reset_reasons() {
	local conf=$WORK/d.conf sock=$WORK/d.sock log=$WORK/d.log out web ctl ino
	cat > "$conf" <<CONF
[broker]
interface = $CB_IF_DIR
metrics = 127.0.0.1:9464
decide_ms = 200
decision_log = all
[service shop]
listen = $CB_VIP:80
default = web
[service lonely]
listen = $CB_VIP:81
default = ghost
wait_ms = 300
on_timeout = rst
[service busy]
listen = $CB_VIP:82
default = ghost
wait_ms = 300
on_timeout = http503
[app web]
[app ghost]
CONF
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --service "$CB_VIP:81" --service "$CB_VIP:82" ||
		die attach
	at_exit "dir $CB detach $CB_IF_DIR >/dev/null 2>&1"
	: > "$log"
	ino=$(stat -c '%d:%i' "$log")
	nsenter --net=/run/netns/"$CB_NS_DIR" env JOURNAL_STREAM="$ino" "$CB" run --config "$conf" \
		--socket "$sock" 2>> "$log" >/dev/null &
	ctl=$!; BG_PIDS+=("$ctl"); at_exit "kill $ctl 2>/dev/null"
	sleep 0.5
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$sock" web > "$WORK/dweb.log" 2>&1 &
	web=$!; BG_PIDS+=("$web"); at_exit "kill $web 2>/dev/null"
	sleep 0.5
	out=$(cli curl -s -m 3 "http://$CB_VIP/served") || die "the served request"
	cli curl -s -m 3 -o /dev/null "http://$CB_VIP:81/lonely"; expect_eq "$?" 56 "curl reset for want of an app"
	expect_eq "$(cli curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$CB_VIP:82/busy")" 503 "503 for want of an app"
	sleep 0.3
	cat "$log" | grep decision
	grep -qE '^<6>connbroker: decision client=198\.18\.0\.1:[0-9]+ service=shop rule=default app=web outcome=app latency_ms=[0-9]+$' "$log" ||
		die "no info line for the served flow"
	grep -qE '^<5>connbroker: decision client=198\.18\.0\.1:[0-9]+ service=lonely rule=default app=ghost outcome=rst reason=no_app_in_time latency_ms=[0-9]+$' "$log" ||
		die "no notice line for the reset"
	grep -qE '^<5>connbroker: decision client=198\.18\.0\.1:[0-9]+ service=busy rule=default app=ghost outcome=503 latency_ms=[0-9]+$' "$log" ||
		die "no notice line for the 503"
	out=$(metrics_get "$CB_NS_DIR")
	grep -q '^connbroker_resets_total{reason="no_app_in_time"} 1$' <<<"$out" || die "reset reason: $(grep resets_total <<<"$out")"
	grep -q '^connbroker_resets_total{reason="queue_full"} 0$' <<<"$out" || die "every reason exported"
	grep -q '^connbroker_answered_503_total 1$' <<<"$out" || die "503 count"
	return 0
}

ALL_TESTS+=(test_decision_log_and_reset_reasons)
