// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * portfwd: the port-forwarding daemon. The main thread owns the table, the
 * control socket and the signals; the user engine's workers carry the flows.
 */
#include "pfd.h"
#include "pfd_http.h"
#include "pfd_loop.h"
#include "pfd_notify.h"
#include "pfd_priv.h"
#include "pfd_stop.h"
#include "pfd_upgrade.h"
#include "../common/pf_flowlog.h"
#include "../common/pf_log.h"
#include "../common/pf_table.h"
#include "../common/pf_util.h"
#include "../kernel/pfk.h"
#include "../user/pfu.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: portfwd [-c FILE] [-s SOCKET] [-e user|kernel] [-W IFNAMES] [-w WORKERS]\n"
		"               [-a] [-m splice|copy] [-p BYTES] [-u USER] [-g GROUP] [-t] [-v] [-V]\n"
		"               [-E own|all|none] [-H]\n"
		"  -c FILE     config file (default /etc/portfw.conf)\n"
		"  -s SOCKET   control socket (default $PORTFW_SOCKET or /run/portfw.sock)\n"
		"  -e ENGINE   engine of forwards without 'engine': user (default) or kernel\n"
		"  -W IFNAMES  outside interfaces, comma-separated (kernel engine port\n"
		"              triggers open for hosts on the others; default: the\n"
		"              default routes' interfaces, followed as they change)\n"
		"  -E, --conntrack-events own|all|none\n"
		"              conntrack events of the kernel engine's flows: own (default):\n"
		"              only their creation, close and end; all: every change\n"
		"              (for conntrackd, or conntrack -E, to see them); none: as\n"
		"              own, and portfwd reads none: its forwards count only their\n"
		"              active flows, from conntrack's table when asked\n"
		"  -H, --ha    one of an HA pair (keepalived + conntrackd, docs/ha.md):\n"
		"              -E all, nf_conntrack_tcp_loose 0 (taken-over flows come from\n"
		"              conntrackd) and packets conntrack calls invalid dropped\n"
		"              before NAT\n"
		"  -w WORKERS  relay threads (default: one per CPU)\n"
		"  -a          pin the relay threads, one on each CPU, each taking the new\n"
		"              TCP connections that come in on its CPU\n"
		"  -m MODE     relay bytes with splice (default) or copy\n"
		"  -p BYTES    pipe size for splice (default 262144)\n"
		"  -u USER     after opening the control socket, run as USER keeping only\n"
		"              CAP_NET_BIND_SERVICE and CAP_NET_ADMIN (USER must read -c)\n"
		"  -g GROUP    control socket mode 0660 with GROUP, whose members may only\n"
		"              read (list, conns, save); default: 'portfw' if it exists\n"
		"  -t          check the config file and exit\n"
		"  -v          log debug messages\n"
		"  -V, --version  print the version and exit\n"
		"  -h, --help     print this help and exit\n");
}

/* A usage error: one line, what was wrong and where the whole usage is. */
static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "portfwd: %s '%s' (see 'portfwd --help')\n", what, arg);
	return 2;
}

/* The exit status main returns once the loop stops. */
static int pfd_rc = 1;

static void pfd_on_signal(int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;
	char err[1024];

	(void)events;
	(void)arg;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR2) {
			/* An upgrade (pfd_upgrade.c); its outcome is logged. */
			if (pfd_upgrade_start(err, sizeof(err)))
				pf_err("SIGUSR2: no upgrade: %s", err);
		} else if (si.ssi_signo == SIGHUP && pfd_stop_draining()) {
			/* No reload while stopping; nor RELOADING=1 and READY=1
			 * to systemd after STOPPING=1. */
			pf_info("SIGHUP while draining: no reload");
		} else if (si.ssi_signo == SIGHUP) {
			/* systemd waits for READY=1 after RELOADING=1; a refused
			 * reload is still done (the old table runs) and says why. */
			pfd_notify("RELOADING=1\nMONOTONIC_USEC=%llu",
				   (unsigned long long)pf_now_us());
			if (pfd_table_reload(err, sizeof(err))) {
				pf_err("reload refused, the running table stays: %s", err);
				pfd_notify("READY=1\nSTATUS=reload refused: %.400s", err);
			} else {
				pfd_notify("READY=1\nSTATUS=%zu forwards loaded", pfd_table_count());
			}
		} else if (pfd_stop_draining()) {
			pf_info("signal %d while draining", (int)si.ssi_signo);
			pfd_stop_cut("a second signal");
			return;
		} else if (si.ssi_signo == SIGQUIT) {
			pf_info("signal %d: stopping now", (int)si.ssi_signo);
			pfd_notify("STOPPING=1");
			pfd_rc = 0;
			pfd_stop_cut("SIGQUIT");
			return;
		} else {
			/* SIGTERM, SIGINT: a soft stop (pfd_stop.c). */
			pfd_rc = 0;
			pfd_stop_begin((int)si.ssi_signo);
			return;
		}
	}
}

/* A backend's health changed: the kernel's pools follow. */
static void pfd_on_health(int fd, uint32_t events, void *arg)
{
	uint64_t cnt;

	(void)events;
	(void)arg;
	(void)!read(fd, &cnt, sizeof(cnt));
	pfd_table_refresh();
}

static void pfd_on_engine_event(int fd, uint32_t events, void *arg)
{
	const struct pf_engine_ops *e = arg;

	(void)fd;
	(void)events;
	/* The kernel's: port triggers, links and routes. The user engine's:
	 * the last flow of a deleted transparent forward ended. */
	if (e->event())
		pfd_table_refresh();
}

/* An engine's event socket may open with a change (the kernel's conntrack
 * events, with the first trigger) and then stays open as long as the
 * daemon runs; any handler may have made that change. */
static void pfd_watch_engine_events(void)
{
	static bool watched[8];
	size_t i;

	for (i = 0; i < pf_nengines && i < PF_ARRAY_SIZE(watched); i++) {
		const struct pf_engine_ops *e = pf_engines[i];
		int fd = !watched[i] && e->event_fd ? e->event_fd() : -1;

		if (fd >= 0)
			watched[i] = !pfd_loop_add(fd, EPOLLIN, pfd_on_engine_event, (void *)e);
	}
}

int main(int argc, char **argv)
{
	struct pfu_config cfg = { .pipe_size = 262144 };
	struct pfk_config kcfg = { 0 };
	const char *conf = "/etc/portfw.conf", *sock = getenv("PORTFW_SOCKET");
	const char *user = NULL, *group = NULL;
	bool check = false, events_set = false;
	static struct pf_user_conf uconf;
	char err[1024], fail[1024] = "";
	struct rlimit rl;
	sigset_t mask;
	int sfd = -1, opt, e;
	uint64_t v;

	/* One heap for every thread. The workers allocate nothing per flow or
	 * datagram (their flows and sessions come from slabs, pfu_slab.h), so
	 * a heap each would save no contention; and a worker's own heap keeps
	 * what a burst (a listing built on it) left at its top, where a shared
	 * one gives it back (malloc_trim after a large reply, pfd_ctl.c). */
	mallopt(M_ARENA_MAX, 1);
	if (!sock || !*sock)
		sock = "/run/portfw.sock";
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "conntrack-events", required_argument, NULL, 'E' },
		{ "ha", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};

	while ((opt = getopt_long(argc, argv, ":c:s:e:E:W:w:am:p:u:g:tvVhH", longopts, NULL)) != -1) {
		switch (opt) {
		case 'e':
			if (strcmp(optarg, "user") != 0 && strcmp(optarg, "kernel") != 0) {
				fprintf(stderr, "portfwd: -e '%s': expected user or kernel\n", optarg);
				return 2;
			}
			pf_engine_default = !strcmp(optarg, "kernel") ? PF_ENGINE_KERNEL : PF_ENGINE_USER;
			break;
		case 'W':
			kcfg.wan = optarg;
			break;
		case 'E':
			if (pfk_events_parse(optarg, &kcfg.events) < 0) {
				fprintf(stderr,
					"portfwd: --conntrack-events '%s': expected own, all or none\n",
					optarg);
				return 2;
			}
			events_set = true;
			break;
		case 'H':
			kcfg.ha = true;
			break;
		case 'c':
			conf = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'w':
			if (pf_parse_uint(optarg, 1, 64, &v)) {
				fprintf(stderr, "portfwd: -w '%s': expected a number of workers 1-64\n",
					optarg);
				return 2;
			}
			cfg.workers = (int)v;
			break;
		case 'a':
			cfg.pin = true;
			break;
		case 'm':
			if (strcmp(optarg, "splice") != 0 && strcmp(optarg, "copy") != 0) {
				fprintf(stderr, "portfwd: -m '%s': expected splice or copy\n", optarg);
				return 2;
			}
			cfg.copy = !strcmp(optarg, "copy");
			break;
		case 'p':
			if (pf_parse_uint(optarg, 4096, 1U << 20, &v)) {
				fprintf(stderr,
					"portfwd: -p '%s': expected a pipe size 4096-1048576 bytes\n",
					optarg);
				return 2;
			}
			cfg.pipe_size = (unsigned)v;
			break;
		case 'u':
			user = optarg;
			break;
		case 'g':
			group = optarg;
			break;
		case 't':
			check = true;
			break;
		case 'v':
			pf_log_verbosity = PF_LOG_DEBUG;
			break;
		case 'V':
			printf("portfwd %s\n", PORTFW_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			return usage_error("missing argument to", argv[optind - 1]);
		default:
			return usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (optind != argc) {
		return usage_error("unexpected argument", argv[optind]);
	}
	/* conntrackd follows the flows by their every change. */
	if (kcfg.ha && events_set && kcfg.events != PFK_EVENTS_ALL) {
		fprintf(stderr, "portfwd: --ha: conntrackd needs every conntrack event of the "
			"flows; expected -E all or no -E\n");
		return 2;
	}
	if (kcfg.ha)
		kcfg.events = PFK_EVENTS_ALL;
	/* Started by an upgrade: the old process' sockets, before anything
	 * would bind them anew; whatever fails from here on is the old
	 * process' answer (pfd_upgrade_failed). */
	pfd_upgrade_init(argv);
	if (!check && pfd_upgrade_inherit(err, sizeof(err))) {
		fprintf(stderr, "portfwd: %s\n", err);
		pfd_upgrade_failed(err);
		return 1;
	}
	pfd_table_set_config(conf);
	/* The config's 'user' line, unless -u says otherwise: read as root,
	 * before the drop; -g wins over its group as -u over its user. */
	if (!user && !check) {
		if (pfd_table_conf_user(&uconf, err, sizeof(err))) {
			fprintf(stderr, "portfwd: %s\n", err);
			pfd_upgrade_failed(err);
			return 1;
		}
		if (uconf.user[0])
			user = uconf.user;
		if (!group && uconf.group[0])
			group = uconf.group;
	}
	/* Names looked up now: a bad one fails before anything runs. */
	if ((user && pfd_priv_set_user(user, err, sizeof(err))) ||
	    pfd_priv_set_group(group, err, sizeof(err))) {
		fprintf(stderr, "portfwd: %s\n", err);
		pfd_upgrade_failed(err);
		return 2;
	}
	if (check) {
		if (pfd_table_check(err, sizeof(err))) {
			fprintf(stderr, "portfwd: %s\n", err);
			return 1;
		}
		printf("portfwd: %s: configuration OK\n", conf);
		return 0;
	}

	/* Each flow takes two descriptors; use all the hard limit allows. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	pfd_start_ms = pf_wall_ms();
	/* Block before the workers start, so only the signalfd sees these. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	e = sfd < 0 ? -errno : pfd_loop_init();
	if (!e)
		e = pfd_loop_add(sfd, EPOLLIN, pfd_on_signal, NULL);
	if (e) {
		pf_err("setup: %s", strerror(-e));
		goto out;
	}
	/* The control socket first: a second daemon, or a -s path that is no
	 * socket, must fail before the kernel's table or anything is touched. */
	if (pfd_ctl_open(sock) < 0)
		goto out;
	/* Before any thread: capabilities are per thread (pfd_priv.c). */
	if (pfd_priv_drop())
		goto out;
	/* The flow log's writer, before the engines that feed it (and idle,
	 * at no cost, while no forward logs). */
	e = pf_flowlog_start(PF_FLOWLOG_TEXT);
	if (e) {
		pf_err("flow log: %s", strerror(-e));
		goto out;
	}
	pfk_configure(&kcfg);
	pfu_configure(&cfg);
	/* The user engine always (it carries the default), the kernel's now
	 * only if it is the default (else on first use). */
	if (pfd_engines_start(PF_ENGINE_USER, err, sizeof(err)) ||
	    (pf_engine_default == PF_ENGINE_KERNEL &&
	     pfd_engines_start(PF_ENGINE_KERNEL, err, sizeof(err)))) {
		pf_err("%s", err);
		pf_strlcpy(fail, err, sizeof(fail));
		goto out;
	}
	if (pfd_health_start() || pfd_resolve_start())
		goto out;
	if (pfd_table_reload(err, sizeof(err))) {
		pf_err("%s", err);
		fprintf(stderr, "portfwd: %s\n", err);
		pf_strlcpy(fail, err, sizeof(fail));
		goto out;
	}
	e = pfd_loop_add(pfd_health_notify_fd(), EPOLLIN, pfd_on_health, NULL);
	if (e) {
		pf_err("setup: %s", strerror(-e));
		goto out;
	}
	pfd_loop_before_wait(pfd_watch_engine_events);
	pf_info("portfwd %s running: config %s, control socket %s", PORTFW_VERSION, conf, sock);
	/* The table is in and the control socket listens (a client connecting
	 * now is queued until the loop answers it). */
	/* Started by an upgrade: the service's main process is this one now
	 * (NotifyAccess=all lets systemd hear it from the old one's child). */
	if (pfd_upgrade_ready())
		pfd_notify("MAINPID=%d\nREADY=1\nSTATUS=%zu forwards loaded", (int)getpid(),
			   pfd_table_count());
	else
		pfd_notify("READY=1\nSTATUS=%zu forwards loaded", pfd_table_count());
	e = pfd_loop_run();
	if (e)
		pf_err("event loop: %s", strerror(-e));
out:
	/* A new process that never got ready: the old one serves on. */
	pfd_upgrade_failed(fail[0] ? fail : "its start failed (its log says why)");
	pfd_http_stop();
	pfd_ctl_close();
	pfd_health_stop();
	pfd_resolve_stop();
	/* Handed over, or never taken over: the kernel's table is another
	 * process' and stays as it is. */
	if (pfd_upgrade_detached())
		pfd_engines_detach();
	else
		pfd_engines_stop();
	/* After the engines: the flows they ended at exit are logged too. */
	pf_flowlog_stop();
	pfd_table_free();
	pfd_loop_free();
	if (sfd >= 0)
		close(sfd);
	return pfd_upgrade_handed() ? 0 : pfd_rc;
}
