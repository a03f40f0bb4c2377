/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bounded worker pool that runs handlers off the network threads: a fixed number of
 * pthreads and a fixed ring of waiting jobs. Network threads never block here: they reserve a
 * slot (or get "full" at once and answer 503), suspend the connection, then push the job, so a
 * worker can never resume a connection that is not suspended yet.
 */
#include <pthread.h>
#include <stdbool.h>

#include "base/kh_mem.h"
#include "http/kh_http_int.h"

struct kh_http_pool {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	kh_http_job_fn fn;
	void **ring;
	unsigned cap;
	unsigned head;     /* next job to run */
	unsigned count;    /* jobs in the ring */
	unsigned reserved; /* slots promised to callers that have not pushed yet */
	bool closing;
	bool joined;
	pthread_t *threads;
	unsigned thread_count;
};

static void *worker_main(void *arg)
{
	struct kh_http_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		void *job;

		while (p->count == 0 && !(p->closing && p->reserved == 0))
			pthread_cond_wait(&p->wake, &p->lock);
		if (p->count == 0)
			break; /* closing, nothing queued or promised */
		job = p->ring[p->head];
		p->head = (p->head + 1) % p->cap;
		p->count--;
		pthread_mutex_unlock(&p->lock);
		p->fn(job);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void join_all(struct kh_http_pool *p)
{
	for (unsigned i = 0; i < p->thread_count; i++)
		pthread_join(p->threads[i], NULL);
	p->thread_count = 0;
}

kh_rc kh_http_pool_new(unsigned workers, unsigned queue, kh_http_job_fn fn,
                       struct kh_http_pool **out)
{
	struct kh_http_pool *p;
	kh_rc rc = KH_OK;

	KH_ENSURE(workers > 0 && queue > 0 && fn != NULL, KH_ERR_BAD_INPUT);
	p = kh_calloc(1, sizeof(*p));
	KH_ENSURE(p != NULL, KH_ERR_NOMEM);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	p->fn = fn;
	p->cap = queue;
	p->ring = kh_calloc(queue, sizeof(*p->ring));
	p->threads = kh_calloc(workers, sizeof(*p->threads));
	KH_ENSURE_OUT(p->ring != NULL && p->threads != NULL, KH_ERR_NOMEM);
	for (unsigned i = 0; i < workers; i++) {
		KH_ENSURE_OUT(pthread_create(&p->threads[i], NULL, worker_main, p) == 0,
		              KH_ERR_INTERNAL);
		p->thread_count++;
	}
	*out = p;
	p = NULL;
out:
	kh_http_pool_free(&p);
	return rc;
}

bool kh_http_pool_reserve(struct kh_http_pool *p)
{
	bool ok;

	pthread_mutex_lock(&p->lock);
	ok = !p->closing && p->count + p->reserved < p->cap;
	if (ok)
		p->reserved++;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

void kh_http_pool_push(struct kh_http_pool *p, void *job)
{
	pthread_mutex_lock(&p->lock);
	/* Programmer invariant: push only after a successful reserve, which kept a slot free. */
	if (p->reserved == 0 || p->count >= p->cap)
		__builtin_trap();
	p->reserved--;
	p->ring[(p->head + p->count) % p->cap] = job;
	p->count++;
	/* While draining, idle workers wait only for promised jobs: wake them all so the ones
	 * with nothing left to do can leave. */
	if (p->closing)
		pthread_cond_broadcast(&p->wake);
	else
		pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

void kh_http_pool_drain(struct kh_http_pool *p)
{
	bool join;

	pthread_mutex_lock(&p->lock);
	p->closing = true;
	join = !p->joined;
	p->joined = true;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	if (join)
		join_all(p);
}

void kh_http_pool_free(struct kh_http_pool **pp)
{
	struct kh_http_pool *p = *pp;

	if (p == NULL)
		return;
	kh_http_pool_drain(p);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	kh_free(&p->ring);
	kh_free(&p->threads);
	kh_free(pp);
}
