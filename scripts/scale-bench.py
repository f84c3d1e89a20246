#!/usr/bin/env python3
"""Scale checks for `flagpost scan`: millions of posts generated from the corpus tweets,
streamed through a pipe (nothing is stored on disk), at 1x, 4x and 10x input; peak memory
(RSS) and throughput on all threads, and on one thread at the largest size. Fails when peak
memory grows with the input. Writes the "## Scale" section of BENCHMARKS.md when asked.

  python3 scripts/scale-bench.py --flagpost target/release/flagpost \
      --corpus ../shared/corpus --base 1000000 --json target/bench-scale.json \
      [--spark-json target/bench-spark.json --write BENCHMARKS.md]
"""

import argparse
import datetime
import glob
import gzip
import json
import os
import platform
import subprocess
import sys
import threading
import time


def load_corpus(corpus):
    paths = sorted(glob.glob(os.path.join(corpus, "ira-tweets-*.jsonl.gz")))
    if not paths:
        raise SystemExit("scale-bench: no corpus tweets in %s" % corpus)
    block = b"".join(gzip.open(p).read() for p in paths)
    if not block.endswith(b"\n"):
        block += b"\n"
    return block


def generate(block, n_posts, out):
    """Writes `n_posts` posts to `out`: the corpus again and again, each copy started at
    another tweet (so no two copies line up) and with ids of its own."""
    lines = block.count(b"\n")
    offsets = [0]
    at = block.find(b"\n")
    while at >= 0:
        offsets.append(at + 1)
        at = block.find(b"\n", at + 1)
    written, copy, size = 0, 0, 0
    try:
        while written < n_posts:
            cut = offsets[(copy * 7919) % lines]
            data = block[cut:] + block[:cut]
            data = data.replace(b'{"id": "', b'{"id": "g%d:' % copy)
            take = min(lines, n_posts - written)
            if take < lines:
                data = data[: offsets_in(data, take)]
            out.write(data)
            written += take
            size += len(data)
            copy += 1
    except BrokenPipeError:
        pass
    finally:
        try:
            out.close()
        except BrokenPipeError:
            pass
    return written, size


def offsets_in(data, k):
    """The byte offset just past the k-th line."""
    at = -1
    for _ in range(k):
        at = data.find(b"\n", at + 1)
    return at + 1


def run(flagpost, block, n_posts, threads):
    """Streams `n_posts` generated posts through `flagpost scan`; returns figures."""
    cmd = [flagpost, "scan"] + (["--threads", str(threads)] if threads else [])
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    counted = {"lines": 0, "bytes": 0, "flagged": 0}

    def read():
        rest = b""
        while True:
            data = proc.stdout.read1(1 << 20)
            if not data:
                break
            counted["lines"] += data.count(b"\n")
            counted["bytes"] += len(data)
            # '"flagged":true' is a key only (quotes inside strings are escaped); a match cut
            # in two by a read is caught by keeping the tail.
            joined = rest + data
            counted["flagged"] += joined.count(b'"flagged":true')
            rest = joined[-13:]  # shorter than the key: nothing is counted twice

    # Peak memory from /proc/PID/status (VmHWM: the high-water mark of this process's own
    # memory since exec). wait4's ru_maxrss would not do: it keeps the high-water mark of
    # the forked copy of this Python process from before the exec.
    peak = {"kib": 0}

    def watch():
        while proc.poll() is None:
            try:
                with open("/proc/%d/status" % proc.pid) as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            peak["kib"] = max(peak["kib"], int(line.split()[1]))
            except (OSError, ValueError):
                pass
            time.sleep(0.02)

    reader = threading.Thread(target=read)
    reader.start()
    watcher = threading.Thread(target=watch)
    watcher.start()
    sent = {}
    start = time.monotonic()
    cpu0 = time.process_time()
    writer = threading.Thread(target=lambda: sent.update(zip(("n", "bytes"), generate(block, n_posts, proc.stdin))))
    writer.start()
    writer.join()
    reader.join()  # standard output closed: the scan is done
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    watcher.join()
    if status != 0:
        raise SystemExit("scale-bench: flagpost scan failed (status %d)" % status)
    if counted["lines"] != n_posts or sent["n"] != n_posts:
        raise SystemExit("scale-bench: %d posts sent, %d verdicts back, %d wanted" % (sent["n"], counted["lines"], n_posts))
    return {
        "posts": n_posts,
        "threads": threads or os.cpu_count(),
        "seconds": round(seconds, 2),
        "posts_per_s": round(n_posts / seconds),
        "input_mb": round(sent["bytes"] / 1e6, 1),
        "mb_per_s": round(sent["bytes"] / seconds / 1e6, 1),
        "peak_rss_mib": round(peak["kib"] / 1024, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "generator_and_reader_cpu_s": round(time.process_time() - cpu0, 2),
        "flagged": counted["flagged"],
        "output_mb": round(counted["bytes"] / 1e6, 1),
    }


def section(scale, spark):
    date = datetime.date.today().isoformat()
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    rows = scale["runs"]
    base = rows[0]["peak_rss_mib"]
    out = [
        "## Scale",
        "",
        "Measured by `./build.sh bench` on %s, %d cores (%s), shipped pack. The machine is shared, "
        "so wall-clock figures move with other work on it (1-minute load average at the start and end "
        "of the scale runs: %s, on %d cores); CPU seconds move less." % (
            date, os.cpu_count(), cpu,
            " / ".join("%.1f" % x for x in scale.get("load_average", [])[::3]) or "not recorded", os.cpu_count()),
        "",
        "### `flagpost scan` on millions of posts",
        "",
        "`scripts/scale-bench.py` generates posts from the %s corpus tweets (each copy of the corpus starts at "
        "another tweet and has ids of its own) and pipes them into `flagpost scan`: nothing is stored on "
        "disk. Peak memory is the scan process's maximum resident set size (`VmHWM`, read every 20 ms); the verdicts are "
        "counted as they come out. Throughput counts the JSON Lines bytes read (the tweets with their `id`, "
        "`lang` and `date` fields)." % format(scale["corpus_posts"], ","),
        "",
        "| posts | input | threads | time | posts/s | MB/s | peak RSS | flagged |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        out.append("| %s (%s×) | %.0f MB | %d | %.1f s | %s | %.1f | %.1f MiB | %s |" % (
            format(r["posts"], ","), r["scale"], r["input_mb"], r["threads"], r["seconds"],
            format(r["posts_per_s"], ","), r["mb_per_s"], r["peak_rss_mib"], format(r["flagged"], ",")))
    top = max(r["peak_rss_mib"] for r in rows)
    out += [
        "",
        "Peak memory at 10× the input is %.2f× that at 1× (%.1f against %.1f MiB): constant in the input "
        "size (the check fails above 1.5×). The generator and the verdict counter run in the benchmark's "
        "own process on the same cores." % (top / base, top, base),
    ]
    many = [r for r in rows if r["threads"] > 1]
    single = [r for r in rows if r["threads"] == 1]
    if many and single and many[-1]["posts_per_s"] < 1.3 * single[-1]["posts_per_s"]:
        out += [
            "",
            "In this run more threads bought little (%.2f× one thread at 10×): the other work on the "
            "machine held the second core; the native section above shows how `scan` scales on a quieter "
            "run." % (many[-1]["posts_per_s"] / single[-1]["posts_per_s"]),
        ]
    if spark:
        one = spark["cli_1_thread"]
        out += [
            "",
            "### Spark local mode against the command line",
            "",
            "`scripts/spark/flagpost_spark.py bench`: the corpus tweets × %d (%s posts, %.0f MB of JSON Lines) in one "
            "plain file; the same work both ways: read the posts, scan them, write the verdicts to disk. The "
            "command line runs `flagpost scan --threads 1`; Spark runs `local[%d]`, each task piping its "
            "partition through a one-thread `flagpost scan`. Spark's start-up (%.0f s) and a warm-up job are "
            "not counted: medians of %d passes of each, alternating, in one Spark session. CPU seconds sum the "
            "JVM, the Python workers and the flagpost processes (from /proc). 1-minute load average at the "
            "start and end: %s." % (
                spark["repeat"],
                format(spark["posts"], ","), spark["bytes"] / 1e6, spark["cores"], spark["spark_start_s"],
                spark["runs"],
                " / ".join("%.1f" % x for x in spark.get("load_average", [])[::3]) or "not recorded"),
            "",
            "| run | partitions | time | MB/s | posts/s | CPU s | × one CLI thread (measured) | × one CLI thread, from CPU s on %d dedicated cores |" % spark["cores"],
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            "| `flagpost scan --threads 1` | | %.2f s | %.1f | %s | %.2f | 1.00 | 1.00 |" % (
                one["s"], one["mb_s"], format(one["posts_s"], ","), one["cpu_s"]),
        ]
        both = spark["cli_all_threads"]
        out.append("| `flagpost scan` (%d threads), for comparison | | %.2f s | %.1f | %s | | %.2f | |" % (
            spark["cores"], both["s"], both["mb_s"], format(round(spark["posts"] / both["s"]), ","),
            one["s"] / both["s"]))
        for io, what in (("direct", "tasks read their split of the file; flagpost writes the part files"),
                         ("spark", "Spark reads the lines and writes the verdicts")):
            r = spark["spark_" + io]
            out.append("| Spark `local[%d]`, `--io %s` (%s) | %d | %.2f s | %.1f | %s | %.2f | %.2f | %.2f |" % (
                spark["cores"], io, what, r["partitions"], r["s"], r["mb_s"], format(r["posts_s"], ","),
                r["cpu_s"], r["ratio"], r["ratio_from_cpu"]))
        out += [
            "",
            "Target: Spark with N cores ≥ 0.7 × N × one command-line thread = %.2f× here. The last column "
            "is N × (the command line's CPU seconds / Spark's CPU seconds): the speed N cores of their own "
            "would give, free of the other work on this shared machine; divided by N it is what one "
            "executor core gives against one command-line thread." % spark["target_ratio"],
            "",
        ]
        for io in ("direct", "spark"):
            r = spark["spark_" + io]
            met = r["ratio"] >= spark["target_ratio"] and r["ratio_from_cpu"] >= spark["target_ratio"]
            half = r["ratio"] >= spark["target_ratio"] or r["ratio_from_cpu"] >= spark["target_ratio"]
            out.append("- `--io %s`: %s (%.2f× measured, %.2f× from CPU seconds; one executor core = %.2f × "
                       "one command-line thread, %.0f MB/s or %s posts/s of these tweets)." % (
                           io, "target met" if met else ("target met on one measure" if half else "target not met"),
                           r["ratio"], r["ratio_from_cpu"], r["ratio_from_cpu"] / spark["cores"],
                           one["mb_s"] * r["ratio_from_cpu"] / spark["cores"],
                           format(round(one["posts_s"] * r["ratio_from_cpu"] / spark["cores"]), ",")))
    return "\n".join(out) + "\n"


def write_section(md_path, text):
    md = open(md_path, encoding="utf-8").read() if os.path.exists(md_path) else "# Benchmarks\n"
    start = md.find("## Scale")
    if start >= 0:
        nxt = md.find("\n## ", start + 1)
        md = md[:start] + text + (md[nxt + 1 :] if nxt >= 0 else "")
    else:
        md = md.rstrip("\n") + "\n\n" + text
    with open(md_path, "w", encoding="utf-8") as f:
        f.write(md)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--flagpost", default="target/release/flagpost")
    p.add_argument("--corpus", default="../shared/corpus")
    p.add_argument("--base", type=int, default=1_000_000, help="posts at 1x (default 1,000,000)")
    p.add_argument("--scales", default="1,4,10")
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--spark-json", help="figures of flagpost_spark.py bench, for the section")
    p.add_argument("--write", help="write the '## Scale' section into this Markdown file")
    a = p.parse_args()
    block = load_corpus(a.corpus)
    load_before = os.getloadavg()
    scales = [int(s) for s in a.scales.split(",")]
    runs = []
    for k in scales:
        r = run(os.path.abspath(a.flagpost), block, a.base * k, None)
        r["scale"] = k
        runs.append(r)
        print("%s posts (%dx), %d threads: %.1f s, %s posts/s, %.1f MB/s, peak RSS %.1f MiB, %d flagged"
              % (format(r["posts"], ","), k, r["threads"], r["seconds"], format(r["posts_per_s"], ","),
                 r["mb_per_s"], r["peak_rss_mib"], r["flagged"]), file=sys.stderr, flush=True)
    r = run(os.path.abspath(a.flagpost), block, a.base * scales[-1], 1)
    r["scale"] = scales[-1]
    runs.append(r)
    print("%s posts (%dx), 1 thread: %.1f s, %s posts/s, %.1f MB/s, peak RSS %.1f MiB"
          % (format(r["posts"], ","), scales[-1], r["seconds"], format(r["posts_per_s"], ","), r["mb_per_s"],
             r["peak_rss_mib"]), file=sys.stderr, flush=True)
    scale = {"corpus_posts": block.count(b"\n"), "runs": runs, "machine": platform.machine(),
             "load_average": [round(x, 1) for x in load_before + os.getloadavg()]}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(scale, f, indent=1)
    print(json.dumps(scale))
    if a.write:
        spark = None
        if a.spark_json and os.path.exists(a.spark_json):
            with open(a.spark_json) as f:
                spark = json.load(f)
            spark["corpus_posts"] = scale["corpus_posts"]
        write_section(a.write, section(scale, spark))
        print("scale figures written to %s" % a.write, file=sys.stderr)
    base, top = runs[0]["peak_rss_mib"], max(r["peak_rss_mib"] for r in runs)
    if top > 1.5 * base:
        print("scale-bench: peak memory grew with the input: %.1f MiB at 1x, %.1f MiB at most" % (base, top),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
