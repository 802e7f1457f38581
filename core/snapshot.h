/*
 * Snapshots in ZooKeeper 3.8's format (the logical, uncompressed stream; the
 * storage plugin compresses and writes it):
 *
 *   FileHeader   int magic 0x5a4b534e "ZKSN", int version 2, long dbid -1
 *   sessions     int count, then {long id, int timeout} per session
 *   ACL cache    int count, then {long id, vector<ACL>} per entry
 *   nodes        pre-order from the root: ustring path ("" for the root),
 *                buffer data, long acl id (-1 = built-in OPEN_ACL_UNSAFE),
 *                StatPersisted (czxid, mzxid, ctime, mtime, version,
 *                cversion, aversion, ephemeralOwner, pzxid)
 *   "/"          end of nodes
 *   long         Adler-32 of everything above, then "/"
 *   digest       long zxid, int version 2, long tree digest (when digests
 *                are enabled)
 *   long         Adler-32 of everything above (cumulative), then "/"
 *
 * snapshot_write serialises the live tree and sessions; snapshot_load
 * replaces them from a stream after checking its structure and checksums.
 */
#ifndef ZKPLUG_SNAPSHOT_H
#define ZKPLUG_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "jute.h"

struct server;

#define SNAPSHOT_MAGIC 0x5a4b534e

/* Receives the stream in pieces; returns 0 or a negative errno to abort. */
typedef int (*snapshot_flush_fn)(void *arg, const uint8_t *data, size_t len);

/* Produce the whole snapshot stream for the current state, handing it to
 * flush in pieces of about 1 MiB (memory stays bounded for any tree size). */
int snapshot_stream(struct server *srv, snapshot_flush_fn flush, void *arg);

/* The same, appended to w in one piece (tests, small trees). */
int snapshot_write(struct server *srv, jute_writer *w);

/* Load a snapshot stream taken at zxid into srv (tree and sessions replaced).
 * Returns 0, or -EBADMSG with err naming what is wrong and at which offset
 * (the server state is then unchanged). */
int snapshot_load(struct server *srv, int64_t zxid, const uint8_t *data, size_t len, char *err, size_t errlen);


/* The database stream a leader sends a learner after SNAP (see zab.h): the
 * same sessions, ACL cache and nodes with no FileHeader, no checksums and no
 * digest, ended by the ustring "BenWasHere". */
int snapshot_stream_learner(struct server *srv, snapshot_flush_fn flush, void *arg);
/* Load such a stream (exactly len bytes, signature included) as of zxid;
 * like snapshot_load, the server state is unchanged on error. The tree
 * digest is recomputed from the nodes (the stream carries none). */
int snapshot_load_learner(struct server *srv, int64_t zxid, const uint8_t *data, size_t len, char *err,
                          size_t errlen);
#endif
