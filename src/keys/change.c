// SPDX-License-Identifier: Apache-2.0
/*
 * The shape of every change to keys: one write transaction that loads the key, checks who
 * asks, applies the change in a nested savepoint (so a refusal found half-way undoes what was
 * done), then appends the audit record of the outcome, allowed or refused, and notifies the
 * key's grantees of a successful change. The audit record commits with the change or with the
 * refusal; nothing is acknowledged without it.
 */
#include "keys/kh_keys_int.h"

static bool is_our_failure(kh_rc rc)
{
	enum kh_rc_class cls = kh_rc_class_of(rc);
	return cls == KH_CLASS_STORAGE || cls == KH_CLASS_NOMEM || cls == KH_CLASS_INTERNAL ||
	       cls == KH_CLASS_SEALED;
}

static kh_rc body_fn(struct kh_store_tx *tx, void *arg)
{
	struct kh_keys_change *c = arg;
	if (c->tag != NULL) {
		KH_ENSURE(c->p->kind == KH_PRINCIPAL_ACCOUNT, KH_ERR_FORBIDDEN);
		KH_GUARD(kh_keys_load(tx, c->p->keystore_id, c->tag, &c->key));
		c->have_key = true;
		KH_GUARD(kh_keys_authorize(tx, c->p, &c->key, c->op));
	}
	KH_GUARD(c->apply(c, tx));
	if (c->have_key && !c->gone)
		KH_GUARD(kh_keys_load_id(tx, c->key.id, &c->key));
	return KH_OK;
}

static kh_rc change_fn(struct kh_store_tx *tx, void *arg)
{
	struct kh_keys_change *c = arg;
	c->have_key = false;
	c->gone = false;
	c->event = NULL;
	c->detail[0] = '\0';
	c->now = kh_clock_now(c->k->clock);
	kh_rc rc = kh_store_tx_try(tx, body_fn, c);
	if (is_our_failure(rc))
		return rc;
	c->outcome = rc;
	/* Only keys of the caller's own key store are ever loaded, so naming the key in the
	 * record of a refused attempt tells that store's managers, and nobody else, about it. */
	const struct kh_key_info *key = c->have_key ? &c->key : NULL;
	KH_GUARD(kh_keys_audit_in(c->k, tx, c->p, c->op, c->keystore_id, key, c->version, rc,
	                          c->detail));
	if (rc == KH_OK && c->event != NULL && c->have_key)
		KH_GUARD(kh_keys_notify_grantees(c->k, tx, &c->key, c->event, c->detail));
	return KH_OK;
}

kh_rc kh_keys_change_run(struct kh_keys_change *c)
{
	KH_ENSURE(c->p != NULL && c->apply != NULL, KH_ERR_INTERNAL);
	KH_GUARD(kh_store_write(c->k->store, change_fn, c));
	return c->outcome;
}
