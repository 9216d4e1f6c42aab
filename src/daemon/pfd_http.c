// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The status server (see pfd_http.h). libmicrohttpd runs in its external
 * epoll mode: its epoll descriptor is one more handler of the main loop and
 * MHD_run is called when it is readable, or when the timer made from
 * MHD_get_timeout fires (work left over, idle keep-alive connections). So
 * every request is answered on the main thread, which owns the running
 * table and runs control requests; the relay's workers never wait for it.
 *
 * A change of the 'status' line binds the new socket first (prepare): an
 * address that is not local or a port in use fails the change and leaves
 * the running server as it was. Only 'admin' changed: the socket stays.
 */
#include "pfd_http.h"
#include "pfd.h"
#include "pfd_loop.h"
#include "../common/pf_admin.h"
#include "../common/pf_handover.h"
#include "../common/pf_log.h"
#include "../common/pf_util.h"

#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define PFD_HTTP_CONNS_MAX 32
#define PFD_HTTP_TIMEOUT_S 10
/* The header a cross-site form cannot send (the page's fetch does): an
 * admin request from another site's page in a local browser is refused. */
#define PFD_HTTP_ADMIN_HDR "X-Portfw-Admin"

uint64_t pfd_start_ms;

struct pfd_http_srv {
	struct MHD_Daemon *d;
	int efd; /* MHD's epoll descriptor, watched by the loop (-1: not yet) */
	int lfd; /* the listener, MHD's (an upgrade hands it over) */
	int64_t timer;
	struct pf_status_conf conf;
};

/* One request's state: the admin form's body as it arrives. */
struct pfd_http_req {
	size_t len;
	bool too_big;
	char body[PF_ADMIN_BODY_MAX + 1];
};

static struct pfd_http_srv *pfd_http_cur, *pfd_http_next;
/* A change prepared: what the status line will be once it commits. */
static bool pfd_http_pending;
static struct pf_status_conf pfd_http_want;

/* ---- replies ---- */

/* The page may run its own script and fetch from portfwd, nothing else. */
#define PFD_HTTP_PAGE_CSP                                                                   \
	"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "       \
	"connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "          \
	"frame-ancestors 'none'"

static enum MHD_Result pfd_http_send(struct MHD_Connection *c, unsigned code, const char *type,
				     char *body, size_t len, const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	if (!strncmp(type, "text/html", 9))
		MHD_add_response_header(r, "Content-Security-Policy", PFD_HTTP_PAGE_CSP);
	rc = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result pfd_http_json(struct MHD_Connection *c, unsigned code, json_t *o,
				     const char *allow)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	size_t len;

	json_decref(o);
	if (!text)
		return MHD_NO;
	len = strlen(text);
	return pfd_http_send(c, code, "application/json", text, len, allow);
}

/* {"ok": false, "error": "..."}: what the control socket answers too. */
static enum MHD_Result pfd_http_error(struct MHD_Connection *c, unsigned code, const char *allow,
				      const char *msg)
{
	return pfd_http_json(c, code, pfd_json_error(msg), allow);
}

/* ---- the routes ---- */

static bool pfd_http_loopback(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	if (!sa)
		return false;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

static enum MHD_Result pfd_http_admin(struct pfd_http_srv *s, struct MHD_Connection *c,
				      struct pfd_http_req *r)
{
	char stmt[PF_ADMIN_BODY_MAX + 64], err[512];
	json_t *res;
	unsigned code;

	if (!s->conf.admin)
		return pfd_http_error(c, MHD_HTTP_FORBIDDEN, NULL,
				      "admin actions are off: the status line has no 'admin' "
				      "(status ADDR:PORT admin)");
	if (!pfd_http_loopback(c))
		return pfd_http_error(c, MHD_HTTP_FORBIDDEN, NULL,
				      "admin actions are served to loopback clients only");
	if (!MHD_lookup_connection_value(c, MHD_HEADER_KIND, PFD_HTTP_ADMIN_HDR))
		return pfd_http_error(c, MHD_HTTP_FORBIDDEN, NULL,
				      "expected the header " PFD_HTTP_ADMIN_HDR
				      ": 1 (the status page sends it; a form of another site "
				      "cannot)");
	if (r->too_big) {
		snprintf(err, sizeof(err), "body longer than %d bytes; expected "
			 "forward=NAME&backend=HOST:PORT&action=ACTION", PF_ADMIN_BODY_MAX);
		return pfd_http_error(c, MHD_HTTP_CONTENT_TOO_LARGE, NULL, err);
	}
	if (pf_admin_parse(r->body, r->len, stmt, sizeof(stmt), err, sizeof(err)))
		return pfd_http_error(c, MHD_HTTP_BAD_REQUEST, NULL, err);
	pf_info("status page: %s", stmt);
	res = pfd_table_request(stmt, strlen(stmt), false, 0);
	code = res && json_is_true(json_object_get(res, "ok")) ? MHD_HTTP_OK
							       : MHD_HTTP_BAD_REQUEST;
	return pfd_http_json(c, code, res, NULL);
}

static enum MHD_Result pfd_http_get(struct pfd_http_srv *s, struct MHD_Connection *c,
				    const char *url)
{
	char *text;
	size_t len;

	if (!strcmp(url, "/metrics")) {
		text = pfd_metrics_text(pfd_table_running(), &len);
		if (!text)
			return pfd_http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
					      "out of memory");
		return pfd_http_send(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
				     text, len, NULL);
	}
	if (!strcmp(url, "/api/status"))
		return pfd_http_json(c, MHD_HTTP_OK, pfd_api_status(s->conf.admin), NULL);
	text = malloc(pfd_page_len);
	if (!text)
		return MHD_NO;
	memcpy(text, pfd_page, pfd_page_len);
	return pfd_http_send(c, MHD_HTTP_OK, "text/html; charset=utf-8", text, pfd_page_len,
			     NULL);
}

static bool pfd_http_known(const char *url)
{
	static const char *const paths[] = { "/", "/index.html", "/metrics", "/api/status" };
	size_t i;

	for (i = 0; i < PF_ARRAY_SIZE(paths); i++)
		if (!strcmp(url, paths[i]))
			return true;
	return false;
}

static enum MHD_Result pfd_http_handle(void *cls, struct MHD_Connection *c, const char *url,
				       const char *method, const char *version,
				       const char *upload, size_t *upload_len, void **ctx)
{
	struct pfd_http_srv *s = cls;
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	bool admin_url = !strcmp(url, "/api/backend");
	struct pfd_http_req *r = *ctx;

	(void)version;
	if (admin_url && !strcmp(method, "POST")) {
		/* Called once with the headers, then with each piece of the
		 * body, then once more with none: the request is complete. */
		if (!r) {
			r = calloc(1, sizeof(*r));
			if (!r)
				return MHD_NO;
			*ctx = r;
			return MHD_YES;
		}
		if (*upload_len) {
			if (r->len + *upload_len > PF_ADMIN_BODY_MAX) {
				r->too_big = true;
			} else {
				memcpy(r->body + r->len, upload, *upload_len);
				r->len += *upload_len;
			}
			*upload_len = 0;
			return MHD_YES;
		}
		return pfd_http_admin(s, c, r);
	}
	if (admin_url)
		return pfd_http_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST",
				      "method not allowed: /api/backend takes POST");
	if (!pfd_http_known(url))
		return pfd_http_error(c, MHD_HTTP_NOT_FOUND, NULL,
				      "not found; expected /, /metrics, /api/status or POST "
				      "/api/backend");
	if (!get)
		return pfd_http_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET, HEAD",
				      "method not allowed: expected GET or HEAD");
	return pfd_http_get(s, c, url);
}

static void pfd_http_done(void *cls, struct MHD_Connection *c, void **ctx,
			  enum MHD_RequestTerminationCode why)
{
	(void)cls;
	(void)c;
	(void)why;
	free(*ctx);
	*ctx = NULL;
}

/* ---- the server in the loop ---- */

static void pfd_http_run(struct pfd_http_srv *s);

static void pfd_http_on_timer(void *arg)
{
	struct pfd_http_srv *s = arg;

	s->timer = 0; /* a one-shot: gone once fired */
	pfd_http_run(s);
}

static void pfd_http_run(struct pfd_http_srv *s)
{
	MHD_UNSIGNED_LONG_LONG ms;
	int64_t id;

	MHD_run(s->d);
	pfd_timer_del(s->timer);
	s->timer = 0;
	if (MHD_get_timeout(s->d, &ms) != MHD_YES)
		return;
	id = pfd_timer_add(ms, 0, pfd_http_on_timer, s);
	if (id > 0)
		s->timer = id;
}

static void pfd_http_on_ready(int fd, uint32_t events, void *arg)
{
	(void)fd;
	(void)events;
	pfd_http_run(arg);
}

static void pfd_http_free(struct pfd_http_srv *s)
{
	if (!s)
		return;
	if (s->efd >= 0)
		pfd_loop_del(s->efd);
	pfd_timer_del(s->timer);
	/* Closes the listening socket and every connection. */
	MHD_stop_daemon(s->d);
	free(s);
}

static int pfd_http_listen(const struct pf_status_conf *conf, char *err, size_t errlen)
{
	union pf_sa sa;
	int fd, one = 1;

	if (pf_sa_from_literal(conf->host, &sa)) {
		snprintf(err, errlen, "%s: status: '%s' is not an address", conf->where, conf->host);
		return -1;
	}
	pf_sa_set_port(&sa, conf->port);
	fd = pf_handover_take(PF_HO_HTTP, 0, false, "", &sa);
	if (fd >= 0)
		return fd; /* an upgrade handed it over, listening */
	fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* The new socket is bound while the old one still listens (a change
	 * that fails keeps the old): on the same port, 127.0.0.1 to 0.0.0.0,
	 * only a port shared by both is allowed. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (sa.sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, &sa.sa, pf_sa_len(&sa)) < 0 || listen(fd, 64) < 0)
		goto fail;
	return fd;
fail:
	{
		char a[PF_ADDRSTR_MAX];
		int e = errno;

		pf_sa_format(&sa, true, a, sizeof(a));
		snprintf(err, errlen, "%s: status: cannot listen on %s: %s%s", conf->where, a,
			 strerror(e),
			 e == EADDRNOTAVAIL ? " (expected an address of this host, such as "
					      "127.0.0.1)"
					    : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
}

static struct pfd_http_srv *pfd_http_start(const struct pf_status_conf *conf, char *err,
					   size_t errlen)
{
	struct pfd_http_srv *s;
	int fd = pfd_http_listen(conf, err, errlen);

	if (fd < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		snprintf(err, errlen, "%s: status: out of memory", conf->where);
		return NULL;
	}
	s->conf = *conf;
	s->efd = -1;
	s->lfd = fd;
	s->d = MHD_start_daemon(MHD_USE_EPOLL | (conf->host[0] && strchr(conf->host, ':')
							 ? MHD_USE_IPv6
							 : 0),
				0, NULL, NULL, pfd_http_handle, s, MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)PFD_HTTP_CONNS_MAX,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)PFD_HTTP_TIMEOUT_S,
				MHD_OPTION_NOTIFY_COMPLETED, pfd_http_done, NULL, MHD_OPTION_END);
	if (!s->d) {
		close(fd);
		free(s);
		snprintf(err, errlen, "%s: status: the HTTP server did not start", conf->where);
		return NULL;
	}
	return s;
}

int pfd_http_prepare(const struct pf_status_conf *cur, const struct pf_status_conf *next,
		     char *err, size_t errlen)
{
	pfd_http_pending = false;
	pfd_http_next = NULL;
	if (pf_status_conf_equal(cur, next))
		return 0;
	if (next->on && !(pfd_http_cur && cur->on && cur->port == next->port &&
			  !strcmp(cur->host, next->host))) {
		pfd_http_next = pfd_http_start(next, err, errlen);
		if (!pfd_http_next)
			return -1;
	}
	pfd_http_want = *next;
	pfd_http_pending = true;
	return 0;
}

void pfd_http_abort(void)
{
	pfd_http_free(pfd_http_next);
	pfd_http_next = NULL;
	pfd_http_pending = false;
}

void pfd_http_commit(void)
{
	const union MHD_DaemonInfo *di;
	struct pfd_http_srv *s = pfd_http_next;
	int e;

	if (!pfd_http_pending)
		return;
	pfd_http_pending = false;
	pfd_http_next = NULL;
	if (!pfd_http_want.on) {
		if (pfd_http_cur)
			pf_info("status: off");
		pfd_http_free(pfd_http_cur);
		pfd_http_cur = NULL;
		return;
	}
	if (!s) {
		/* The same socket: only 'admin' changed. */
		if (pfd_http_cur) {
			pfd_http_cur->conf = pfd_http_want;
			pf_info("status: admin %s", pfd_http_want.admin ? "from loopback" : "off");
		}
		return;
	}
	pfd_http_free(pfd_http_cur);
	pfd_http_cur = s;
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
	e = di ? pfd_loop_add(di->epoll_fd, EPOLLIN, pfd_http_on_ready, s) : -EINVAL;
	if (e) {
		pf_err("status: cannot watch the HTTP server: %s", strerror(-e));
		return;
	}
	s->efd = di->epoll_fd;
	pf_info("status: serving http://%s%s%s:%u/ (admin %s)", s->conf.bracketed ? "[" : "",
		s->conf.host, s->conf.bracketed ? "]" : "", (unsigned)s->conf.port,
		s->conf.admin ? "from loopback" : "off");
	pfd_http_run(s);
}

void pfd_http_stop(void)
{
	pfd_http_abort();
	pfd_http_free(pfd_http_cur);
	pfd_http_cur = NULL;
}

int pfd_http_fd(union pf_sa *sa)
{
	if (!pfd_http_cur || pf_sa_from_literal(pfd_http_cur->conf.host, sa))
		return -1;
	pf_sa_set_port(sa, pfd_http_cur->conf.port);
	return pfd_http_cur->lfd;
}
