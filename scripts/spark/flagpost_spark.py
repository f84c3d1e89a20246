#!/usr/bin/env python3
"""Run the unchanged `flagpost` command line inside Apache Spark.

The binary and the packs are shipped to the executors (SparkContext.addFile, or
spark-submit --files); each partition of JSON Lines is piped through one `flagpost scan`
process, so every executor core runs the same engine, on the same input, as the command
line does. Verdicts come out in input order (partition by partition, line by line) as JSON
Lines, and optionally Parquet, with a summary: posts, flagged, error lines and per-rule
counts.

Modes:
  scan     verdicts for large corpora, and the summary
  compare  `flagpost compare OLD NEW` on each partition, merged: which posts a pack change
           starts and stops flagging, per-rule hits before and after, gates for CI
  check    scan (and compare) in Spark and with the command line on the same input, and
           fail unless the verdicts are identical (what `./build.sh spark` runs)
  bench    Spark throughput against the single-thread command line, side by side

Run it with plain `python3` (local mode, --master local[N]) or with spark-submit on a cluster;
see docs/spark.md.
"""

import argparse
import glob
import gzip
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time

# Lines handed to flagpost in one write, and the size of the verdict records sent back to
# Spark: a record holds many verdict lines, so Spark handles a few records per megabyte
# instead of one per post.
WRITE_LINES = 4096
READ_BYTES = 1 << 20

FLAGGED = b'"flagged":true'
ERROR = b'"error":'
RULES = b'"rules":[{'


def log(message):
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# What runs on the executors
# --------------------------------------------------------------------------------------------


def shipped(name):
    """The local path of a file shipped with addFile or --files, made executable if needed."""
    from pyspark import SparkFiles

    path = SparkFiles.get(name)
    if not os.path.exists(path) and os.path.exists(name):
        path = os.path.abspath(name)  # cluster mode: --files land in the working directory
    return path


def executable(path):
    mode = os.stat(path).st_mode
    if not mode & stat.S_IXUSR:
        try:
            os.chmod(path, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        except OSError:
            pass
    return path


def feed(proc, lines, failure):
    """Writes the partition's lines to the process, in batches; runs in its own thread."""
    try:
        batch = []
        for line in lines:
            if isinstance(line, str):
                line = line.encode("utf-8")
            batch.append(line)
            if len(batch) >= WRITE_LINES:
                batch.append(b"")
                proc.stdin.write(b"\n".join(batch))
                batch = []
        if batch:
            batch.append(b"")
            proc.stdin.write(b"\n".join(batch))
    except BrokenPipeError:
        pass  # the process ended early; its exit status says why
    except BaseException as e:  # noqa: BLE001 - reported by the task
        failure.append(e)
    finally:
        try:
            proc.stdin.close()
        except OSError:
            pass


def drain(stream, sink):
    sink.append(stream.read())


def run_piped(cmd, lines):
    """Starts `cmd`, feeds it `lines` and yields its standard output in chunks of whole lines.

    Returns (via StopIteration's value) the exit status and standard error.
    """
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    failure, err = [], []
    writer = threading.Thread(target=feed, args=(proc, lines, failure), daemon=True)
    errors = threading.Thread(target=drain, args=(proc.stderr, err), daemon=True)
    writer.start()
    errors.start()
    rest = b""
    while True:
        data = proc.stdout.read1(READ_BYTES)
        if not data:
            break
        data = rest + data
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        rest = data[cut + 1 :]
        yield data[:cut]
    if rest:
        yield rest
    writer.join()
    errors.join()
    code = proc.wait()
    if failure:
        raise failure[0]
    return code, b"".join(err).decode("utf-8", "replace")


def count_chunk(chunk, summary):
    """Adds one chunk of verdict lines to a partition's summary without parsing most lines:
    serde_json writes `"flagged":true`, `"error":` and `"rules":[{` only as keys of the verdict
    object (inside strings the quotes are escaped), so counting them is exact."""
    summary["posts"] += chunk.count(b"\n") + 1
    summary["flagged"] += chunk.count(FLAGGED)
    summary["errors"] += chunk.count(ERROR)
    at = chunk.find(RULES)
    rules = summary["rules"]
    while at >= 0:
        start = chunk.rfind(b"\n", 0, at) + 1
        end = chunk.find(b"\n", at)
        end = len(chunk) if end < 0 else end
        verdict = json.loads(chunk[start:end])
        for r in verdict.get("rules", []):
            key = "%s/%s" % (r.get("pack"), r.get("id"))
            rules[key] = rules.get(key, 0) + 1
        at = chunk.find(RULES, end)


def scan_partition(binary, packs, threads, summaries):
    """The mapPartitionsWithIndex function: lines in, chunks of verdict lines out."""

    def run(index, lines):
        cmd = [executable(shipped(binary)), "scan", "--threads", str(threads)]
        for p in packs:
            cmd += ["--pack", shipped(p)]
        summary = {"posts": 0, "flagged": 0, "errors": 0, "rules": {}}
        piped = run_piped(cmd, lines)
        while True:
            try:
                chunk = next(piped)
            except StopIteration as done:
                code, err = done.value
                break
            count_chunk(chunk, summary)
            yield chunk
        # Exit status 2 with `error` lines is the command line's answer to unreadable input
        # lines: they are in the output and counted. Anything else fails the task.
        if code != 0 and not (code == 2 and summary["errors"] > 0):
            raise RuntimeError("flagpost scan exited with %s in partition %d: %s" % (code, index, err.strip()))
        summaries.add({index: summary})

    return run


def compare_partition(binary, old, new, threads):
    def run(index, lines):
        cmd = [executable(shipped(binary)), "compare", "--json", "--posts", "-", "--threads", str(threads)]
        for p in old:
            cmd += ["--old", shipped(p)]
        for p in new:
            cmd += ["--new", shipped(p)]
        out = []
        piped = run_piped(cmd, lines)
        while True:
            try:
                out.append(next(piped))
            except StopIteration as done:
                code, err = done.value
                break
        if code != 0:
            raise RuntimeError("flagpost compare exited with %s in partition %d: %s" % (code, index, err.strip()))
        report = json.loads(b"\n".join(out))
        report["partition"] = index
        yield json.dumps(report)

    return run


# --------------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------------


def spark_session(master, app):
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app)
    if master is None and not os.environ.get("PYSPARK_GATEWAY_PORT"):
        master = "local[*]"  # plain `python3`, not spark-submit
    if master:
        builder = builder.master(master)
    if (master or "").startswith("local"):
        # Local mode talks to itself only: keep the driver on the loopback interface.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    builder = (
        builder.config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


class Shipper:
    """Adds the binary and packs to the Spark context once, unless --files already did."""

    def __init__(self, sc):
        self.sc = sc
        files = sc.getConf().get("spark.files", "") or ""
        self.already = {os.path.basename(f) for f in files.split(",") if f}

    def ship(self, path):
        name = os.path.basename(path)
        if name not in self.already:
            self.sc.addFile(os.path.abspath(path) if "://" not in path else path)
            self.already.add(name)
        return name


def summaries_accumulator(sc):
    from pyspark.accumulators import AccumulatorParam

    class PerPartition(AccumulatorParam):
        """Summaries keyed by partition: a task run twice puts the same value in the same
        place, so retries and speculation do not count a partition twice."""

        def zero(self, value):
            return {}

        def addInPlace(self, a, b):
            a.update(b)
            return a

    return sc.accumulator({}, PerPartition())


def expand(inputs):
    """Local globs are expanded (sorted); anything else (hdfs://, s3a://) is passed to Spark."""
    paths = []
    for item in inputs:
        if "://" in item and not item.startswith("file://"):
            paths.append(item)
            continue
        found = sorted(glob.glob(item))
        if not found:
            raise SystemExit("flagpost-spark: no input matches %s" % item)
        paths.extend(os.path.abspath(p) for p in found)
    return paths


def read_lines(sc, paths, partitions):
    return sc.textFile(",".join(paths), minPartitions=partitions, use_unicode=False)


def merge_summaries(parts):
    total = {"posts": 0, "flagged": 0, "errors": 0, "partitions": len(parts), "rules": {}}
    for s in parts.values():
        for k in ("posts", "flagged", "errors"):
            total[k] += s[k]
        for rule, n in s["rules"].items():
            total["rules"][rule] = total["rules"].get(rule, 0) + n
    total["rules"] = dict(sorted(total["rules"].items(), key=lambda kv: (-kv[1], kv[0])))
    return total


def spark_scan(spark, shipper, args, paths, output):
    """Scans `paths` into `output` (JSON Lines part files); returns the summary."""
    sc = spark.sparkContext
    binary = shipper.ship(args.flagpost)
    packs = [shipper.ship(p) for p in args.pack]
    acc = summaries_accumulator(sc)
    lines = read_lines(sc, paths, args.partitions)
    verdicts = lines.mapPartitionsWithIndex(scan_partition(binary, packs, args.threads, acc))
    verdicts.saveAsTextFile(output)
    summary = merge_summaries(acc.value)
    summary["partitions"] = lines.getNumPartitions()
    return summary


VERDICT_SCHEMA = (
    "id STRING, flagged BOOLEAN, score DOUBLE, categories ARRAY<STRING>, "
    "hits ARRAY<STRUCT<rule: STRING, category: STRING, start: BIGINT, end: BIGINT, text: STRING>>, "
    "rules ARRAY<STRUCT<id: STRING, pack: STRING, category: STRING, severity: STRING, weight: DOUBLE, "
    "shadow: BOOLEAN>>, "
    "context_hits ARRAY<STRUCT<rule: STRING, category: STRING, start: BIGINT, end: BIGINT, text: STRING>>, "
    "truncated BOOLEAN, error STRING"
)


def write_parquet(spark, jsonl_dir, parquet_dir):
    spark.read.schema(VERDICT_SCHEMA).json(jsonl_dir).write.parquet(parquet_dir)


def print_summary(summary, label=None):
    head = "%s: " % label if label else ""
    log(
        "%s%d posts, %d flagged, %d unreadable lines, %d partitions"
        % (head, summary["posts"], summary["flagged"], summary["errors"], summary["partitions"])
    )
    for rule, n in summary["rules"].items():
        log("  %7d  %s" % (n, rule))


def cmd_scan(args):
    spark = spark_session(args.master, "flagpost scan")
    try:
        paths = expand(args.input)
        out = args.output.rstrip("/")
        jsonl = out + "/verdicts"
        summary = spark_scan(spark, Shipper(spark.sparkContext), args, paths, jsonl)
        if args.format == "parquet":
            write_parquet(spark, jsonl, out + "/parquet")
        summary["output"] = jsonl
        print(json.dumps(summary))
        print_summary(summary)
        if args.summary:
            with open(args.summary, "w") as f:
                json.dump(summary, f, indent=1)
        return 2 if summary["errors"] else 0
    finally:
        spark.stop()


def merge_compare(reports):
    """One report from the partitions' `flagpost compare --json` reports."""
    reports = sorted(reports, key=lambda r: r["partition"])
    if not reports:
        raise SystemExit("flagpost-spark: the input has no partitions")
    first = reports[0]
    total = {"old": first["old"], "new": first["new"], "partitions": len(reports)}
    for k in ("posts", "flagged_before", "flagged_after", "started", "stopped", "other_rules", "changed",
              "new_flags", "not_labelled_positive"):
        total[k] = sum(r[k] for r in reports)
    total["unlabelled"] = {
        k: sum(r["unlabelled"][k] for r in reports) for k in ("posts", "flagged_before", "flagged_after")
    }
    rules = {}
    order = []
    for r in reports:
        for rule in r["rules"]:
            key = (rule["pack"], rule["rule"])
            if key not in rules:
                rules[key] = dict(rule, hits_before=0, hits_after=0)
                order.append(key)
            rules[key]["hits_before"] += rule["hits_before"]
            rules[key]["hits_after"] += rule["hits_after"]
    for key in order:
        rules[key]["change"] = rules[key]["hits_after"] - rules[key]["hits_before"]
    total["rules"] = [rules[k] for k in order]
    changes = {"started": [], "stopped": [], "other_rules": [], "other": []}
    for r in reports:
        for kind, items in r["changes"].items():
            for c in items:
                c["file"] = "partition %d" % r["partition"]
                changes[kind].append(c)
    total["changes"] = changes
    return total


def compare_gates(args, total):
    gates = []
    if args.max_new_flags is not None:
        gates.append({"gate": "--max-new-flags", "limit": args.max_new_flags, "value": total["new_flags"],
                      "passed": total["new_flags"] <= args.max_new_flags})
    if args.max_new_flag_rate is not None:
        base = total["not_labelled_positive"]
        value = total["new_flags"] / base if base else 0.0
        gates.append({"gate": "--max-new-flag-rate", "limit": args.max_new_flag_rate, "value": value,
                      "passed": value <= args.max_new_flag_rate + 1e-9})
    return gates


def spark_compare(spark, shipper, args, paths):
    sc = spark.sparkContext
    binary = shipper.ship(args.flagpost)
    old = [shipper.ship(p) for p in args.old]
    new = [shipper.ship(p) for p in args.new]
    if len({os.path.basename(p) for p in args.old + args.new}) < len(set(args.old + args.new)):
        raise SystemExit("flagpost-spark: packs of different paths must have different file names")
    lines = read_lines(sc, paths, args.partitions)
    reports = lines.mapPartitionsWithIndex(compare_partition(binary, old, new, args.threads)).collect()
    return merge_compare([json.loads(r) for r in reports])


def print_compare(total, show=20):
    log(
        "%d posts: %d flagged before, %d after; %d started being flagged, %d stopped, %d flagged by other rules"
        % (total["posts"], total["flagged_before"], total["flagged_after"], total["started"], total["stopped"],
           total["other_rules"])
    )
    for kind in ("started", "stopped", "other_rules"):
        items = total["changes"][kind]
        for c in items[:show]:
            log("  %s %s: %s -> %s | %s" % (kind, c["id"] if c["id"] is not None else c["file"] + ":" + str(c["line"]),
                                           ",".join(c["before"]["rules"]) or "-", ",".join(c["after"]["rules"]) or "-",
                                           " ".join(c["text"].split())[:160]))
        if len(items) > show:
            log("  … and %d more %s" % (len(items) - show, kind))
    for r in total["rules"]:
        if r["change"]:
            log("  rule %s: %d -> %d (%+d)" % (r["rule"], r["hits_before"], r["hits_after"], r["change"]))


def cmd_compare(args):
    spark = spark_session(args.master, "flagpost compare")
    try:
        total = spark_compare(spark, Shipper(spark.sparkContext), args, expand(args.input))
    finally:
        spark.stop()
    total["gates"] = compare_gates(args, total)
    total["ok"] = all(g["passed"] for g in total["gates"])
    if args.output:
        with open(args.output, "w") as f:
            json.dump(total, f, ensure_ascii=False)
    else:
        print(json.dumps(total, ensure_ascii=False))
    print_compare(total, args.show)
    for g in total["gates"]:
        log("%s %s %s: %s" % ("pass:" if g["passed"] else "FAIL:", g["gate"], g["limit"], g["value"]))
    return 0 if total["ok"] else 1


# --------------------------------------------------------------------------------------------
# check: Spark against the command line
# --------------------------------------------------------------------------------------------


def open_input(path):
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def cli_scan(flagpost, packs, paths, threads=None):
    """`flagpost scan` over the inputs, concatenated in order, as the command line runs it."""
    cmd = [flagpost, "scan"] + [a for p in packs for a in ("--pack", p)]
    if threads:
        cmd += ["--threads", str(threads)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def write():
        try:
            for p in paths:
                with open_input(p) as f:
                    shutil.copyfileobj(f, proc.stdin, READ_BYTES)
        finally:
            proc.stdin.close()

    t = threading.Thread(target=write)
    t.start()
    out = proc.stdout.read()
    t.join()
    if proc.wait() != 0:
        raise SystemExit("flagpost scan exited with %s" % proc.returncode)
    return out.splitlines()


def part_files(directory):
    return sorted(glob.glob(os.path.join(directory, "part-*")))


def spark_lines(directory):
    lines = []
    for p in part_files(directory):
        with open(p, "rb") as f:
            lines.extend(f.read().splitlines())
    return lines


def summary_of(lines):
    """The summary computed the slow way, from parsed verdicts."""
    s = {"posts": 0, "flagged": 0, "errors": 0, "rules": {}}
    for line in lines:
        v = json.loads(line)
        s["posts"] += 1
        s["flagged"] += bool(v.get("flagged"))
        s["errors"] += "error" in v
        for r in v.get("rules", []):
            key = "%s/%s" % (r["pack"], r["id"])
            s["rules"][key] = s["rules"].get(key, 0) + 1
    return s


def verdicts_identical(name, spark_out, cli_out):
    """Same number of lines, same ids, the same line for every id, in the same order."""
    problems = []
    if len(spark_out) != len(cli_out):
        problems.append("%d verdict lines from Spark, %d from the command line" % (len(spark_out), len(cli_out)))

    def by_id(lines):
        # An id can repeat (the corpus files share a few tweets): the n-th line of an id is
        # matched with the n-th line of that id on the other side.
        m, seen = {}, {}
        for line in lines:
            key = json.dumps(json.loads(line).get("id"))
            seen[key] = seen.get(key, 0) + 1
            m[key if seen[key] == 1 else "%s #%d" % (key, seen[key])] = line
        return m

    a, b = by_id(spark_out), by_id(cli_out)
    missing = [k for k in b if k not in a]
    extra = [k for k in a if k not in b]
    differ = [k for k in b if k in a and a[k] != b[k]]
    if missing:
        problems.append("%d ids missing from Spark's output, e.g. %s" % (len(missing), missing[0]))
    if extra:
        problems.append("%d ids only in Spark's output, e.g. %s" % (len(extra), extra[0]))
    if differ:
        problems.append("%d ids with another verdict, e.g. %s:\n  spark: %s\n  cli:   %s"
                        % (len(differ), differ[0], a[differ[0]][:300], b[differ[0]][:300]))
    if not problems and spark_out != cli_out:
        problems.append("same verdicts but in another order")
    if problems:
        log("%s: verdicts differ:\n  %s" % (name, "\n  ".join(problems)))
        return False
    return True


def drop_rule(pack_text, rule_id):
    """The pack's TOML without the [[rules]] table whose id is `rule_id`."""
    lines = pack_text.splitlines(keepends=True)
    out, block, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("[[rules]]"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("["):
                j += 1
            block = lines[i:j]
            if any(b.strip() in ('id = "%s"' % rule_id,) for b in block):
                i = j
                continue
            out.extend(block)
            i = j
            continue
        out.append(line)
        i += 1
    text = "".join(out)
    if text == pack_text:
        raise SystemExit("flagpost-spark: rule %s not found in the pack" % rule_id)
    return text


def cmd_check(args):
    flagpost = os.path.abspath(args.flagpost)
    packs = [os.path.abspath(p) for p in args.pack]
    datasets = [("sample", expand(args.sample))]
    corpus = sorted(glob.glob(args.corpus)) if args.corpus else []
    if corpus:
        datasets.append(("corpus tweets", [os.path.abspath(p) for p in corpus]))
    else:
        log("corpus tweets not found at %s: checking the sample only" % args.corpus)
    work = tempfile.mkdtemp(prefix="flagpost-spark-")
    ok = True
    started = time.monotonic()
    spark = spark_session(args.master, "flagpost check")
    log("Spark %s up in %.1f s (%s)" % (spark.version, time.monotonic() - started, spark.sparkContext.master))
    try:
        shipper = Shipper(spark.sparkContext)
        cli_sample = None
        for i, (name, paths) in enumerate(datasets):
            out = os.path.join(work, "scan-%d" % i)
            t0 = time.monotonic()
            summary = spark_scan(spark, shipper, args, paths, out)
            spark_seconds = time.monotonic() - t0
            got = spark_lines(out)
            want = cli_scan(flagpost, packs, paths)
            if name == "sample":
                cli_sample = want
            same = verdicts_identical(name, got, want)
            slow = summary_of(want)
            for k in ("posts", "flagged", "errors", "rules"):
                if summary[k] != slow[k]:
                    log("%s: Spark's summary says %s = %s, the command line's verdicts %s" % (name, k, summary[k], slow[k]))
                    same = False
            if same:
                print("%s: verdicts identical: %d posts, %d flagged, %d rules fired %d times, %d partitions (%.1f s in Spark)"
                      % (name, summary["posts"], summary["flagged"], len(summary["rules"]),
                         sum(summary["rules"].values()), summary["partitions"], spark_seconds), flush=True)
            ok &= same
        # compare: the shipped pack against itself less the rule that flagged most sample posts
        if args.pack and cli_sample:
            counts = {}
            for line in cli_sample:
                v = json.loads(line)
                if v.get("flagged"):
                    for r in v["rules"]:
                        counts[r["id"]] = counts.get(r["id"], 0) + 1
            rule = max(sorted(counts), key=lambda r: counts[r])
            reduced_dir = os.path.join(work, "reduced")
            os.makedirs(reduced_dir)
            reduced = os.path.join(reduced_dir, os.path.basename(packs[0]))
            with open(packs[0], encoding="utf-8") as f:
                text = f.read()
            with open(reduced, "w", encoding="utf-8") as f:
                f.write(drop_rule(text, rule))
            args.old, args.new = [packs[0]], [reduced]
            paths = [p for _, ps in datasets for p in ps]
            if os.path.basename(packs[0]) in shipper.already:
                # Same file name on both sides: ship the reduced pack under another name.
                renamed = os.path.join(reduced_dir, "without-" + rule + ".toml")
                os.rename(reduced, renamed)
                args.new = [renamed]
            total = spark_compare(spark, shipper, args, paths)
            cli = subprocess.run(
                [flagpost, "compare", "--json", "--old", args.old[0], "--new", args.new[0], "--threads", "1"]
                + [a for p in paths for a in ("--posts", p)],
                stdout=subprocess.PIPE, check=True,
            )
            want = json.loads(cli.stdout)
            same = True
            for k in ("posts", "flagged_before", "flagged_after", "started", "stopped", "other_rules", "changed",
                      "new_flags"):
                if total[k] != want[k]:
                    log("compare: Spark says %s = %s, the command line %s" % (k, total[k], want[k]))
                    same = False
            for kind in ("started", "stopped", "other_rules", "other"):
                a = sorted(json.dumps(c["id"]) for c in total["changes"][kind])
                b = sorted(json.dumps(c["id"]) for c in want["changes"][kind])
                if a != b:
                    log("compare: the posts that %s differ between Spark and the command line" % kind)
                    same = False
            hits = lambda rep: {(r["pack"], r["rule"]): (r["hits_before"], r["hits_after"]) for r in rep["rules"]}  # noqa: E731
            if hits(total) != hits(want):
                log("compare: per-rule hits differ between Spark and the command line")
                same = False
            if total["stopped"] == 0:
                log("compare: removing %s stopped no flag, so the check would prove nothing" % rule)
                same = False
            if same:
                print("compare without rule %s: identical to the command line: %d posts, %d flagged before, %d after, "
                      "%d stopped, %d started" % (rule, total["posts"], total["flagged_before"], total["flagged_after"],
                                                  total["stopped"], total["started"]), flush=True)
            ok &= same
    finally:
        spark.stop()
        shutil.rmtree(work, ignore_errors=True)
    if not ok:
        log("Spark's verdicts are not the command line's")
        return 1
    return 0


# --------------------------------------------------------------------------------------------
# bench: Spark local throughput against the command line
# --------------------------------------------------------------------------------------------


def cmd_bench(args):
    """Times the same work both ways on one input file: read the posts, scan them, write the
    verdicts to disk. The command line runs with one worker thread; Spark runs N tasks at a
    time, each piping its partition through a one-thread `flagpost scan`. Spark's start-up
    (JVM, context, first Python workers) is timed apart and a warm-up job runs first, so the
    timed passes measure steady state."""
    flagpost = os.path.abspath(args.flagpost)
    work = tempfile.mkdtemp(prefix="flagpost-spark-bench-")
    try:
        posts = os.path.join(work, "posts.jsonl")
        t0 = time.monotonic()
        n_posts = make_bench_input(expand(args.input), args.repeat, posts)
        size = os.path.getsize(posts)
        log("bench input: %d posts, %.1f MB (corpus tweets x %d), made in %.1f s"
            % (n_posts, size / 1e6, args.repeat, time.monotonic() - t0))

        def cli(threads):
            out = os.path.join(work, "cli.jsonl")
            with open(posts, "rb") as fin, open(out, "wb") as fout:
                t = time.monotonic()
                subprocess.run([flagpost, "scan", "--threads", str(threads)], stdin=fin, stdout=fout, check=True)
                dt = time.monotonic() - t
            os.remove(out)
            return dt

        results = {"posts": n_posts, "bytes": size, "cores": args.cores}
        cli_times = [cli(1) for _ in range(args.runs)]
        results["cli_1_thread_s"] = sorted(cli_times)[len(cli_times) // 2]
        t = time.monotonic()
        spark = spark_session("local[%d]" % args.cores, "flagpost bench")
        results["spark_start_s"] = time.monotonic() - t
        try:
            shipper = Shipper(spark.sparkContext)
            args.pack = []
            args.threads = 1
            # warm-up: ships the binary, starts the Python workers
            t = time.monotonic()
            spark_scan(spark, shipper, args, [os.path.abspath(p) for p in expand(args.input)[:1]],
                       os.path.join(work, "warm"))
            results["spark_warmup_s"] = time.monotonic() - t
            times = []
            for i in range(args.runs):
                out = os.path.join(work, "spark-%d" % i)
                t = time.monotonic()
                summary = spark_scan(spark, shipper, args, [posts], out)
                times.append(time.monotonic() - t)
                shutil.rmtree(out)
                if summary["posts"] != n_posts:
                    raise SystemExit("Spark scanned %d posts of %d" % (summary["posts"], n_posts))
                results["partitions"] = summary["partitions"]
            results["spark_runs_s"] = times
            results["spark_s"] = sorted(times)[len(times) // 2]
        finally:
            spark.stop()
        cli_times_after = [cli(1) for _ in range(args.runs)]
        results["cli_runs_s"] = cli_times + cli_times_after
        results["cli_1_thread_s"] = sorted(results["cli_runs_s"])[len(results["cli_runs_s"]) // 2]
        results["cli_all_threads_s"] = cli(args.cores)
        one = size / results["cli_1_thread_s"] / 1e6
        sp = size / results["spark_s"] / 1e6
        results["cli_1_thread_mb_s"] = round(one, 1)
        results["spark_mb_s"] = round(sp, 1)
        results["spark_per_core_mb_s"] = round(sp / args.cores, 1)
        results["ratio"] = round(sp / one, 3)
        results["target"] = round(0.7 * args.cores, 2)
        print(json.dumps(results))
        log("command line, 1 thread: %.1f MB/s (median of %d runs, before and after Spark)" % (one, len(results["cli_runs_s"])))
        log("command line, %d threads: %.1f MB/s" % (args.cores, size / results["cli_all_threads_s"] / 1e6))
        log("Spark local[%d], %d partitions: %.1f MB/s (median of %d; start-up %.1f s and warm-up %.1f s not counted)"
            % (args.cores, results["partitions"], sp, args.runs, results["spark_start_s"], results["spark_warmup_s"]))
        log("Spark / (N x one thread) = %.2f (target 0.7); Spark / one thread = %.2f (target %.2f)"
            % (sp / one / args.cores, sp / one, 0.7 * args.cores))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def make_bench_input(paths, repeat, out):
    """The inputs repeated `repeat` times, with ids made unique per copy."""
    n = 0
    with open(out, "wb") as f:
        for k in range(repeat):
            for p in paths:
                with open_input(p) as src:
                    data = src.read()
                if k:
                    data = data.replace(b'{"id": "', b'{"id": "%d:' % k)
                f.write(data)
                if not data.endswith(b"\n"):
                    f.write(b"\n")
                n += data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    return n


# --------------------------------------------------------------------------------------------


def main(argv=None):
    p = argparse.ArgumentParser(prog="flagpost_spark.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)

    def common(q):
        q.add_argument("--flagpost", default="target/release/flagpost", help="the flagpost binary to ship")
        q.add_argument("--master", help="Spark master URL (default: spark-submit's, else local[*])")
        q.add_argument("--partitions", type=int, default=None, help="minimum input partitions")
        q.add_argument("--threads", type=int, default=1, help="threads of each flagpost process (default 1: "
                       "Spark runs one task per core)")

    q = sub.add_parser("scan", help="verdicts for large corpora")
    common(q)
    q.add_argument("--pack", action="append", default=[], help="a rule pack (default: the binary's shipped packs)")
    q.add_argument("--input", action="append", required=True, help="JSON Lines posts (.gz too); local globs or URIs")
    q.add_argument("--output", required=True, help="output directory: verdicts/ (JSON Lines), parquet/")
    q.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl", help="parquet: also write Parquet")
    q.add_argument("--summary", help="also write the summary to this local file")

    q = sub.add_parser("compare", help="flagpost compare OLD NEW over large corpora")
    common(q)
    q.add_argument("--old", action="append", required=True, help="a pack before the change (repeatable)")
    q.add_argument("--new", action="append", required=True, help="a pack after the change (repeatable)")
    q.add_argument("--input", action="append", required=True)
    q.add_argument("--output", help="write the JSON report here instead of standard output")
    q.add_argument("--show", type=int, default=20)
    q.add_argument("--max-new-flags", type=int)
    q.add_argument("--max-new-flag-rate", type=float)

    q = sub.add_parser("check", help="Spark's verdicts against the command line's")
    common(q)
    q.add_argument("--pack", action="append", default=[])
    q.add_argument("--sample", action="append", required=True)
    q.add_argument("--corpus", help="glob of the corpus tweets")

    q = sub.add_parser("bench", help="Spark local throughput against the command line")
    common(q)
    q.add_argument("--input", action="append", required=True)
    q.add_argument("--repeat", type=int, default=8)
    q.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    q.add_argument("--runs", type=int, default=3)

    args = p.parse_args(argv)
    if not os.path.exists(args.flagpost) and "://" not in args.flagpost:
        p.error("no flagpost binary at %s (cargo build --release --bin flagpost)" % args.flagpost)
    return {"scan": cmd_scan, "compare": cmd_compare, "check": cmd_check, "bench": cmd_bench}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
