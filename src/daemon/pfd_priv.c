// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Least privilege. With -u USER, portfwd binds its control socket as root,
 * then becomes USER (its primary group, no supplementary groups) before any
 * thread starts, keeping in its permitted and effective sets only:
 *
 *   CAP_NET_BIND_SERVICE  listeners on ports below 1024, for forwards added
 *                         or reloaded later, not only those of the start;
 *   CAP_NET_ADMIN         the kernel engine (nftables and conntrack over
 *                         netlink, its net.* sysctls, which the kernel opens
 *                         to CAP_NET_ADMIN as to root), and transparent mode:
 *                         IP_TRANSPARENT accepts CAP_NET_ADMIN or CAP_NET_RAW,
 *                         and the policy rules and routes it installs need
 *                         CAP_NET_ADMIN anyway, so CAP_NET_RAW is not kept.
 *
 * The bounding set is cleared. The two capabilities are also made ambient,
 * for the one program portfwd runs, itself (portfw upgrade, SIGUSR2): a
 * process that is not root keeps only its ambient capabilities across
 * exec, and the new portfwd, started as USER already, keeps them as they
 * are (it cannot change its uid, and needs not). Capabilities are per
 * thread, which is why the drop comes before the engines' and the health checks' threads exist;
 * the table is then loaded as USER, so a config file USER cannot read fails
 * at the start rather than at the first SIGHUP.
 *
 * The control socket: 0660 with a group (-g, else 'portfw' when it exists,
 * else 0600 as before). Root and the daemon's own user may send anything;
 * members of the group only what reads (pf_stmt_reads); the mode keeps
 * everyone else out at connect(), and the peer check refuses them anyway.
 */
#include "pfd_priv.h"
#include "../common/pf_conf.h"
#include "../common/pf_interp.h"
#include "../common/pf_log.h"
#include "../common/pf_util.h"

#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

static bool pfd_has_user;
static char pfd_user[64];
static uid_t pfd_uid;
static gid_t pfd_gid;

static bool pfd_has_group;
static char pfd_group[64];
static gid_t pfd_sock_gid;

int pfd_priv_set_user(const char *name, char *err, size_t errlen)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	if (!pw) {
		snprintf(err, errlen, "-u '%s': %s; expected the name of a user of this system",
			 name, errno ? strerror(errno) : "no such user");
		return -1;
	}
	if (pf_strlcpy(pfd_user, name, sizeof(pfd_user)) >= sizeof(pfd_user)) {
		snprintf(err, errlen, "-u '%s': name too long", name);
		return -1;
	}
	pfd_uid = pw->pw_uid;
	pfd_gid = pw->pw_gid;
	pfd_has_user = true;
	return 0;
}

const char *pfd_priv_user(void)
{
	return pfd_has_user ? pfd_user : NULL;
}

int pfd_priv_set_group(const char *name, char *err, size_t errlen)
{
	struct group *gr;

	errno = 0;
	gr = getgrnam(name ? name : "portfw");
	if (!gr && !name)
		return 0; /* no 'portfw' group: the socket stays 0600 */
	if (!gr) {
		snprintf(err, errlen, "-g '%s': %s; expected the name of a group of this system",
			 name, errno ? strerror(errno) : "no such group");
		return -1;
	}
	if (pf_strlcpy(pfd_group, gr->gr_name, sizeof(pfd_group)) >= sizeof(pfd_group)) {
		snprintf(err, errlen, "-g '%s': name too long", gr->gr_name);
		return -1;
	}
	pfd_sock_gid = gr->gr_gid;
	pfd_has_group = true;
	return 0;
}

bool pfd_priv_sock_group(gid_t *gid)
{
	*gid = pfd_has_group ? pfd_sock_gid : (gid_t)-1;
	return pfd_has_group;
}

uid_t pfd_priv_sock_owner(void)
{
	return pfd_has_user ? pfd_uid : (uid_t)-1;
}

int pfd_priv_drop(void)
{
	char *caps;
	int rc;

	if (!pfd_has_user)
		return 0;
	if (pfd_uid != 0 && getuid() == pfd_uid && geteuid() == pfd_uid) {
		/* Started by an upgrade of a portfwd that ran as USER. */
		capng_get_caps_process();
		caps = capng_print_caps_text(CAPNG_PRINT_BUFFER, CAPNG_EFFECTIVE);
		pf_info("running as user %s (uid %u, gid %u) since the upgrade that started it, "
			"capabilities: %s",
			pfd_user, (unsigned)getuid(), (unsigned)getgid(), caps ? caps : "?");
		free(caps);
		return 0;
	}
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_INHERITABLE,
			  CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, -1)) {
		pf_err("-u %s: cannot set up the capabilities to keep", pfd_user);
		return -1;
	}
	/* setresgid, setgroups(0), setresuid, keeping the set above. */
	rc = capng_change_id((int)pfd_uid, (int)pfd_gid,
			     CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
	if (rc) {
		pf_err("-u %s: cannot become uid %u gid %u (libcap-ng error %d: %s); "
		       "portfwd must start as root to drop privileges",
		       pfd_user, (unsigned)pfd_uid, (unsigned)pfd_gid, rc, strerror(errno));
		return -1;
	}
	/* Ambient (they are permitted and inheritable now): kept across the
	 * exec of an upgrade. Without them the upgrade still starts, but its
	 * kernel engine and new ports below 1024 would fail: say so now. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) < 0 ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0) < 0)
		pf_warn("-u %s: cannot make the capabilities ambient (%s): an upgrade would "
			"run without them", pfd_user, strerror(errno));
#if defined(__SANITIZE_ADDRESS__)
	/* The uid change made the process undumpable, and LeakSanitizer's
	 * tracer (a clone, not a thread) could no longer ptrace it at exit.
	 * Sanitizer builds only: others stay undumpable. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	/* What the kernel says we hold now, not what we asked for. */
	capng_get_caps_process();
	caps = capng_print_caps_text(CAPNG_PRINT_BUFFER, CAPNG_EFFECTIVE);
	pf_info("running as user %s (uid %u, gid %u), capabilities kept: %s", pfd_user,
		(unsigned)getuid(), (unsigned)getgid(), caps ? caps : "?");
	free(caps);
	return 0;
}

/* Whether the process pid (of user uid) is in group gid: its Groups: line
 * in /proc, else (the process is gone) the user's groups from the group
 * database. */
static bool pfd_priv_member(pid_t pid, uid_t uid, gid_t primary, gid_t gid)
{
	char path[64], line[4096];
	struct passwd *pw;
	gid_t groups[256];
	int n = (int)PF_ARRAY_SIZE(groups), i;
	FILE *fp;

	if (primary == gid)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fp = fopen(path, "re");
	if (fp) {
		bool found = false;

		while (fgets(line, sizeof(line), fp)) {
			char *p, *end;

			if (strncmp(line, "Groups:", 7) != 0)
				continue;
			for (p = line + 7;; p = end) {
				unsigned long g = strtoul(p, &end, 10);

				if (end == p)
					break;
				if (g == gid)
					found = true;
			}
			break;
		}
		fclose(fp);
		return found;
	}
	pw = getpwuid(uid);
	if (!pw || getgrouplist(pw->pw_name, primary, groups, &n) < 0)
		return false;
	for (i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

enum pfd_role pfd_priv_peer(int fd, uid_t *uid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	*uid = (uid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return PFD_ROLE_NONE;
	*uid = cr.uid;
	if (cr.uid == 0 || cr.uid == geteuid())
		return PFD_ROLE_ADMIN;
	if (pfd_has_group && pfd_priv_member(cr.pid, cr.uid, cr.gid, pfd_sock_gid))
		return PFD_ROLE_READ;
	return PFD_ROLE_NONE;
}

void pfd_priv_refusal(char *buf, size_t len, int kind, uid_t peer)
{
	if (kind == PF_ST_NONE || !pfd_has_group)
		snprintf(buf, len,
			 "permission denied: uid %u is neither root nor portfwd's user (uid %u)%s%s",
			 (unsigned)peer, (unsigned)geteuid(),
			 pfd_has_group ? " nor a member of group " : "",
			 pfd_has_group ? pfd_group : "");
	else
		snprintf(buf, len,
			 "permission denied: '%s' changes the table; it needs root or portfwd's "
			 "user (uid %u); members of group %s may only read (list, conns, save)",
			 pf_stmt_name((enum pf_stmt_kind)kind), (unsigned)geteuid(), pfd_group);
}
