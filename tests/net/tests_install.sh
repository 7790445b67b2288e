# shellcheck shell=bash
# Sourced by run.sh: `make install` into a staging root (issue 10, part 2):
# the binary, libconnbroker with its soname and links, the static library,
# the exec shim where `connbroker exec` looks for it, the header, the
# pkg-config file, the man page, the docs; a program built with
# `pkg-config --cflags --libs connbroker` against that root loads the
# library by its soname and runs.

test_make_install() {
	local root=$WORK/root prog=$WORK/app-prog f out so
	# the library's file name, as the Makefile versions it (major.minor.patch)
	so=$(awk '$1 == "SOFILE" { print $3 }' "$ROOT/Makefile" |
		sed "s/\$(SOMAJOR)/$(awk '$1 == "SOMAJOR" { print $3 }' "$ROOT/Makefile")/")
	[[ $so =~ ^libconnbroker\.so\.2\.[0-9]+\.[0-9]+$ ]] || die "library file name from the Makefile: '$so'"
	make -s -C "$ROOT" install DESTDIR="$root" PREFIX=/usr > "$WORK/install.log" 2>&1 ||
		{ cat "$WORK/install.log"; die "make install"; }
	for f in usr/sbin/connbroker usr/lib/$so usr/lib/libconnbroker.a \
		usr/lib/connbroker/libconnbroker-preload.so usr/include/connbroker.h \
		usr/lib/pkgconfig/connbroker.pc usr/share/man/man8/connbroker.8 \
		usr/share/man/man5/connbroker.conf.5 \
		usr/share/doc/connbroker/connbroker.conf usr/share/bash-completion/completions/connbroker \
		usr/lib/systemd/system/connbroker@.service; do
		[ -f "$root/$f" ] || die "not installed: /$f"
	done
	expect_eq "$(readlink "$root/usr/lib/libconnbroker.so.2")" "$so" "the soname link"
	expect_eq "$(readlink "$root/usr/lib/libconnbroker.so")" libconnbroker.so.2 "the link to build with"
	readelf -d "$root/usr/lib/$so" | grep -q 'SONAME.*\[libconnbroker.so.2\]' ||
		die "soname"
	grep -q '^prefix=/usr$' "$root/usr/lib/pkgconfig/connbroker.pc" || die "pkg-config prefix"
	# an app built against the staged root, the way a packager's user would
	cat > "$WORK/app.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <connbroker.h>
int main(void)
{
	static const char m[] = "FLOW client=[2001:db8::1]:40000 service=s rule=default app=web bytes=5";
	struct cb_conn_info ci;

	if (cb_app_parse_flow(m, strlen(m), &ci) || ci.client.ss_family != AF_INET6)
		return 1;
	puts("libconnbroker ok");
	return 0;
}
C
	# shellcheck disable=SC2046
	cc -o "$prog" "$WORK/app.c" $(PKG_CONFIG_PATH="$root/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root" \
		pkg-config --cflags --libs connbroker) || die "build against the installed library"
	readelf -d "$prog" | grep -q 'NEEDED.*\[libconnbroker.so.2\]' || die "the program needs libconnbroker.so.2"
	expect_eq "$(LD_LIBRARY_PATH="$root/usr/lib" "$prog")" "libconnbroker ok" "the program runs"
	# the completion, from the same table as --help: commands, options, modes
	out=$(bash -c 'source "$1"
		COMP_WORDS=(connbroker att); COMP_CWORD=1; _connbroker; echo "${COMPREPLY[*]}"
		COMP_WORDS=(connbroker attach eth0 --mo); COMP_CWORD=3; _connbroker; echo "${COMPREPLY[*]}"
		COMP_WORDS=(connbroker attach eth0 --mode ""); COMP_CWORD=4; _connbroker; echo "${COMPREPLY[*]}"' \
		_ "$root/usr/share/bash-completion/completions/connbroker" | tr '\n' '|')
	expect_eq "$out" "attach|--mode|native skb tc|" "bash completion"
	# the installed binary and its man page
	"$root/usr/sbin/connbroker" --version | grep -q '^connbroker ' || die "installed binary"
	MANWIDTH=80 man -l "$root/usr/share/man/man8/connbroker.8" 2>/dev/null | grep -q 'exec' ||
		groff -man -Tutf8 "$root/usr/share/man/man8/connbroker.8" 2>/dev/null | grep -q 'exec' ||
		die "the man page does not render"
	return 0
}

ALL_TESTS+=(test_make_install)

# The installed connbroker@.service: `systemd-analyze verify` and `security
# --offline` (exposure below 5, "OK"), then its Exec lines run as systemd
# would for instance $CB_IF_DIR (%i), in the director's namespace: check and
# attach from /etc/connbroker/%i.conf (here the staged root's), the
# controller serves a request; a service added to the file reaches the
# datapath through ExecReload (attach, then SIGHUP to $MAINPID).
test_systemd_unit() {
	local root=$WORK/sroot unit conf=$WORK/unit.conf line cmd main out score
	command -v systemd-analyze >/dev/null || { echo "no systemd-analyze"; return $SKIP; }
	make -s -C "$ROOT" install DESTDIR="$root" PREFIX=/usr > "$WORK/sinstall.log" 2>&1 || die "make install"
	unit=$root/usr/lib/systemd/system/connbroker@.service
	[ -f "$unit" ] || die "the unit is not installed"
	sed "s|/usr/sbin/connbroker|$root/usr/sbin/connbroker|g; s|/etc/connbroker/%i.conf|$conf|g" "$unit" \
		> "$WORK/connbroker@.service"
	systemd-analyze verify "$WORK/connbroker@.service" 2>&1 | grep -v 'file:' | grep -i . &&
		die "systemd-analyze verify"
	cp "$WORK/connbroker@.service" "$WORK/connbroker@$CB_IF_DIR.service"
	score=$(systemd-analyze security --offline=yes "$WORK/connbroker@$CB_IF_DIR.service" 2>/dev/null |
		awk '/Overall exposure level/ {print $(NF-2)}')
	echo "systemd-analyze security: $score"
	awk -v s="$score" 'BEGIN { exit !(s != "" && s + 0 < 5) }' || die "exposure $score (want < 5)"
	printf '[broker]\ninterface = %s\ndecide_ms = 200\n[service shop]\nlisten = %s:80\ndefault = web\n[app web]\n' \
		"$CB_IF_DIR" "$CB_VIP" > "$conf"
	# ExecStartPre lines, in order, %i the interface
	while read -r line; do
		cmd=${line#ExecStartPre=}
		dir ${cmd//%i/$CB_IF_DIR} >/dev/null || die "ExecStartPre: $cmd"
	done < <(grep '^ExecStartPre=' "$WORK/connbroker@.service")
	at_exit "dir $CB detach $CB_IF_DIR >/dev/null 2>&1"
	cmd=$(sed -n 's/^ExecStart=//p' "$WORK/connbroker@.service")
	# shellcheck disable=SC2086
	nsenter --net=/run/netns/"$CB_NS_DIR" ${cmd//%i/$CB_IF_DIR} --socket "$WORK/unit.sock" > "$WORK/unit.log" 2>&1 &
	main=$!; BG_PIDS+=("$main"); at_exit "kill $main 2>/dev/null"
	sleep 0.5
	nsenter --net=/run/netns/"$CB_NS_DIR" python3 "$ROOT/examples/app.py" "$WORK/unit.sock" web > "$WORK/uweb.log" 2>&1 &
	BG_PIDS+=($!); at_exit "kill $! 2>/dev/null"
	sleep 0.5
	cli curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$CB_VIP/" | grep -q 200 || { cat "$WORK/unit.log"; die "served"; }
	# a second service in the file: ExecReload attaches it and reloads
	printf '[service shop2]\nlisten = %s:8081\ndefault = web\n' "$CB_VIP" >> "$conf"
	while read -r line; do
		cmd=${line#ExecReload=}
		cmd=${cmd//%i/$CB_IF_DIR}
		dir ${cmd//\$MAINPID/$main} >/dev/null || die "ExecReload: $cmd"
	done < <(grep '^ExecReload=' "$WORK/connbroker@.service")
	sleep 0.5
	out=$(dir "$CB" -j status "$CB_IF_DIR" | jq -r '.[0].services | join(" ")')
	grep -q "$CB_VIP:8081" <<<"$out" || die "the new service not attached: $out"
	cli curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$CB_VIP:8081/" | grep -q 200 ||
		{ cat "$WORK/unit.log"; die "the reloaded service not served"; }
	return 0
}

ALL_TESTS+=(test_systemd_unit)

# The Debian packages (make deb: dpkg-buildpackage from a copy of the tree,
# lintian without an error or a warning), their contents, then installed on
# this machine as on a fresh one (apt resolves what they depend on from
# Debian) and used from there: the binary, its unit (systemd-analyze verify),
# `connbroker exec` finding its shim in the multiarch directory, a program
# built with pkg-config against the installed library; purged at the end,
# also when the test fails.
test_debian_package() {
	local d=$ROOT/build/deb v f out prog=$WORK/pkg-prog
	for f in dpkg-buildpackage lintian dh fakeroot; do
		command -v "$f" >/dev/null || { echo "$f not installed (Debian: debhelper, lintian, fakeroot)"; return $SKIP; }
	done
	dpkg-query -W -f='${Status}' connbroker 2>/dev/null | grep -q "install ok" &&
		die "a connbroker package is installed already: not a fresh machine"
	make -s -C "$ROOT" deb > "$WORK/deb.log" 2>&1 || { cat "$WORK/deb.log"; die "make deb"; }
	v=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)
	for f in connbroker libconnbroker2 libconnbroker-dev; do
		[ -f "$d/${f}_${v}_amd64.deb" ] || die "no $f package"
	done
	out=$(lintian -EvIL +pedantic "$d"/*.changes 2>&1 | grep -E '^[EW]: ')
	[ -z "$out" ] || die "lintian: $out"
	out=$(dpkg-deb -c "$d/connbroker_${v}_amd64.deb")
	for f in ./usr/sbin/connbroker ./usr/lib/systemd/system/connbroker@.service \
		 ./usr/share/man/man8/connbroker.8.gz ./usr/share/man/man5/connbroker.conf.5.gz \
		 ./usr/lib/x86_64-linux-gnu/connbroker/libconnbroker-preload.so; do
		grep -q " $f\b" <<<"$out" || die "connbroker package lacks $f"
	done
	dpkg-deb -c "$d/libconnbroker2_${v}_amd64.deb" | grep -q 'libconnbroker.so.2 -> libconnbroker.so.2' ||
		die "libconnbroker2 lacks the soname link"
	at_exit "apt-get purge -y connbroker libconnbroker2 libconnbroker-dev >/dev/null 2>&1"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		"$d/connbroker_${v}_amd64.deb" "$d/libconnbroker2_${v}_amd64.deb" \
		"$d/libconnbroker-dev_${v}_amd64.deb" > "$WORK/apt.log" 2>&1 ||
		{ tail -20 "$WORK/apt.log"; die "apt-get install"; }
	/usr/sbin/connbroker --version | grep -q "^connbroker $v" || die "the installed binary"
	systemd-analyze verify /usr/lib/systemd/system/connbroker@.service 2>&1 | grep -v 'file:' |
		grep -i . && die "systemd-analyze verify of the installed unit"
	systemctl is-enabled connbroker@.service >/dev/null 2>&1 && die "the template was enabled"
	printf '[broker]\ninterface = lo\nmetrics = off\n[service s]\nlisten = %s:80\ndefault = web\n[app web]\n' \
		"$CB_VIP" > "$WORK/pkg.conf"
	out=$(/usr/sbin/connbroker exec --app web --config "$WORK/pkg.conf" -- sh -c 'echo "$LD_PRELOAD"' 2>/dev/null)
	expect_eq "$out" /usr/lib/x86_64-linux-gnu/connbroker/libconnbroker-preload.so "the shim exec finds"
	cat > "$prog.c" <<'C'
#include <connbroker.h>
#include <errno.h>
#include <stdio.h>
int main(void)
{
	struct cb_app *a = cb_app_register("/nonexistent/cb.sock", "web");
	printf("%s %d\n", a ? "registered" : "refused", errno);
	return 0;
}
C
	# shellcheck disable=SC2046
	cc "$prog.c" -o "$prog" $(pkg-config --cflags --libs connbroker) || die "build against the package"
	# (merged /usr: the loader may name it /lib/...)
	expect_eq "$(readlink -f "$(ldd "$prog" | awk '/libconnbroker/ {print $3}')")" \
		"$(readlink -f /usr/lib/x86_64-linux-gnu/libconnbroker.so.2)" "the library the program loads"
	expect_eq "$("$prog")" "refused 2" "the program runs (no controller: ENOENT)"
}

ALL_TESTS+=(test_debian_package)
