/*
 * presealer.c - per-thread sealers and reused prepared entries for the
 * receivers' request threads (presealer.h).
 */
#include <stdlib.h>

#include "archiver/ingest/ingest.h"
#include "archiver/ingest/presealer.h"
#include "common/status.h"
#include "common/banned.h"

#define POOL_MAX 512u   /* prepared entries kept (~2 KiB each, plus a guarded page) */

static void sealer_free(void *s)
{
	cl_sealer_free(s);
}

int cl_presealer_init(struct cl_presealer *ps, const struct cl_ledger *l)
{
	ps->l = l;
	ps->n = 0;
	ps->pool = calloc(POOL_MAX, sizeof(struct cl_prepared *));
	if (ps->pool == NULL)
		return CL_ENOMEM;
	pthread_mutex_init(&ps->mu, NULL);
	ps->have_key = pthread_key_create(&ps->key, sealer_free) == 0;
	return CL_OK;
}

void cl_presealer_release(struct cl_presealer *ps)
{
	if (ps->pool == NULL)
		return;
	if (ps->have_key) {
		/* this thread's own sealer (a thread that never ended) */
		sealer_free(pthread_getspecific(ps->key));
		(void)pthread_setspecific(ps->key, NULL);
		pthread_key_delete(ps->key);
		ps->have_key = 0;
	}
	while (ps->n)
		cl_prepared_free(ps->pool[--ps->n]);
	free(ps->pool);
	ps->pool = NULL;
	pthread_mutex_destroy(&ps->mu);
}

/* This thread's sealer (made on first use), or NULL. */
static struct cl_sealer *thread_sealer(struct cl_presealer *ps)
{
	struct cl_sealer *s;

	if (!ps->have_key)
		return NULL;
	s = pthread_getspecific(ps->key);
	if (s == NULL && cl_sealer_new(ps->l, &s) == CL_OK &&
	    pthread_setspecific(ps->key, s) != 0) {
		cl_sealer_free(s);
		s = NULL;
	}
	return s;
}

void cl_presealer_put(struct cl_presealer *ps, struct cl_prepared *p)
{
	if (p == NULL)
		return;
	cl_prepared_wipe(p);
	pthread_mutex_lock(&ps->mu);
	if (ps->n < POOL_MAX) {
		ps->pool[ps->n++] = p;
		p = NULL;
	}
	pthread_mutex_unlock(&ps->mu);
	cl_prepared_free(p);
}

int cl_presealer_seal(struct cl_presealer *ps, const struct cl_record *rec,
		      struct cl_prepared **out)
{
	struct cl_sealer *s = thread_sealer(ps);
	struct cl_prepared *p = NULL;
	struct cl_entry_in in;
	char *e = NULL;

	*out = NULL;
	if (s == NULL)
		return CL_OK;
	pthread_mutex_lock(&ps->mu);
	if (ps->n)
		p = ps->pool[--ps->n];
	pthread_mutex_unlock(&ps->mu);
	if (p == NULL && cl_prepared_new(&p) != CL_OK)
		return CL_ENOMEM;
	cl_ingest_entry_from_record(&in, rec);
	if (cl_sealer_prepare(s, &in, p, &e) != CL_OK) {
		cl_presealer_put(ps, p);   /* the committer seals it */
		p = NULL;
	}
	free(e);
	*out = p;
	return CL_OK;
}
