// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * GET /api/status: what 'portfw list -j' answers (the same request, run by
 * the same code), with the wall clock and the process' facts, so that the
 * status page can turn two samples of the counters into a rate.
 */
#include "pfd_http.h"
#include "pfd.h"
#include "../common/pf_util.h"

json_t *pfd_api_status(bool admin)
{
	const struct pfd_reloads *r = pfd_table_reloads();
	json_t *res = pfd_table_request("list", 4, true, 0);

	if (!res)
		return NULL;
	json_object_set_new(res, "time_ms", json_integer((json_int_t)pf_wall_ms()));
	json_object_set_new(res, "start_ms", json_integer((json_int_t)pfd_start_ms));
	json_object_set_new(res, "version", json_string(PORTFW_VERSION));
	json_object_set_new(res, "reloads", json_integer((json_int_t)r->count));
	json_object_set_new(res, "last_reload_ok", json_boolean(r->last_ok));
	json_object_set_new(res, "last_reload_ms", json_integer((json_int_t)r->last_ms));
	/* The page shows its buttons only when they would be accepted. */
	json_object_set_new(res, "admin", json_boolean(admin));
	return res;
}
