#!/usr/bin/env bash
# End-to-end demo: a client connects to a service address on which nothing
# listens; connbroker's XDP program completes the handshake and the request
# bytes reach userspace; then the controller routes requests by path to two
# apps that never listen.  Builds on tests/net/topology.sh; cleans up on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CB="$ROOT/build/connbroker"
# shellcheck source=../tests/net/topology.sh
source "$ROOT/tests/net/topology.sh"
MODE=${MODE:-native}
EV=$(mktemp /tmp/cb-demo-events.XXXXXX)

cleanup() {
	[ -n "${EV_PID:-}" ] && kill "$EV_PID" 2>/dev/null || true
	[ -n "${CTL_PID:-}" ] && kill "$CTL_PID" 2>/dev/null || true
	[ -n "${APP1:-}" ] && kill "$APP1" "$APP2" 2>/dev/null || true
	[ -n "${HOLD_PID:-}" ] && kill "$HOLD_PID" 2>/dev/null || true
	nsx "$CB_NS_DIR" "$CB" detach "$CB_IF_DIR" >/dev/null 2>&1 || true
	topo_down
	rm -f "$EV" "$EV.conf" "$EV.sock"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "1. Namespaces: client $CB_IP_CLIENT, director $CB_IP_DIR holding VIP $CB_VIP (bridge in $CB_NS_NET)"
topo_up
echo "created: $CB_ALL_NS"

step "2. Nothing listens on the director"
show nsx "$CB_NS_DIR" ss -ltn

step "3. Attach connbroker to the director's NIC ($MODE mode), service $CB_VIP:80
   (--no-controller hold: no controller runs until step 9, so connections are held;
   by default they would be refused after 2 s without one: fail closed)"
show nsx "$CB_NS_DIR" "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --mode "$MODE" --no-controller hold
show nsx "$CB_NS_DIR" "$CB" status

step "4. The client connects and sends an HTTP request"
nsenter --net=/run/netns/"$CB_NS_DIR" "$CB" events "$CB_IF_DIR" > "$EV" &
EV_PID=$!
sleep 0.3
nsenter --net=/run/netns/"$CB_NS_CLIENT" python3 -c "
import socket, time
s = socket.create_connection(('$CB_VIP', 80), timeout=3)
print('client: connected from %s:%d' % s.getsockname())
s.sendall(b'GET /index.html HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: demo\r\n\r\n')
print('client: request sent; holding the connection open')
time.sleep(3)
" &
HOLD_PID=$!
sleep 1

step "5. The client's kernel sees an ESTABLISHED connection, all bytes acknowledged"
show nsx "$CB_NS_CLIENT" ss -tni dst "$CB_VIP"

step "6. The request bytes reached userspace through the ring buffer"
kill "$EV_PID"; wait "$EV_PID" 2>/dev/null || true; EV_PID=
cat "$EV"

step "7. The flow table holds everything needed to build a socket later"
show nsx "$CB_NS_DIR" "$CB" flows "$CB_IF_DIR"
show bpftool map dump pinned "$(topo_pins "$CB_NS_DIR" "$CB_IF_DIR")/cb_flows"

step "8. Counters"
show nsx "$CB_NS_DIR" "$CB" status "$CB_IF_DIR"
wait "$HOLD_PID" || true; HOLD_PID=

step "9. The controller routes by content: /api/ to app 'api', the rest to app 'web'"
cat > "$EV.conf" <<CONF
[broker]
interface = $CB_IF_DIR
[service shop]
listen = $CB_VIP:80
default = web
[rule api]
service = shop
path_prefix = /api/
app = api
[app web]
[app api]
CONF
show "$CB" check-config "$EV.conf"
nsenter --net=/run/netns/"$CB_NS_DIR" "$CB" run --config "$EV.conf" --socket "$EV.sock" &
CTL_PID=$!
sleep 0.5
nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$EV.sock" web &
APP1=$!
nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$EV.sock" api &
APP2=$!
sleep 0.5
echo "(neither app listens: ss -ltn in the director shows no :80)"
show nsx "$CB_NS_CLIENT" curl -s "http://$CB_VIP/api/orders?id=7"
show nsx "$CB_NS_CLIENT" curl -s "http://$CB_VIP/index.html"
echo '$ curl -s http://127.0.0.1:9464/metrics | grep -E "decisions|handoff_seconds_(count|sum)|materializations"'
nsx "$CB_NS_DIR" curl -s http://127.0.0.1:9464/metrics | grep -E 'decisions|handoff_seconds_(count|sum)|materializations'
kill "$APP1" "$APP2" 2>/dev/null || true
kill -TERM "$CTL_PID"; wait "$CTL_PID" || true; CTL_PID=

step "10. Detach and tear down"
show nsx "$CB_NS_DIR" "$CB" detach "$CB_IF_DIR"
echo "demo complete"
