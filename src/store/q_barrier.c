// SPDX-License-Identifier: Apache-2.0
/* The barrier's statements (see kh_store_barrier.h). */
#include "store/kh_store_barrier.h"

const struct kh_store_query kh_q_meta_get = {"meta.get", "SELECT value FROM meta WHERE name = ?"};
const struct kh_store_query kh_q_meta_put = {
    "meta.put", "INSERT INTO meta (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value"};
const struct kh_store_query kh_q_sealed_get = {"sealed.get",
                                               "SELECT blob FROM sealed WHERE scope = ?"};
const struct kh_store_query kh_q_sealed_put = {
    "sealed.put", "INSERT INTO sealed (scope, term, blob) VALUES (?, ?, ?)"
                  " ON CONFLICT (scope) DO UPDATE SET term = excluded.term, blob = excluded.blob"};
const struct kh_store_query kh_q_sealed_delete = {"sealed.delete",
                                                  "DELETE FROM sealed WHERE scope = ?"};
const struct kh_store_query kh_q_sealed_delete_prefix = {
    "sealed.delete_prefix", "DELETE FROM sealed WHERE substr(scope, 1, ?1) = ?2"};
const struct kh_store_query kh_q_sealed_older = {
    "sealed.older", "SELECT scope, term, blob FROM sealed WHERE term < ? ORDER BY scope LIMIT ?"};
const struct kh_store_query kh_q_sealed_count_older = {
    "sealed.count_older", "SELECT COUNT(*) FROM sealed WHERE term < ?"};
const struct kh_store_query kh_q_sealed_update = {
    "sealed.update", "UPDATE sealed SET term = ?2, blob = ?3 WHERE scope = ?1"};
