// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * prog-time PROG_ID FRAME [RUNS [VARY_OFF]]: the time one run of an XDP
 * program takes on one frame, as bpf_prog_test_run measures it (make bench,
 * section 1b).  VARY_OFF: the offset of a 16-bit field (a TCP source port)
 * made different on every run, so that what the program keys by it (the
 * cookie, the slot of its hint) is not the same cache line each time.
 *
 * One test run per call (repeat = 1), RUNS calls, the median printed in ns.
 * Not `bpftool prog run ... repeat N`: the kernel runs the N repetitions on
 * one buffer without restoring it, and a program that answers in place
 * (a SYN becomes its SYN-ACK) sees its own answer from the second run on,
 * so that figure is the cost of a packet that is not for a service.  Each
 * figure here includes the kernel's own clock reads around the run (tens of
 * ns), the same for every frame measured: compare them as ratios.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	unsigned char frame[2048], out[4096];
	long runs = argc > 3 ? strtol(argv[3], NULL, 10) : 20000;
	__u32 *ns, last_ret = 0;
	size_t len;
	FILE *f;
	int fd, i;

	long vary = argc > 4 ? strtol(argv[4], NULL, 10) : -1;

	if (argc < 3 || runs < 1 || runs > 10000000) {
		fprintf(stderr, "usage: prog-time PROG_ID FRAME [RUNS [VARY_OFF]]\n");
		return 2;
	}
	if (!(f = fopen(argv[2], "rb"))) {
		fprintf(stderr, "prog-time: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	len = fread(frame, 1, sizeof(frame), f);
	fclose(f);
	if (vary >= 0 && (size_t)vary + 2 > len) {
		fprintf(stderr, "prog-time: VARY_OFF %ld is past the frame (%zu bytes)\n", vary, len);
		return 2;
	}
	fd = bpf_prog_get_fd_by_id((__u32)strtoul(argv[1], NULL, 10));
	if (fd < 0) {
		fprintf(stderr, "prog-time: program %s: %s\n", argv[1], strerror(-fd));
		return 1;
	}
	if (!(ns = calloc((size_t)runs, sizeof(*ns))))
		return 1;
	for (i = 0; i < runs; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (__u32)len,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
		int err;

		if (vary >= 0) {        /* another field value each run, a hashed spread */
			uint16_t v = (uint16_t)(1024 + (i * 40503u) % 60000);

			frame[vary] = (unsigned char)(v >> 8);
			frame[vary + 1] = (unsigned char)v;
		}
		err = bpf_prog_test_run_opts(fd, &o);

		if (err) {
			fprintf(stderr, "prog-time: test run: %s\n", strerror(-err));
			return 1;
		}
		ns[i] = o.duration;
		last_ret = o.retval;
	}
	qsort(ns, (size_t)runs, sizeof(*ns), cmp_u32);
	printf("%u %u\n", ns[runs / 2], last_ret);
	free(ns);
	close(fd);
	return 0;
}
