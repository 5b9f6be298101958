/* fuzz.h — what the libFuzzer targets of tests/fuzz share: the entry point every target
 * defines, a scratch directory per process, and "resealing" (rewriting the checksums of a log
 * or a table so that mutated bytes reach the decoders behind the checksums, as the fuzzers of
 * LevelDB's and RocksDB's forks do with a checksum-free build). */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* The libFuzzer entry point: one input, borrowed for the call; always returns 0. A crash,
 * sanitizer report, leak or hang is the failure (and so is a broken round trip, which the
 * targets turn into a trap). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Traps (a crash libFuzzer reports with the input) when cond is false: for properties that
 * hold for every input, such as a round trip through an encoder and its decoder. */
#define FUZZ_CHECK(cond) ((cond) ? (void)0 : __builtin_trap())

/* A directory of this process under $TMPDIR (or /tmp), empty on each return; removed at exit.
 * NULL when it cannot be made (the target then skips the input). */
const char *fuzz_dir(void);
/* Writes n bytes to dir/name; 0 or -1. */
int fuzz_write(const char *dir, const char *name, const void *p, size_t n);

/* Rewrites, in place, the checksum of every complete fragment of a log file (engine/log.h:
 * 32 KiB blocks of 7-byte-header fragments). */
void fuzz_reseal_log(uint8_t *p, size_t n);
/* Whether byte off of a log of n bytes (written by the log writer) lies in no fragment: in the
 * zero padding at the end of a 32 KiB block, where a flipped bit changes no record. */
int fuzz_log_in_padding(const uint8_t *p, size_t n, size_t off);

/* Walks a table file (sst/format.h): footer, filter, properties and index blocks, and the data
 * blocks the index names. reseal rewrites the footer's and each block's checksum in place
 * first. visit (may be NULL) gets each block's uncompressed contents with its kind: 'd' data,
 * 'i' index, 'f' filter, 'p' properties. Returns the footer's file number, or 0 when the
 * footer does not decode. */
uint64_t fuzz_table_walk(uint8_t *p, size_t n, int reseal,
                         void (*visit)(void *ctx, int kind, const uint8_t *b, size_t len),
                         void *ctx);

/* Splits an input into pieces, each prefixed by a 2-byte little-endian length (cut short by
 * the end of the input): the records of the structured modes. Returns 1 with the next piece
 * in *piece / *len, 0 at the end. */
int fuzz_next_piece(const uint8_t **data, size_t *size, const uint8_t **piece, size_t *len);

#endif
