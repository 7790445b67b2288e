#!/usr/bin/env bash
# The namespace topology every integration test and the demo use.
#
#   cb-client (cbcli0 198.18.0.1   2001:db8::1)  ──┐
#   cb-dir    (cbdir0 198.18.0.2   2001:db8::2,
#                     VIP 198.18.0.100, VIP6 2001:db8::100) ──┤ br0 in cb-net
#   cb-b1     (cbb1   198.18.0.3   2001:db8::3)  ──┤
#   cb-b2     (cbb2   198.18.0.4   2001:db8::4)  ──┘
#
# Usage: topology.sh up|down.  Source it to get the names.  All addresses are
# from 198.18.0.0/15 and 2001:db8::/32; nothing is created in the root
# namespace.
#
# IPv6: every host has its address (/64) and VIP6 (/128) with nodad and
# accept_dad=0 (usable at once, never tentative), no router solicitations,
# autoconfiguration or RA.  The director owns VIP6 in neighbour discovery;
# the backends hold it on lo, where it is silent: the kernel answers an NS
# only for an address on the interface it came in on, and picks the source of
# its own NS only among that interface's addresses (ndisc_recv_ns,
# ndisc_solicit), so no sysctl is needed (the IPv4 arp_ignore/arp_announce
# analogue); tests/net/tests_ipv6.sh, test_ipv6_topology, checks it.  The
# bridge does no multicast snooping, so an NS for VIP6 (to its
# solicited-node group) reaches every host, as on a plain switch; the bridge
# namespace is L2 only (no IPv6 on br0 or its ports: nothing of theirs on the
# wire).
# CB_TOPO=x (at most 4 characters, default cb) names everything x-net, xcli0...
# instead: two runs with different names never share a namespace or a link.
set -euo pipefail

CB_TOPO=${CB_TOPO:-cb}
CB_NS_NET=$CB_TOPO-net CB_NS_CLIENT=$CB_TOPO-client CB_NS_DIR=$CB_TOPO-dir
CB_NS_B1=$CB_TOPO-b1 CB_NS_B2=$CB_TOPO-b2
CB_IF_CLIENT=${CB_TOPO}cli0 CB_IF_DIR=${CB_TOPO}dir0 CB_IF_B1=${CB_TOPO}b1 CB_IF_B2=${CB_TOPO}b2
CB_IP_CLIENT=198.18.0.1 CB_IP_DIR=198.18.0.2 CB_IP_B1=198.18.0.3 CB_IP_B2=198.18.0.4
CB_VIP=198.18.0.100
CB_IP6_CLIENT=2001:db8::1 CB_IP6_DIR=2001:db8::2 CB_IP6_B1=2001:db8::3 CB_IP6_B2=2001:db8::4
CB_VIP6=2001:db8::100
CB_ALL_NS="$CB_NS_CLIENT $CB_NS_DIR $CB_NS_B1 $CB_NS_B2 $CB_NS_NET"

# Run a command in a namespace without hiding /sys/fs/bpf (ip netns exec
# remounts /sys, so pins made there would vanish).
nsx() { local ns=$1; shift; nsenter --net=/run/netns/"$ns" "$@"; }

# IPv6 on in namespace $1, quiet and at once: no DAD (addresses never
# tentative), no router solicitation, RA or autoconfiguration.  Set before
# any interface exists there: default.* is what new ones get, all.* reaches
# lo, and DAD runs unless both all.accept_dad and the interface's are 0.
# keep_addr_on_down: tests that take a host's link down and up (a backend
# dying, a renamed interface) must find its IPv6 addresses again, as IPv4's.
topo_ipv6_quiet() {
	local c
	for c in all default; do
		nsx "$1" sysctl -qw net.ipv6.conf.$c.disable_ipv6=0 net.ipv6.conf.$c.accept_dad=0 \
			net.ipv6.conf.$c.dad_transmits=0 net.ipv6.conf.$c.router_solicitations=0 \
			net.ipv6.conf.$c.accept_ra=0 net.ipv6.conf.$c.autoconf=0 \
			net.ipv6.conf.$c.keep_addr_on_down=1 >/dev/null
	done
}

topo_host() {   # ns ifname ip ip6
	local ns=$1 ifn=$2 ip=$3 ip6=$4
	ip netns add "$ns"
	topo_ipv6_quiet "$ns"
	ip -n "$CB_NS_NET" link add "br-$ifn" type veth peer name "$ifn" netns "$ns"
	ip -n "$CB_NS_NET" link set "br-$ifn" master br0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$ip/24" dev "$ifn"
	ip -n "$ns" link set "$ifn" up
	ip -n "$ns" -6 addr add "$ip6/64" dev "$ifn" nodad
	# Segments on a wire are at most one MTU and carry full checksums; veth
	# would otherwise hand over 64 KB GSO packets with partial checksums.
	nsx "$ns" ethtool -K "$ifn" tso off gso off gro off tx off >/dev/null 2>&1 || true
	nsx "$CB_NS_NET" ethtool -K "br-$ifn" tso off gso off gro off tx off >/dev/null 2>&1 || true
}

topo_up() {
	topo_down 2>/dev/null || true
	# a fresh machine has no bpffs; the loader mounts it too, iproute2 may not
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	ip netns add "$CB_NS_NET"
	# L2 only: br0 and its ports get no IPv6 (no link-local, MLD, RS)
	nsx "$CB_NS_NET" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 >/dev/null
	ip -n "$CB_NS_NET" link add br0 type bridge mcast_snooping 0
	ip -n "$CB_NS_NET" link set br0 up
	topo_host "$CB_NS_CLIENT" "$CB_IF_CLIENT" "$CB_IP_CLIENT" "$CB_IP6_CLIENT"
	topo_host "$CB_NS_DIR" "$CB_IF_DIR" "$CB_IP_DIR" "$CB_IP6_DIR"
	topo_host "$CB_NS_B1" "$CB_IF_B1" "$CB_IP_B1" "$CB_IP6_B1"
	topo_host "$CB_NS_B2" "$CB_IF_B2" "$CB_IP_B2" "$CB_IP6_B2"
	# The director owns the VIP in ARP and VIP6 in ND; backends hold both on
	# lo, silent in ARP (the sysctls below) and in ND (lo: see the top).
	ip -n "$CB_NS_DIR" addr add "$CB_VIP/32" dev "$CB_IF_DIR"
	ip -n "$CB_NS_DIR" -6 addr add "$CB_VIP6/128" dev "$CB_IF_DIR" nodad
	for ns in "$CB_NS_B1" "$CB_NS_B2"; do
		ip -n "$ns" addr add "$CB_VIP/32" dev lo
		ip -n "$ns" -6 addr add "$CB_VIP6/128" dev lo nodad
		nsx "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
	done
	ip -n "$CB_NS_CLIENT" route add "$CB_VIP/32" via "$CB_IP_DIR"
	# (VIP6 stays on-link for the client: it resolves it by ND, to the director)
	# Native XDP_TX on a veth needs an XDP program on the peer end.
	local passobj
	passobj="$(dirname "${BASH_SOURCE[0]}")/../../build/xdp_pass.bpf.o"
	ip -n "$CB_NS_NET" link set dev "br-$CB_IF_DIR" xdp obj "$passobj" sec xdp
	ip -n "$CB_NS_CLIENT" link set dev "$CB_IF_CLIENT" xdp obj "$passobj" sec xdp
}

# Where connbroker pins an interface of namespace $1 (include/connbroker/paths.h).
topo_pins() {
	echo "/sys/fs/bpf/connbroker/network-namespaces/$(stat -L -c %i "/run/netns/$1")/$2"
}

# connbroker's pins and run files of a namespace (keyed by its inode) outlive it
topo_forget_ns() {
	local ino
	ino=$(stat -L -c %i "/run/netns/$1" 2>/dev/null) || return 0
	rm -rf "/sys/fs/bpf/connbroker/network-namespaces/$ino" "/run/connbroker/network-namespaces/$ino"
}

topo_down() {
	local ns
	for ns in $CB_ALL_NS; do
		topo_forget_ns "$ns"
		[ -e "/run/netns/$ns" ] && ip netns del "$ns"
	done
	rmdir /sys/fs/bpf/connbroker/network-namespaces /sys/fs/bpf/connbroker 2>/dev/null || true
	rmdir /run/connbroker/network-namespaces 2>/dev/null || true
	return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case "${1:-}" in
	up) topo_up ;;
	down) topo_down ;;
	*) echo "usage: $0 up|down" >&2; exit 2 ;;
	esac
fi
