// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for the control socket's framing: a message is every
 * byte up to the writer's end (shutdown), read by pf_buf_read_fd, the way
 * the daemon reads a request (non-blocking, a cap, as the bytes come:
 * pfd_ctl.c) and the client reads the reply (blocking, the default cap:
 * pfc_ctl.c). What fuzz_request does with the text is not repeated here.
 *
 * Input: a byte for the cap (0: the default; else that many bytes, so the
 * cap is reached), a byte for the size of the pieces the writer sends, then
 * the message. Properties:
 *
 *  - before the end, a read gives -EAGAIN (nothing more yet) or -E2BIG
 *    (past the cap), never 0, and -EAGAIN leaves no error behind;
 *  - at the end, a message within the cap is read whole: the same bytes,
 *    NUL-terminated, its length; one past the cap is -E2BIG, with no more
 *    than the cap kept, and those bytes are the message's first;
 *  - read blocking, in one go, the result is the same.
 */
#include "common/pf_buf.h"
#include "fuzz_check.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void check_result(const struct pf_buf *b, int rc, const uint8_t *msg, size_t len,
			 size_t max)
{
	if (len <= max) {
		CHECK(rc == 0, "a message of %zu bytes within a cap of %zu: %d", len, max, rc);
		CHECK(b->len == len, "read %zu bytes of %zu", b->len, len);
		CHECK(!len || (b->s && !memcmp(b->s, msg, len)), "other bytes read");
		CHECK(!b->s || b->s[b->len] == '\0', "not NUL-terminated");
	} else {
		CHECK(rc == -E2BIG, "a message of %zu bytes past a cap of %zu: %d", len, max, rc);
		CHECK(b->len <= max, "kept %zu bytes past the cap %zu", b->len, max);
		CHECK(!b->len || !memcmp(b->s, msg, b->len), "other bytes kept");
	}
}

/* Writes the whole of p (a few KiB at most: the socket buffer holds it). */
static void put(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		CHECK(w > 0, "write to the socket pair: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pf_buf b, one;
	size_t max, piece, off = 0;
	const uint8_t *msg;
	int sv[2], rc = -EAGAIN;

	if (size < 2)
		return 0;
	max = data[0];
	piece = (size_t)data[1] + 1;
	msg = data + 2;
	size -= 2;
	b = (struct pf_buf)PF_BUF_INIT(max);

	/* The daemon: non-blocking, a read each time bytes come. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %s",
	      strerror(errno));
	CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK");
	while (off < size) {
		size_t n = size - off < piece ? size - off : piece;

		put(sv[1], msg + off, n);
		off += n;
		rc = pf_buf_read_fd(&b, sv[0]);
		CHECK(rc == -EAGAIN || rc == -E2BIG, "before the end: %d", rc);
		if (rc == -EAGAIN)
			CHECK(b.err == 0, "-EAGAIN left an error: %d", b.err);
		if (rc == -E2BIG)
			break;
	}
	shutdown(sv[1], SHUT_WR);
	if (rc != -E2BIG)
		rc = pf_buf_read_fd(&b, sv[0]);
	CHECK(rc != -EAGAIN, "-EAGAIN after the end");
	check_result(&b, rc, msg, size, max ? max : PF_BUF_MAX_DEFAULT);
	close(sv[0]);
	close(sv[1]);
	pf_buf_free(&b);

	/* The client: blocking, the whole message there, read in one call. */
	one = (struct pf_buf)PF_BUF_INIT(max);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %s",
	      strerror(errno));
	put(sv[1], msg, size);
	shutdown(sv[1], SHUT_WR);
	rc = pf_buf_read_fd(&one, sv[0]);
	check_result(&one, rc, msg, size, max ? max : PF_BUF_MAX_DEFAULT);
	close(sv[0]);
	close(sv[1]);
	pf_buf_free(&one);
	return 0;
}
