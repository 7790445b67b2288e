/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* connbroker's version, for --version and connbroker_build_info. */
#ifndef CONNBROKER_VERSION_H
#define CONNBROKER_VERSION_H

#ifndef CB_VERSION
#define CB_VERSION "0.1.0"      /* -DCB_VERSION=... overrides */
#endif

#endif
