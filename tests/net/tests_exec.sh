# shellcheck shell=bash
# Sourced by tests/net/run.sh (after it defined its helpers and ALL_TESTS).
#
# Issue #10, part 1: unmodified servers behind connbroker.  `connbroker exec
# --app web -- SERVER` preloads build/libconnbroker-preload.so (lib/preload.c):
# the server's own listen() on the service's port registers app web with the
# controller, and its accept()/accept4() receive the sockets connbroker
# materializes.  Real servers from Debian: python3 -m http.server (poll,
# blocking accept4, dual-stack [::]), nginx (two workers forked from the
# master, epoll, non-blocking accept4, 0.0.0.0 and [::] ipv6only listeners),
# node (libuv, epoll).  Each serves curl byte-exact (GET of a file; a request
# body where the server takes one: nginx PUT, node POST), logs the real client
# (198.18.0.1, 2001:db8::1), serves many connections in a row without a
# failure, and nothing listens on the captured port in the director; a port
# not captured is the server's own (nginx :8081); a listen() without a
# reachable controller fails (python); a controller restart is survived
# (nginx: the shim registers again and moves the workers' epoll entries), and
# so is nginx's own reload (SIGHUP: new workers inherit the captured fds).

EXEC_PY=/usr/bin/python3

# Wait up to $3 seconds (default 5) for a line matching $2 in file $1.
exec_wait_line() {
	local i
	for i in $(seq 1 $(( ${3:-5} * 10 ))); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# A controller for service s (VIP:80 and [VIP6]:80, default app web) on
# socket $1, config $2, log $3; attaches both services.  Sets CTL.
exec_controller() {
	printf '[broker]\ninterface = %s\nmetrics = off\n[service s]\nlisten = %s:80, [%s]:80\ndefault = web\nqueue = 1024\nwait_ms = 5000\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" "$CB_VIP6" > "$2"
	dir "$CB" attach "$CB_IF_DIR" --service "$CB_VIP:80" --service "[$CB_VIP6]:80" >/dev/null ||
		die attach
	ctl_start "$2" "$1" "$3"
}

# Run `connbroker exec` in the director in the background: log $1, then the
# exec arguments.  Sets EXEC_PID (the server itself: exec keeps the pid).
exec_start() {
	local log=$1; shift
	nsenter --net=/run/netns/"$CB_NS_DIR" "$CB" exec "$@" > "$log" 2>&1 &
	EXEC_PID=$!
	BG_PIDS+=("$EXEC_PID")
}

# n requests, each on its own connection (one curl, Connection: close), of
# URL $2; prints how many answered 200 with $3 bytes.
exec_many() {
	local n=$1 url=$2 size=$3 args=() i
	for i in $(seq 1 "$n"); do args+=(-o /dev/null "$url"); done
	cli curl -s -m 20 -H "Connection: close" -w '%{http_code} %{size_download}\n' "${args[@]}" |
		grep -c "^200 $size\$"
}

exec_files() {   # $1: a directory with f.bin (200 KB of random bytes) and index.html
	mkdir -p "$1"
	head -c 200000 /dev/urandom > "$1/f.bin"
	echo "hello from an unmodified server" > "$1/index.html"
	chmod -R a+rX "$1"
}

# python3 -m http.server: dual-stack [::]:80, poll + blocking accept4.
test_exec_python() {
	local w=$WORK/ex-py sock=$WORK/ex-py.sock out sum n rc
	mkdir -p "$w"
	exec_files "$w/www"
	sum=$(sha256sum "$w/www/f.bin" | cut -d' ' -f1)
	exec_controller "$sock" "$w/ctl.conf" "$w/ctl.log"
	# no controller behind the socket: listen() fails, loudly
	out=$(dir timeout 10 "$CB" exec --app web --port 80 --socket "$w/nobody.sock" -- \
		"$EXEC_PY" -m http.server 80 --directory "$w/www" 2>&1); rc=$?
	echo "without a controller (rc $rc): ${out: -300}"
	[ $rc -ne 0 ] && [ $rc -ne 124 ] || die "the server ran without a controller (rc $rc)"
	grep -q "cannot register app 'web'" <<<"$out" || die "no message from the shim"
	grep -q "Connection refused" <<<"$out" || die "listen() did not fail with ECONNREFUSED"
	# ports from the config (the services routing to web)
	exec_start "$w/py.log" --app web --config "$w/ctl.conf" --socket "$sock" -- \
		"$EXEC_PY" -u -m http.server 80 --bind :: --directory "$w/www"
	exec_wait_line "$w/py.log" "port 80 (fd" || { cat "$w/py.log"; die "python did not register"; }
	sleep 0.3
	# http.server prints getsockname() of its listener: the shim's answer
	exec_wait_line "$w/py.log" "Serving HTTP on :: port 80" || { cat "$w/py.log"; die "getsockname"; }
	dir ss -Hltn | grep -q ":80 " && die "something listens on :80 in the director"
	cli curl -s -m 5 -o "$w/got.bin" "http://$CB_VIP/f.bin" || die "curl GET"
	expect_eq "$(sha256sum "$w/got.bin" | cut -d' ' -f1)" "$sum" "GET f.bin byte-exact"
	cli curl -6 -s -m 5 -o "$w/got6.bin" "http://[$CB_VIP6]/f.bin" || die "curl -6 GET"
	expect_eq "$(sha256sum "$w/got6.bin" | cut -d' ' -f1)" "$sum" "GET f.bin over IPv6 byte-exact"
	n=$(exec_many 200 "http://$CB_VIP/index.html" 32); echo "200 connections: $n answered"
	expect_eq "$n" 200 "connections answered"
	grep -q '^::ffff:198\.18\.0\.1 .*"GET /f.bin HTTP/1.1" 200' "$w/py.log" ||
		{ tail -5 "$w/py.log"; die "the access log does not show the IPv4 client"; }
	grep -q '^2001:db8::1 .*"GET /f.bin HTTP/1.1" 200' "$w/py.log" ||
		die "the access log does not show the IPv6 client"
	kill "$EXEC_PID"; wait "$EXEC_PID" 2>/dev/null
	kill -TERM "$CTL"; wait "$CTL"
	grep -q " 0 failed" "$w/ctl.log" || { cat "$w/ctl.log"; die "materialization failures"; }
	dir "$CB" detach "$CB_IF_DIR"
}

# nginx, the master and 2 workers: epoll, non-blocking accept4, two captured
# listeners (0.0.0.0:80, [::]:80), one not captured (:8081); PUT byte-exact;
# wrk; a controller restart.
test_exec_nginx() {
	local w=$WORK/ex-ngx sock=$WORK/ex-ngx.sock sum out n pids master
	command -v nginx >/dev/null || { echo "nginx not installed (scripts/install-deps.sh)"; return $SKIP; }
	mkdir -p "$w/tmp"
	exec_files "$w/www"
	sum=$(sha256sum "$w/www/f.bin" | cut -d' ' -f1)
	head -c 100000 /dev/urandom > "$w/put.bin"
	cat > "$w/nginx.conf" <<NGX
user root;
worker_processes 2;
daemon off;
pid $w/nginx.pid;
error_log $w/error.log info;
events { worker_connections 1024; }
http {
    log_format cb '\$remote_addr \$pid "\$request" \$status \$body_bytes_sent';
    access_log $w/access.log cb;
    client_body_temp_path $w/tmp/body;
    proxy_temp_path $w/tmp/proxy;
    fastcgi_temp_path $w/tmp/fcgi;
    uwsgi_temp_path $w/tmp/uwsgi;
    scgi_temp_path $w/tmp/scgi;
    server {
        listen 80;
        listen [::]:80;
        root $w/www;
        dav_methods PUT;
        client_max_body_size 10m;
    }
    server {
        listen 8081;
        root $w/www;
    }
}
NGX
	exec_controller "$sock" "$w/ctl.conf" "$w/ctl.log"
	exec_start "$w/nginx.log" --app web --port 80 --socket "$sock" -- \
		nginx -p "$w" -e "$w/error.log" -c "$w/nginx.conf"
	exec_wait_line "$w/nginx.log" "port 80 (fd" || { cat "$w/nginx.log" "$w/error.log"; die "nginx did not register"; }
	sleep 0.5
	cat "$w/nginx.log"
	expect_eq "$(grep -c 'port 80 (fd' "$w/nginx.log")" 2 "registrations (0.0.0.0:80 and [::]:80)"
	dir ss -Hltn | grep -q ":80 " && die "something listens on :80 in the director"
	dir ss -Hltn | grep -q ":8081 " || die "nginx does not listen on :8081 (not captured)"
	cli curl -s -m 5 -o "$w/got.bin" "http://$CB_VIP/f.bin" || die "curl GET"
	expect_eq "$(sha256sum "$w/got.bin" | cut -d' ' -f1)" "$sum" "GET f.bin byte-exact"
	cli curl -6 -s -m 5 -o "$w/got6.bin" "http://[$CB_VIP6]/f.bin" || die "curl -6 GET"
	expect_eq "$(sha256sum "$w/got6.bin" | cut -d' ' -f1)" "$sum" "GET over IPv6 byte-exact"
	out=$(cli curl -s -m 5 -o /dev/null -w '%{http_code}' -T "$w/put.bin" "http://$CB_VIP/up.bin")
	[ "$out" = 201 ] || [ "$out" = 204 ] || die "PUT: $out"
	cmp "$w/put.bin" "$w/www/up.bin" || die "PUT body not byte-exact"
	out=$(cli curl -s -m 5 "http://$CB_IP_DIR:8081/index.html") || die "the port not captured"
	expect_eq "$out" "hello from an unmodified server" "the port not captured"
	n=$(exec_many 200 "http://$CB_VIP/index.html" 32); echo "200 connections: $n answered"
	expect_eq "$n" 200 "connections answered"
	out=$(cli wrk -t2 -c20 -d2 -H "Connection: close" "http://$CB_VIP/index.html" 2>&1); echo "$out"
	grep -q "Socket errors\|Non-2xx" <<<"$out" && die "wrk errors (Connection: close)"
	[ "$(awk '/requests in/ {print $1}' <<<"$out")" -gt 200 ] || die "too few requests"
	out=$(cli wrk -t2 -c20 -d2 "http://$CB_VIP/index.html" 2>&1); echo "$out"
	grep -q "Socket errors\|Non-2xx" <<<"$out" && die "wrk errors (keep-alive)"
	grep -q '^198\.18\.0\.1 .*"GET /f.bin HTTP/1.1" 200 200000' "$w/access.log" ||
		{ tail -5 "$w/access.log"; die "the access log does not show the IPv4 client"; }
	grep -q '^2001:db8::1 .*"GET /f.bin HTTP/1.1" 200 200000' "$w/access.log" ||
		die "the access log does not show the IPv6 client"
	pids=$(grep '"GET /index.html' "$w/access.log" | awk '{print $2}' | sort -u | wc -l)
	echo "workers that served: $pids"
	[ "$pids" -ge 2 ] || die "one worker served everything"
	# the controller restarts: the workers register again (epoll moved)
	kill -TERM "$CTL"; wait "$CTL"
	grep -q " 0 failed" "$w/ctl.log" || { cat "$w/ctl.log"; die "materialization failures"; }
	sleep 0.5
	ctl_start "$w/ctl.conf" "$sock" "$w/ctl2.log"
	# the workers' stderr is nginx's error log
	exec_wait_line "$w/error.log" "registered again" 5 || { cat "$w/error.log"; die "no registration after the restart"; }
	sleep 0.5
	grep preload "$w/error.log"
	n=$(exec_many 50 "http://$CB_VIP/index.html" 32); echo "after the restart, 50 connections: $n answered"
	expect_eq "$n" 50 "connections answered after a controller restart"
	# nginx reloads (SIGHUP): new workers inherit the captured fds
	master=$EXEC_PID
	kill -HUP "$master"
	sleep 1.5
	n=$(exec_many 50 "http://$CB_VIP/index.html" 32); echo "after nginx's reload, 50 connections: $n answered"
	expect_eq "$n" 50 "connections answered after nginx reloaded"
	grep -q "reconfiguring" "$w/error.log" || die "nginx did not reload"
	grep preload "$w/error.log" | tail -4
	kill -QUIT "$master"; wait "$master" 2>/dev/null
	kill -TERM "$CTL"; wait "$CTL"
	dir "$CB" detach "$CB_IF_DIR"
}

# node (libuv: epoll, accept4 without an address, getpeername after).
test_exec_node() {
	local w=$WORK/ex-node sock=$WORK/ex-node.sock sum out n
	command -v node >/dev/null || { echo "nodejs not installed (scripts/install-deps.sh)"; return $SKIP; }
	mkdir -p "$w"
	exec_files "$w/www"
	sum=$(sha256sum "$w/www/f.bin" | cut -d' ' -f1)
	head -c 100000 /dev/urandom > "$w/post.bin"
	cat > "$w/server.js" <<'JS'
const http = require('http'), crypto = require('crypto'), fs = require('fs');
const root = process.argv[2];
const srv = http.createServer((req, res) => {
  const client = req.socket.remoteAddress;
  console.log(`${client} ${req.method} ${req.url}`);
  if (req.method === 'POST') {
    const h = crypto.createHash('sha256'); let n = 0;
    req.on('data', d => { h.update(d); n += d.length; });
    req.on('end', () => res.end(`client=${client} body=${n} sha256=${h.digest('hex')}\n`));
  } else {
    fs.readFile(root + req.url, (err, data) => {
      if (err) { res.statusCode = 404; res.end(); } else res.end(data);
    });
  }
});
srv.listen(80, () => console.log(`listening on ${JSON.stringify(srv.address())}`));
JS
	exec_controller "$sock" "$w/ctl.conf" "$w/ctl.log"
	exec_start "$w/node.log" --app web --port 80 --socket "$sock" -- node "$w/server.js" "$w/www"
	exec_wait_line "$w/node.log" "listening on" 10 || { cat "$w/node.log"; die "node did not start"; }
	cat "$w/node.log"
	grep -q '"port":80' "$w/node.log" || die "server.address() (getsockname) has no port 80"
	dir ss -Hltn | grep -q ":80 " && die "something listens on :80 in the director"
	cli curl -s -m 5 -o "$w/got.bin" "http://$CB_VIP/f.bin" || die "curl GET"
	expect_eq "$(sha256sum "$w/got.bin" | cut -d' ' -f1)" "$sum" "GET f.bin byte-exact"
	out=$(cli curl -s -m 5 --data-binary @"$w/post.bin" "http://$CB_VIP/upload"); echo "$out"
	grep -q "client=198.18.0.1 body=100000 sha256=$(sha256sum "$w/post.bin" | cut -d' ' -f1)" <<<"$out" ||
		die "POST not byte-exact or the client address wrong"
	out=$(cli curl -6 -s -m 5 --data-binary @"$w/post.bin" "http://[$CB_VIP6]/upload"); echo "$out"
	grep -q "client=2001:db8::1 body=100000" <<<"$out" || die "POST over IPv6"
	n=$(exec_many 200 "http://$CB_VIP/index.html" 32); echo "200 connections: $n answered"
	expect_eq "$n" 200 "connections answered"
	out=$(cli wrk -t2 -c20 -d2 -H "Connection: close" "http://$CB_VIP/index.html" 2>&1); echo "$out"
	grep -q "Socket errors\|Non-2xx" <<<"$out" && die "wrk errors"
	kill "$EXEC_PID"; wait "$EXEC_PID" 2>/dev/null
	kill -TERM "$CTL"; wait "$CTL"
	grep -q " 0 failed" "$w/ctl.log" || { cat "$w/ctl.log"; die "materialization failures"; }
	dir "$CB" detach "$CB_IF_DIR"
}

ALL_TESTS+=(test_exec_python test_exec_nginx test_exec_node)
