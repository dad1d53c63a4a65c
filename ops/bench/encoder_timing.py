"""The measurements every Python side of ops/bench/encoder makes, so that the engines are timed
the same way: throughput at batch 32 and 64 in data order and length-sorted (median of
BENCH_REPEATS passes), batch-1 latency over the first BENCH_LATENCY_COUNT texts, peak RSS."""
import os, resource, statistics, time

REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
LATENCY_COUNT = int(os.environ.get("BENCH_LATENCY_COUNT", "1000"))


def measure(embed, texts, token_count):
    """`embed(list of texts)` runs one batch (tokenisation included); `token_count(text)` orders
    the length-sorted passes. Returns the JSON fields the report reads."""
    def run(order, size):
        t0 = time.perf_counter()
        for i in range(0, len(order), size):
            embed(order[i:i + size])
        return time.perf_counter() - t0

    embed(texts[:256])  # warm-up
    throughput, sorted_throughput = {}, {}
    by_length = sorted(texts, key=token_count)
    for size in (32, 64):
        secs = statistics.median(run(texts, size) for _ in range(REPEATS))
        throughput[str(size)] = {"utterances_per_s": len(texts) / secs, "seconds": secs}
        secs = statistics.median(run(by_length, size) for _ in range(REPEATS))
        sorted_throughput[str(size)] = {"utterances_per_s": len(texts) / secs, "seconds": secs}
    lat = []
    for t in texts[:LATENCY_COUNT]:
        t0 = time.perf_counter()
        embed([t])
        lat.append((time.perf_counter() - t0) * 1000)
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]
    return {
        "utterances": len(texts), "throughput": throughput, "throughput_length_sorted": sorted_throughput,
        "latency_ms": {"p50": q(50), "p90": q(90), "p99": q(99), "count": len(lat)},
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
