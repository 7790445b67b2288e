# fuzz_image: the socket image codec (decode, encode, their round trips)
FUZZ_SRCS_image := user/repair/image.c
