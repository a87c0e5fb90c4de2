// SPDX-License-Identifier: MIT
/*
 * pvio-backd: messages between the region server and an engine; see
 * chan.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "chan.h"

/**
 * backd_chan_bound_sends() - bound every send on a channel end.
 * @sock: the channel end
 *
 * A send the other side does not take within BACKD_CHAN_SEND_TIMEOUT_MS
 * fails with -EAGAIN (backd_chan_send()).
 *
 * Context: process.
 * Return: 0, or -1 with errno set.
 */
int backd_chan_bound_sends(int sock)
{
	struct timeval tv = {
		.tv_sec = BACKD_CHAN_SEND_TIMEOUT_MS / 1000,
		.tv_usec = (BACKD_CHAN_SEND_TIMEOUT_MS % 1000) * 1000,
	};

	return setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/**
 * backd_chan_send() - send one message with @nfds descriptors.
 * @sock: the channel
 * @m: message
 * @fds: descriptors to pass (duplicated into the receiver), may be NULL
 * @nfds: how many, at most BACKD_CHAN_MAX_FDS
 *
 * Context: process; the channel is blocking, messages are small; a send
 * timeout on it (SO_SNDTIMEO) bounds the wait for a receiver that stopped
 * reading.
 * Return: 0 or a negative errno (-EPIPE when the other side is gone,
 * -EAGAIN when the send timeout ran out).
 */
int backd_chan_send(int sock, const struct backd_msg *m, const int *fds,
		    unsigned int nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * BACKD_CHAN_MAX_FDS)];
	} u;
	struct iovec iov = { .iov_base = (void *)m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > BACKD_CHAN_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(*m) ? 0 : -EIO;
}

/**
 * backd_chan_recv() - receive one message and its descriptors.
 * @sock: the channel
 * @m: message out
 * @fds: descriptors out (the caller owns them)
 * @max_fds: room in @fds
 * @nfds: how many arrived
 *
 * Context: process.
 * Return: 0; -EPIPE at end of file (the other side is gone); -EPROTO for
 * a short message or descriptors that did not fit (those are closed);
 * -EAGAIN on a non-blocking channel with nothing to read; other errnos.
 */
int backd_chan_recv(int sock, struct backd_msg *m, int *fds,
		    unsigned int max_fds, unsigned int *nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * BACKD_CHAN_MAX_FDS)];
	} u;
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	unsigned int i, got = 0;
	bool bad = false;
	ssize_t n;

	*nfds = 0;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		unsigned int k;
		int *in;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (unsigned int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		in = (int *)CMSG_DATA(c);
		for (i = 0; i < k; i++) {
			if (got < max_fds) {
				fds[got++] = in[i];
			} else {
				close(in[i]);
				bad = true;
			}
		}
	}
	*nfds = got;
	if (bad || (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) ||
	    n != (ssize_t)sizeof(*m)) {
		for (i = 0; i < got; i++)
			close(fds[i]);
		*nfds = 0;
		return -EPROTO;
	}
	return 0;
}
