# fuzz_proto: the peer message codec
FUZZ_SRCS_proto := user/peer/proto.c
