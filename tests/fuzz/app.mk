# fuzz_app: the app protocol's parsers (controller and libconnbroker sides)
FUZZ_SRCS_app := user/ctl/apps.c user/ctl/loop.c user/ctl/config.c user/util/clock.c \
                 user/util/log.c user/util/parse_util.c user/ctl/classify.c lib/connbroker.c
FUZZ_LIBS_app := -linih -lxdp -lbpf
