/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Sizes both halves of sockmap-relay agree on. */
#ifndef SMR_SLOTS_H
#define SMR_SLOTS_H

/* Sockets in the sockmap: two a relayed connection. */
#define SMR_SLOTS 65536
#define SMR_CONNS (SMR_SLOTS / 2)

#endif
