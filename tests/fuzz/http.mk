# fuzz_http: the HTTP/1.x request classifier (and the cb_classify dispatcher)
FUZZ_SRCS_http := user/ctl/classify.c
