# fuzz_tls: the TLS ClientHello classifier (and the cb_classify dispatcher)
FUZZ_SRCS_tls := user/ctl/classify.c
