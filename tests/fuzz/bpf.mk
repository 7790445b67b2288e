# fuzz_bpf: the XDP and TC programs run on scripted packet sequences through
# bpf_prog_test_run_opts() (needs root; without it every input is a no-op).
# Seeds: CB_FUZZ_BPF_WRITE_SEEDS=tests/fuzz/corpus/bpf build/fuzz/fuzz_bpf
FUZZ_SRCS_bpf := tests/unit/pkt.c
FUZZ_LIBS_bpf := -lbpf -lelf -lz
# IPv4-mapped IPv6 frames are sent and expected passed as malformed;
# CB_FUZZ_BPF_NO_V4MAPPED=1 build/fuzz/fuzz_bpf ... sends none.
