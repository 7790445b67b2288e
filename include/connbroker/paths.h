/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Where connbroker keeps per-interface state, keyed by network namespace so
 * that two namespaces with an interface of the same name never share it:
 *
 *   initial namespace   /sys/fs/bpf/connbroker/<ifname>/        pins
 *                       /run/connbroker/<ifname>.sock, .lock
 *   any other           /sys/fs/bpf/connbroker/network-namespaces/<ino>/<ifname>/
 *                       /run/connbroker/network-namespaces/<ino>/<ifname>.sock, .lock
 *
 * <ino> is the namespace's inode number (/proc/self/ns/net): unique among
 * live namespaces, and the initial one's is fixed by the kernel
 * (PROC_NET_INIT_INO).  A number reused after a namespace died finds that
 * namespace's leftovers, which attach treats as stale (their interface and
 * programs died with it).  "network-namespaces" is longer than any interface
 * name can be (15 characters), so it never clashes with one.  Shared by the connbroker binary and libconnbroker
 * (the default socket path), header-only.
 */
#ifndef CONNBROKER_PATHS_H
#define CONNBROKER_PATHS_H

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#define CB_NETNS_INIT_INO 0xEFFFFFF9u   /* PROC_NET_INIT_INO, include/linux/proc_ns.h */
#define CB_NETNS_DIR "network-namespaces"

/*
 * "" for the initial namespace, CB_NETNS_DIR "/<ino>/" for any other, into buf;
 * 0 or -errno.
 */
static inline int cb_netns_subdir(char *buf, size_t len)
{
	struct stat st;
	int n;

	if (stat("/proc/self/ns/net", &st))
		return -errno;
	n = st.st_ino == CB_NETNS_INIT_INO ? snprintf(buf, len, "%s", "")
					    : snprintf(buf, len, CB_NETNS_DIR "/%lu/", (unsigned long)st.st_ino);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

#endif
