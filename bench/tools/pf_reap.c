// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pf_reap: runs a forwarder as a child subreaper, so that all its processes
 * stay in one process tree that bench/tools/pf_pstat.py can add up.
 *
 *   pf_reap CMD [ARG...]
 *
 * Some forwarders detach their per-connection processes (redir double-forks:
 * the grandchild that relays is orphaned at once); without a subreaper they
 * would be re-parented to init, out of sight, and their CPU time lost. As
 * PR_SET_CHILD_SUBREAPER, pf_reap inherits them, and reaps them with wait(),
 * which adds their CPU time to its own cutime/cstime. It forwards SIGTERM,
 * SIGINT and SIGHUP to CMD, and exits with CMD's status once CMD and every
 * process it left behind are gone.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	int status, rc = 1;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: pf_reap CMD [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		fprintf(stderr, "pf_reap: PR_SET_CHILD_SUBREAPER: %s\n", strerror(errno));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "pf_reap: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		execvp(argv[1], argv + 1);
		fprintf(stderr, "pf_reap: %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	child_pid = pid;
	/* Reap everything: CMD, and the orphans we inherit, until none is left
	 * (bench/run.sh stops the whole tree). */
	for (;;) {
		pid_t p = wait(&status);

		if (p < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD */
		}
		if (p == pid) {
			rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			child_pid = 0;
		}
	}
	return rc;
}
