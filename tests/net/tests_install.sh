# shellcheck shell=bash
# Sourced by run.sh: `make install` into a staging root (issue 10, part 2):
# the binary, libconnbroker with its soname and links, the static library,
# the exec shim where `connbroker exec` looks for it, the header, the
# pkg-config file, the man page, the docs; a program built with
# `pkg-config --cflags --libs connbroker` against that root loads the
# library by its soname and runs.

test_make_install() {
	local root=$WORK/root prog=$WORK/app-prog f
	make -s -C "$ROOT" install DESTDIR="$root" PREFIX=/usr > "$WORK/install.log" 2>&1 ||
		{ cat "$WORK/install.log"; die "make install"; }
	for f in usr/sbin/connbroker usr/lib/libconnbroker.so.2.0.0 usr/lib/libconnbroker.a \
		usr/lib/connbroker/libconnbroker-preload.so usr/include/connbroker.h \
		usr/lib/pkgconfig/connbroker.pc usr/share/man/man8/connbroker.8 \
		usr/share/doc/connbroker/connbroker.conf; do
		[ -f "$root/$f" ] || die "not installed: /$f"
	done
	expect_eq "$(readlink "$root/usr/lib/libconnbroker.so.2")" libconnbroker.so.2.0.0 "the soname link"
	expect_eq "$(readlink "$root/usr/lib/libconnbroker.so")" libconnbroker.so.2 "the link to build with"
	readelf -d "$root/usr/lib/libconnbroker.so.2.0.0" | grep -q 'SONAME.*\[libconnbroker.so.2\]' ||
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
	# the installed binary and its man page
	"$root/usr/sbin/connbroker" --version | grep -q '^connbroker ' || die "installed binary"
	MANWIDTH=80 man -l "$root/usr/share/man/man8/connbroker.8" 2>/dev/null | grep -q 'exec' ||
		groff -man -Tutf8 "$root/usr/share/man/man8/connbroker.8" 2>/dev/null | grep -q 'exec' ||
		die "the man page does not render"
	return 0
}

ALL_TESTS+=(test_make_install)
