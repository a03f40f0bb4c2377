/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Encrypted backups that only the barrier that made them can open: a streaming container for a
 * whole store (a database snapshot) or, later, a key archive. The bytes go in encrypted per
 * chunk and come out chunk by chunk, so a backup of any size passes through bounded memory.
 *
 * File format (integers big-endian):
 *
 *   header  "KHBACKUP" | format (1, = 1) | kind (1) | created (8, Unix ns) | set id (8)
 *           | term (4) | nonce prefix (8, random) | keyring length (4) | keyring
 *           | wrapped data key (60: nonce 12 | AES-256-GCM(term key, data key 32) | tag 16)
 *   chunk*  last (1, 0 or 1) | length (4, <= KH_LIMIT_BACKUP_CHUNK_BYTES) | ciphertext | tag (16)
 *
 * - set id and term are the barrier's split and current root key term when the backup was
 *   made. keyring is the stored barrier.keyring value as it was (encrypted under the unseal
 *   key): with k shares an offline restore rebuilds the unseal key, opens this keyring and
 *   reaches the term key, without a running server or the original database.
 * - The data key is 32 random bytes, fresh per backup, wrapped under the term key with
 *   AD "keyhold/v1/backup-key" | every header byte before the wrapped key, so no header field
 *   can change without the unwrap failing.
 * - Chunks follow the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizar, "Online
 *   Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015): chunk i is
 *   AES-256-GCM under the data key with nonce = nonce prefix | i (4) and
 *   AD "keyhold/v1/backup-chunk" | SHA-256(header) | i (4) | last (1). Dropping, reordering or
 *   repeating chunks changes i, cutting the file after any chunk leaves no last chunk, appending
 *   after the last chunk is refused, and a chunk from another backup has another header hash:
 *   each of these fails as KH_ERR_DECRYPT. Chunks carry up to KH_LIMIT_BACKUP_CHUNK_BYTES;
 *   every chunk but the last is full, and the last may be empty.
 *
 * After a rekey the set id changes: older backups then open only with the shares they were made
 * under (offline), and a running server refuses them as another barrier's.
 */
#ifndef KH_BACKUP_H
#define KH_BACKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "barrier/kh_barrier.h"
#include "base/kh_buf.h"
#include "base/kh_rc.h"

enum kh_backup_kind {
	KH_BACKUP_STORE = 1,
	KH_BACKUP_ARCHIVE = 2,
};

struct kh_backup_writer;

/* Opens a new file at path (O_EXCL, mode 0600; KH_ERR_CONFLICT if it exists). Needs the barrier
 * unsealed. */
KH_MUST_CHECK kh_rc kh_backup_writer_open(struct kh_barrier *b, enum kh_backup_kind kind,
                                          const char *path, struct kh_backup_writer **out);
/* Any sizes; buffered in secure memory, encrypted per chunk. After a failure the writer only
 * aborts. */
KH_MUST_CHECK kh_rc kh_backup_write(struct kh_backup_writer *w, struct kh_slice data);
/* Final chunk, fsync, close; out_bytes/out_sha256 (may be NULL) describe the file written. The
 * writer is freed whatever the result; on failure the file is removed. */
KH_MUST_CHECK kh_rc kh_backup_writer_close(struct kh_backup_writer **w, uint64_t *out_bytes,
                                           uint8_t out_sha256[32]);
/* Closes and unlinks; NULL ok. */
void kh_backup_writer_abort(struct kh_backup_writer **w);

struct kh_backup_reader;

/* Online import on an unsealed barrier of the same set (set id in the header; another set ->
 * KH_ERR_FORBIDDEN with a clear log). KH_ERR_DECRYPT for a file that is not an intact backup. */
KH_MUST_CHECK kh_rc kh_backup_reader_open(struct kh_barrier *b, const char *path,
                                          struct kh_backup_reader **out,
                                          enum kh_backup_kind *out_kind);
/*
 * Offline import with the unseal key rebuilt from k shares (kh_shamir_combine), for restoring a
 * whole store into an empty data directory. KH_ERR_BAD_SHARE: malformed or too few shares;
 * KH_ERR_FORBIDDEN: shares of another split than the backup's; KH_ERR_DECRYPT: the shares do
 * not open the backup's keyring (forged), or the file is not an intact backup.
 */
KH_MUST_CHECK kh_rc kh_backup_reader_open_shares(const struct kh_slice *shares, size_t count,
                                                 const char *path, struct kh_backup_reader **out,
                                                 enum kh_backup_kind *out_kind);
/* Next decrypted chunk appended to a KH_BUF_SECURE buffer; *out_end at the authenticated end
 * (then further calls append nothing). Any tampering, truncation, reordering -> KH_ERR_DECRYPT,
 * and every later call fails the same way. */
KH_MUST_CHECK kh_rc kh_backup_read(struct kh_backup_reader *r, struct kh_buf *out, bool *out_end);
void kh_backup_reader_close(struct kh_backup_reader **r);

#endif
