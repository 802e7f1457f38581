/*
 * The currentEpoch and acceptedEpoch files of a quorum member, as ZooKeeper
 * 3.8 keeps them in dataDir/version-2: the epoch in ASCII decimal with no
 * newline, replaced atomically (written to NAME.tmp, fsync'ed, renamed over
 * NAME, the directory fsync'ed).
 */
#ifndef ZKPLUG_EPOCH_H
#define ZKPLUG_EPOCH_H

#include <stddef.h>
#include <stdint.h>

#define EPOCH_CURRENT "currentEpoch"
#define EPOCH_ACCEPTED "acceptedEpoch"

/* Read DIR/NAME. 0 and *out; 1 when the file does not exist; -EBADMSG
 * ("DIR/NAME: not an epoch: '...'") when its content is not a non-negative
 * decimal number (surrounding white space tolerated); other negative errno
 * on I/O errors. err names the file and the problem. */
int epoch_read(const char *dir, const char *name, int64_t *out, char *err, size_t errlen);

/* Write DIR/NAME atomically (creating DIR if missing). 0 or a negative
 * errno with err naming the file and the failing step. */
int epoch_write(const char *dir, const char *name, int64_t value, char *err, size_t errlen);

/* ZooKeeper's QuorumPeer.loadDataBase, epoch part, for a database restored
 * up to last_zxid: a missing file is created with the zxid's epoch; a
 * currentEpoch older than the zxid's is taken from a leftover
 * currentEpoch.tmp, or is an error ("The current epoch, N, is older than the
 * last zxid, 0x..."); an acceptedEpoch below the current one is an error. */
int epoch_load(const char *dir, int64_t last_zxid, int64_t *current, int64_t *accepted, char *err, size_t errlen);

/* Replace path with data atomically and durably (path.tmp written and
 * fsync'ed, renamed over path, the directory fsync'ed): how the epoch files
 * and the dynamic config files are written. 0, or a negative errno with err
 * naming the file and the failing step. */
int atomic_write_file(const char *path, const void *data, size_t len, char *err, size_t errlen);

#endif
