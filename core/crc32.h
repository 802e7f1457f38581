/*
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum
 * ZooKeeper's tree digest uses (java.util.zip.CRC32). Same contract as zlib's
 * crc32(): start from 0, pass the previous result to continue, so
 * crc32_update(crc32_update(0, a), b) is the CRC of a followed by b.
 *
 * Slicing-by-8 tables: the digest hashes short buffers (a path, 100 bytes of
 * data, a 60-byte stat block) several times per write, where zlib's per-call
 * setup costs more than the bytes.
 */
#ifndef ZKPLUG_CRC32_H
#define ZKPLUG_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32_update(uint32_t crc, const void *data, size_t len);

#endif
