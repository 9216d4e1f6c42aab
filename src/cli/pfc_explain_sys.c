// SPDX-License-Identifier: GPL-2.0-or-later
/* What 'portfw explain' reads of the host: sysctls, interfaces, addresses,
 * modules. Each answers "not known" rather than failing the whole run. */
#include "pfc_explain.h"

#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int pfc_sys_int(const char *path)
{
	char full[256], buf[32];
	FILE *fp;
	int v = -1;

	snprintf(full, sizeof(full), "/proc/sys/%s", path);
	fp = fopen(full, "re");
	if (!fp)
		return -1;
	if (fgets(buf, sizeof(buf), fp))
		v = atoi(buf);
	fclose(fp);
	return v;
}

int pfc_sys_ifup(const char *ifname)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0)
		rc = (ifr.ifr_flags & IFF_UP) ? 1 : 0;
	close(fd);
	return rc;
}

bool pfc_sys_local(const union pf_sa *addr)
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	if (getifaddrs(&ifa) < 0)
		return false;
	for (i = ifa; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != addr->sa.sa_family)
			continue;
		found = pf_sa_addr_equal((const union pf_sa *)(void *)i->ifa_addr, addr);
	}
	freeifaddrs(ifa);
	return found;
}

bool pfc_sys_module(const char *name)
{
	char path[128];
	struct stat st;

	/* A module loaded, or built into the kernel, has its directory. */
	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return stat(path, &st) == 0;
}
