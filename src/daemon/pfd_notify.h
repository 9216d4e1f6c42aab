/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef PFD_NOTIFY_H
#define PFD_NOTIFY_H

/*
 * systemd's readiness protocol (sd_notify(3)): one datagram of KEY=VALUE
 * lines to $NOTIFY_SOCKET. Nothing is sent without NOTIFY_SOCKET. Returns
 * 0 when sent or not asked for, -errno on failure (the caller may ignore it:
 * the daemon works the same without systemd).
 */
int pfd_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* From now on nothing is sent (the upgraded process speaks for the
 * service: MAINPID= and READY=1). */
void pfd_notify_silence(void);

#endif
