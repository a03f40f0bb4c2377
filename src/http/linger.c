/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lingering close for refused TLS handshakes (see kh_http_tls.h). When a client certificate is
 * refused, the fatal alert is the last thing the server writes; but the client has usually sent
 * more after its certificate (the rest of its TLS 1.2 flight, its TLS 1.3 Finished and often its
 * first request). Closing a socket that still has unread bytes makes the kernel answer with a
 * TCP reset, and a reset can destroy the alert in the client's receive queue before it reads
 * it. So the write side is shut (FIN after the alert) and one thread per server reads and drops
 * whatever still comes until the client closes, a deadline passes or a byte budget is spent;
 * only then is the socket closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "http/kh_http_tls.h"

enum {
	/* Sockets drained at once: a refused client costs a slot for at most LINGER_MS, so this
	 * bounds what clients that never close can hold; past it a socket is closed at once (the
	 * client may then see a reset instead of the alert). */
	LINGER_MAX = 128,
	/* Long enough for a client on a slow link to read the alert and close. */
	LINGER_MS = 2000,
	/* Bytes read and dropped per socket before giving up on it. */
	LINGER_BYTES = 64 * 1024,
};

struct slot {
	int fd;
	size_t drained;
	struct timespec deadline;
};

struct kh_http_linger {
	pthread_t thread;
	pthread_mutex_t lock;
	int wake[2]; /* a pipe: a write wakes the thread */
	bool stop;
	struct slot slots[LINGER_MAX]; /* fd -1: free */
	/* The thread's own copy of the set, rebuilt each round. */
	struct pollfd polled[LINGER_MAX + 1];
};

static long ms_until(const struct timespec *t, const struct timespec *now)
{
	return (long)(t->tv_sec - now->tv_sec) * 1000 + (t->tv_nsec - now->tv_nsec) / 1000000;
}

/* Reads what is there; true when the socket is done with (EOF, error or over budget). */
static bool drain(struct slot *s)
{
	char sink[4096];

	for (;;) {
		ssize_t n = recv(s->fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n > 0) {
			s->drained += (size_t)n;
			if (s->drained > LINGER_BYTES)
				return true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
	}
}

/* Under the lock: closes finished and expired sockets, fills polled; the poll timeout. */
static int sweep(struct kh_http_linger *l, nfds_t *out_count)
{
	struct timespec now;
	long timeout = -1;
	nfds_t n = 1;

	clock_gettime(CLOCK_MONOTONIC, &now);
	l->polled[0] = (struct pollfd){.fd = l->wake[0], .events = POLLIN};
	for (size_t i = 0; i < LINGER_MAX; i++) {
		struct slot *s = &l->slots[i];
		long left;

		if (s->fd < 0)
			continue;
		left = ms_until(&s->deadline, &now);
		if (left <= 0 || drain(s)) {
			close(s->fd);
			s->fd = -1;
			continue;
		}
		l->polled[n++] = (struct pollfd){.fd = s->fd, .events = POLLIN | POLLRDHUP};
		if (timeout < 0 || left < timeout)
			timeout = left;
	}
	*out_count = n;
	return (int)timeout;
}

static void *run(void *arg)
{
	struct kh_http_linger *l = arg;

	pthread_mutex_lock(&l->lock);
	while (!l->stop) {
		nfds_t count;
		int timeout = sweep(l, &count);
		char buf[64];

		pthread_mutex_unlock(&l->lock);
		/* Only this thread changes polled; adds and stop come through the pipe. */
		if (poll(l->polled, count, timeout) > 0 && (l->polled[0].revents & POLLIN))
			while (read(l->wake[0], buf, sizeof(buf)) > 0)
				;
		pthread_mutex_lock(&l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

kh_rc kh_http_linger_new(struct kh_http_linger **out)
{
	struct kh_http_linger *l = kh_calloc(1, sizeof(*l));

	KH_ENSURE(l != NULL, KH_ERR_NOMEM);
	for (size_t i = 0; i < LINGER_MAX; i++)
		l->slots[i].fd = -1;
	if (pipe2(l->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		kh_free(&l);
		return KH_ERR_INTERNAL;
	}
	pthread_mutex_init(&l->lock, NULL);
	if (pthread_create(&l->thread, NULL, run, l) != 0) {
		pthread_mutex_destroy(&l->lock);
		close(l->wake[0]);
		close(l->wake[1]);
		kh_free(&l);
		return KH_ERR_INTERNAL;
	}
	*out = l;
	return KH_OK;
}

static void wake(struct kh_http_linger *l)
{
	ssize_t n;

	do
		n = write(l->wake[1], "", 1);
	while (n < 0 && errno == EINTR);
	/* EAGAIN: the pipe is full, so the thread is awake already. */
}

void kh_http_linger_add(struct kh_http_linger *l, int fd)
{
	struct slot *free_slot = NULL;

	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < LINGER_MAX && free_slot == NULL; i++)
		if (l->slots[i].fd < 0)
			free_slot = &l->slots[i];
	if (free_slot != NULL && !l->stop) {
		free_slot->fd = fd;
		free_slot->drained = 0;
		clock_gettime(CLOCK_MONOTONIC, &free_slot->deadline);
		free_slot->deadline.tv_sec += LINGER_MS / 1000;
		free_slot->deadline.tv_nsec += (long)(LINGER_MS % 1000) * 1000000L;
		if (free_slot->deadline.tv_nsec >= 1000000000L) {
			free_slot->deadline.tv_sec++;
			free_slot->deadline.tv_nsec -= 1000000000L;
		}
		fd = -1;
	}
	pthread_mutex_unlock(&l->lock);
	if (fd >= 0) {
		KH_LOG_WARN("too many refused TLS connections draining: closed at once",
		            KH_LF_NONE);
		close(fd);
		return;
	}
	wake(l);
}

void kh_http_linger_free(struct kh_http_linger **lp)
{
	struct kh_http_linger *l = *lp;

	if (l == NULL)
		return;
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	pthread_mutex_unlock(&l->lock);
	wake(l);
	pthread_join(l->thread, NULL);
	for (size_t i = 0; i < LINGER_MAX; i++)
		if (l->slots[i].fd >= 0)
			close(l->slots[i].fd);
	close(l->wake[0]);
	close(l->wake[1]);
	pthread_mutex_destroy(&l->lock);
	kh_free(lp);
}
