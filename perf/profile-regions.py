"""Shares of `perf script` samples by region: each sample counts for the first region (in this order) found anywhere on
its stack, so a region includes what it calls (a lane's mapping includes the HL7 reads and the GC it triggers).
Usage: python3 perf/profile-regions.py perf.txt"""
import collections
import re
import sys

REGIONS = [
    ("thread pool spinning (idle workers before they sleep)", r"LowLevelSpinWaiter"),
    ("thread pool waiting", r"LowLevelLifoSemaphore::Wait"),
    ("sink lanes: parse, map, minimise, serialise", r"PrepareAsync"),
    ("sink lanes: the rest", r"RunLane"),
    ("sink actor: commits, watermarks", r"Delivery\.SinkActor"),
    ("journal writes", r"DirectWriteJournal|JournalWriter"),
    ("ingest journal actor", r"Ingest\.IngestJournal"),
    ("listener connections", r"Pipeline\.Listening"),
    ("MLLP framing", r"StreamEngine\.Mllp"),
    ("dedupe index", r"Pipeline\.Index"),
    ("Akka.Streams (journal reads, framing stages)", r"Akka\.Streams"),
    ("Akka.Persistence", r"Akka\.Persistence"),
    ("Akka mailboxes", r"Akka\.Dispatch\.Mailbox"),
    ("sockets", r"System\.Net\.Sockets"),
    ("thread pool dispatch", r"ThreadPoolWorkQueue::Dispatch"),
    ("runtime (GC, allocation, JIT)", r"libcoreclr|libclrjit"),
]


def main(path):
    counts = collections.Counter()
    total = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        blocks = f.read().split("\n\n")
    for block in blocks:
        lines = [l.strip() for l in block.strip().split("\n") if l.strip()]
        if len(lines) < 2:
            continue
        total += 1
        stack = "\n".join(lines[1:])
        for name, pattern in REGIONS:
            if re.search(pattern, stack):
                counts[name] += 1
                break
        else:
            counts["kernel only (fsync, send, recv, futex: stacks perf cannot walk into .NET)"] += 1
    print(f"{total} samples")
    for name, n in counts.most_common():
        print(f"{100 * n / max(total, 1):5.1f}%  {name}")


if __name__ == "__main__":
    main(sys.argv[1])
