/* SPDX-License-Identifier: Apache-2.0 */
/* Statements of the barrier (barrier/): named values in meta and sealed secrets. */
#ifndef KH_STORE_BARRIER_H
#define KH_STORE_BARRIER_H

#include "store/kh_store.h"

/* name -> value */
extern const struct kh_store_query kh_q_meta_get;
/* name, value (insert or replace) */
extern const struct kh_store_query kh_q_meta_put;
/* scope -> blob */
extern const struct kh_store_query kh_q_sealed_get;
/* scope, term, blob (insert or replace) */
extern const struct kh_store_query kh_q_sealed_put;
/* scope */
extern const struct kh_store_query kh_q_sealed_delete;
/* length of prefix, prefix */
extern const struct kh_store_query kh_q_sealed_delete_prefix;
/* term, limit -> scope, term, blob of rows with term < ? */
extern const struct kh_store_query kh_q_sealed_older;
/* term -> count of rows with term < ? */
extern const struct kh_store_query kh_q_sealed_count_older;
/* scope, term, blob (update one row) */
extern const struct kh_store_query kh_q_sealed_update;

#endif
