# fuzz_config: the configuration parser (over the system's inih), with the
# parsed configuration's lookups, routing and diff; parse_util.c for its
# number and address parsers, classify.c for cb_route's host matching
FUZZ_SRCS_config := user/ctl/config.c user/util/parse_util.c user/ctl/classify.c
FUZZ_LIBS_config := -linih
