#!/usr/bin/env python3
"""checks.py — proves the stress tool's checks fail when the database loses what they guard:
each case runs tools/stress, damages the database behind its back through kvctl (a lost
write, a deleted key come back, wrong value bytes, a loss that is not a suffix), or cuts the
power with fsync disabled, and expects `stress --verify_only` to exit 1 naming the problem.

Usage: checks.py STRESS KVCTL (meson passes the built programs)."""
import os
import struct
import subprocess
import sys
import tempfile

STRESS, KVCTL = sys.argv[1], sys.argv[2]
M64 = (1 << 64) - 1
KEYS = 500
VALUE_SIZE_MAX = 256  # the tool's default
# Offsets of the expected-state file (tools/stress.c, struct es_header and es_layout).
HEADER = struct.Struct("<8sIIQQQ")
ENTRY = struct.Struct("<QIIII")


def mix(h):
    """hash_mix64 of util/hash.h."""
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & M64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & M64
    return h ^ (h >> 33)


def key_of(k):
    """key_make of tools/stress.c: ten digits and 0..11 letters derived from k."""
    h = mix(k ^ 0x6B6579)
    return b"%010d" % k + bytes(ord("a") + (h >> (8 + 4 * i)) % 26 for i in range(h % 12))


def value_of(k, state):
    """value_make of tools/stress.c: key number, state, then bytes derived from both."""
    h = mix((k << 32) | state)
    cap = VALUE_SIZE_MAX * 16 if h % 64 == 0 else VALUE_SIZE_MAX
    out = bytearray(struct.pack("<II", k, state))
    x = h
    for i in range((h >> 8) % (cap + 1)):
        if i % 8 == 0:
            x = mix((x + i) & M64)
        out.append((x >> (8 * (i % 8))) & 0xFF)
    return bytes(out)


def align(n):
    return (n + 63) & ~63


class State:
    """The expected-state file: per key (acknowledged, pending) states, and the journal."""

    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        magic, nkeys, _clean, _cap, jlen, _jops = HEADER.unpack_from(data, 0)
        assert magic == b"LMSTRES1", magic
        words = align(HEADER.size)
        high = align(words + 8 * nkeys)
        batches = align(high + 4 * nkeys)
        journal = align(batches + 64 * (4 + 3 * 4 * 16))
        self.cur, self.pend = [], []
        for k in range(nkeys):
            (w,) = struct.unpack_from("<Q", data, words + 8 * k)
            self.cur.append(w & 0xFFFFFFFF)
            self.pend.append(w >> 32)
        self.journal = [ENTRY.unpack_from(data, journal + ENTRY.size * i)[:4] for i in range(jlen)]


def run(args, expect=None):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if expect is not None and p.returncode != expect:
        sys.exit(f"FAIL: {' '.join(args)} exited {p.returncode}, expected {expect}:\n{p.stdout}")
    return p


def kv_set(db, k, state):
    """Makes key k hold `state` (absent: deleted) through kvctl, behind the tool's back."""
    if state & 1:
        run([KVCTL, f"--db={db}", "--hex", "put", key_of(k).hex(), value_of(k, state).hex()], 0)
    else:
        run([KVCTL, f"--db={db}", "--hex", "del", key_of(k).hex()], 0)


def expect_caught(db, what, needle):
    p = run([STRESS, f"--db={db}", "--verify_only"])
    if p.returncode != 1 or needle not in p.stdout:
        sys.exit(f"FAIL: {what}: verify exited {p.returncode} without '{needle}':\n{p.stdout}")
    print(f"ok: {what}: caught ({needle})")


def fresh(tmp, name, *flags):
    db = os.path.join(tmp, name)
    run([STRESS, f"--db={db}", f"--keys={KEYS}", "--write_buffer_size=64k", "--seed=11", *flags],
        0)
    run([STRESS, f"--db={db}", "--verify_only"], 0)  # the untouched database passes
    return db, State(db + ".state")


def main():
    with tempfile.TemporaryDirectory(prefix="lamina-stress-checks.") as tmp:
        # An acknowledged write lost.
        db, st = fresh(tmp, "lost", "--threads=2", "--ops=400")
        k = next(k for k in range(KEYS) if st.cur[k] & 1)
        kv_set(db, k, 0)
        expect_caught(db, "an acknowledged write lost", f"key {k} reads absent")

        # A deleted key comes back with an older write's value (well-formed bytes).
        db, st = fresh(tmp, "back", "--threads=2", "--ops=400", "--delete_weight=60")
        k = next(k for k in range(KEYS) if st.cur[k] and not st.cur[k] & 1 and st.cur[k] >> 1 > 1)
        old = ((st.cur[k] >> 1) - 1) << 1 | 1
        kv_set(db, k, old)
        expect_caught(db, "a deleted key came back", f"key {k} reads write #{old >> 1}")

        # A value whose bytes differ from what its write stored.
        db, st = fresh(tmp, "bytes", "--threads=2", "--ops=400")
        k = next(k for k in range(KEYS) if st.cur[k] & 1)
        v = bytearray(value_of(k, st.cur[k]))
        v[-1 if len(v) > 8 else 0] ^= 0x40
        run([KVCTL, f"--db={db}", "--hex", "put", key_of(k).hex(), bytes(v).hex()], 0)
        expect_caught(db, "wrong value bytes", "are not any write's")

        # A loss that is not a suffix: after a power cut with only unsynced puts in the journal,
        # the first one is undone and the last one (of another key) is made to be there.
        db = os.path.join(tmp, "prefix")
        run([STRESS, f"--db={db}", f"--keys={KEYS}", "--write_buffer_size=64k", "--seed=12",
             "--threads=1", "--sync_every=0", "--journal_cap=1000000", "--delete_weight=0",
             "--batch_weight=0", "--power_loss_after_ms=200"], 0)
        st = State(db + ".state")
        if len(st.journal) < 2:
            sys.exit("FAIL: the power-loss run journaled fewer than two writes")
        _, a, a_old, _ = st.journal[0]
        _, b, _, b_new = next(e for e in reversed(st.journal) if e[1] != a)
        kv_set(db, a, a_old)
        kv_set(db, b, b_new)
        expect_caught(db, "a loss that is not a suffix of the unsynced writes", "no prefix")

        # fsync that does nothing: a power cut loses synced writes (or the database).
        db = os.path.join(tmp, "nosync")
        run([STRESS, f"--db={db}", f"--keys={KEYS}", "--write_buffer_size=64k", "--seed=13",
             "--threads=2", "--sync_every=4", "--fault_disable_sync",
             "--power_loss_after_ms=300"], 0)
        p = run([STRESS, f"--db={db}", "--verify_only"])
        if p.returncode != 1:
            sys.exit(f"FAIL: with fsync disabled the power cut went unnoticed:\n{p.stdout}")
        print("ok: power cut with fsync disabled: caught")


if __name__ == "__main__":
    main()
