// SPDX-License-Identifier: GPL-2.0-or-later
/* Why a kernel flow ended, as its conntrack entry tells (pfk_flowlog.c). */
#include "common/pf_flowlog.h"
#include "kernel/pfk_int.h"

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* An entry of protocol l4 (TCP: in state st, flags orig of the original
 * direction). Its counters cannot be set from here (libnetfilter_conntrack
 * keeps only what the kernel sends): a refused connect (CLOSE with one
 * packet back) is t_kflowlog.sh's. */
static struct nf_conntrack *entry(uint8_t l4, int st, uint8_t orig, uint32_t id)
{
	struct nf_conntrack *ct = nfct_new();

	assert_non_null(ct);
	nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
	nfct_set_attr_u8(ct, ATTR_L4PROTO, l4);
	nfct_set_attr_u32(ct, ATTR_ID, id);
	if (l4 == IPPROTO_TCP && st >= 0) {
		nfct_set_attr_u8(ct, ATTR_TCP_STATE, (uint8_t)st);
		nfct_set_attr_u8(ct, ATTR_TCP_FLAGS_ORIG, orig);
	}
	return ct;
}

static void check(uint8_t l4, int st, uint8_t orig, uint8_t want)
{
	struct nf_conntrack *ct = entry(l4, st, orig, 1);

	assert_string_equal(pf_flow_end_name(pfk_flow_end(ct)), pf_flow_end_name(want));
	nfct_destroy(ct);
}

static void test_tcp_ends(void **state)
{
	(void)state;
	/* TIME_WAIT: a close, by whoever sent the first FIN. */
	check(IPPROTO_TCP, TCP_CONNTRACK_TIME_WAIT, IP_CT_TCP_FLAG_CLOSE_INIT,
	      PF_END_CLIENT_CLOSE);
	check(IPPROTO_TCP, TCP_CONNTRACK_TIME_WAIT, 0, PF_END_BACKEND_CLOSE);
	/* CLOSE: a reset (no counters known: not taken for a refused connect). */
	check(IPPROTO_TCP, TCP_CONNTRACK_CLOSE, 0, PF_END_CLIENT_RESET);
	/* Any other state: the entry expired. */
	check(IPPROTO_TCP, TCP_CONNTRACK_ESTABLISHED, 0, PF_END_TIMEOUT);
	check(IPPROTO_TCP, TCP_CONNTRACK_SYN_SENT, 0, PF_END_TIMEOUT);
	check(IPPROTO_TCP, -1, 0, PF_END_TIMEOUT);
}

static void test_udp_ends(void **state)
{
	(void)state;
	check(IPPROTO_UDP, -1, 0, PF_END_TIMEOUT);
}

static void test_killed(void **state)
{
	struct nf_conntrack *k = entry(IPPROTO_TCP, TCP_CONNTRACK_ESTABLISHED, 0, 77);
	struct nf_conntrack *other = entry(IPPROTO_TCP, TCP_CONNTRACK_TIME_WAIT, 0, 78);

	(void)state;
	/* Deleted by portfwd: killed, whatever its state; others as before. */
	pfk_flow_killed(k);
	assert_int_equal(pfk_flow_end(k), PF_END_KILLED);
	assert_int_equal(pfk_flow_end(other), PF_END_BACKEND_CLOSE);
	nfct_destroy(k);
	nfct_destroy(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_ends),
		cmocka_unit_test(test_udp_ends),
		cmocka_unit_test(test_killed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
