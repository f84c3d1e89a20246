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
import itertools
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


def feed_split(proc, split, failure):
    """Writes one split of a file to the process: for plain files the lines that start in
    [start, end), as Hadoop splits text; gzip files are one split, decompressed."""
    path, start, end = split
    try:
        if end is None:
            with gzip.open(path, "rb") as f:
                shutil.copyfileobj(f, proc.stdin, READ_BYTES)
        else:
            with open(path, "rb") as f:
                if start > 0:
                    f.seek(start - 1)
                    f.readline()  # the rest of a line that started in the previous split
                pos = f.tell()
                while pos < end - 1:
                    block = f.read(min(READ_BYTES, end - 1 - pos))
                    if not block:
                        break
                    proc.stdin.write(block)
                    pos += len(block)
                if pos == end - 1:
                    proc.stdin.write(f.readline())  # the line holding the split's last byte
    except BrokenPipeError:
        pass
    except BaseException as e:  # noqa: BLE001 - reported by the task
        failure.append(e)
    finally:
        try:
            proc.stdin.close()
        except OSError:
            pass


def drain(stream, sink):
    sink.append(stream.read())


def run_piped(cmd, source):
    """Starts `cmd`, feeds it `source` (an iterator of lines, or a file split as a tuple) and
    yields its standard output in chunks of whole lines.

    Returns (via StopIteration's value) the exit status and standard error.
    """
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    failure, err = [], []
    target = feed_split if isinstance(source, tuple) else feed
    writer = threading.Thread(target=target, args=(proc, source, failure), daemon=True)
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


def scan_split(binary, packs, threads, output):
    """The direct-I/O task: reads its split of the input file itself and lets flagpost write
    the verdicts straight into the output directory; yields only the summary."""

    def run(index, splits):
        cmd = [executable(shipped(binary)), "scan", "--threads", str(threads)]
        for p in packs:
            cmd += ["--pack", shipped(p)]
        final = os.path.join(output, "part-%05d.jsonl" % index)
        partial = "%s.%d-%d.tmp" % (final, os.getpid(), threading.get_ident())
        summary = {"posts": 0, "flagged": 0, "errors": 0, "rules": {}}
        code, err = 0, []
        with open(partial, "wb") as out:
            for split in splits:  # one a partition, as the driver makes them
                proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.PIPE)
                failure, err = [], []
                writer = threading.Thread(target=feed_split, args=(proc, split, failure), daemon=True)
                errors = threading.Thread(target=drain, args=(proc.stderr, err), daemon=True)
                writer.start()
                errors.start()
                writer.join()
                errors.join()
                code = proc.wait()
                if failure:
                    raise failure[0]
                # Exit status 2 with `error` lines: unreadable input lines, in the output and
                # counted below. Anything else fails the task.
                if code not in (0, 2):
                    message = b"".join(err).decode("utf-8", "replace").strip()
                    raise RuntimeError("flagpost scan exited with %s on %s: %s" % (code, split, message))
                out.flush()
        with open(partial, "rb") as f:
            rest = b""
            while True:
                data = f.read(READ_BYTES)
                if not data:
                    break
                data = rest + data
                cut = data.rfind(b"\n")
                rest = data[cut + 1 :]
                if cut >= 0:
                    count_chunk(data[:cut], summary)
            if rest:
                count_chunk(rest, summary)
        if code == 2 and summary["errors"] == 0:
            message = b"".join(err).decode("utf-8", "replace").strip()
            raise RuntimeError("flagpost scan exited with 2 on %s: %s" % (splits, message))
        os.replace(partial, final)  # a retried task writes the same part again
        yield json.dumps({index: summary})

    return run


def compare_partition(binary, old, new, threads):
    def run(index, lines):
        cmd = [executable(shipped(binary)), "compare", "--json", "--posts", "-", "--threads", str(threads)]
        for p in old:
            cmd += ["--old", shipped(p)]
        for p in new:
            cmd += ["--new", shipped(p)]
        out = []
        if not hasattr(lines, "__next__"):
            lines = iter(lines)
        first = next(lines, None)
        if isinstance(first, tuple):  # direct I/O: one file split per partition
            source = first
        else:
            source = itertools.chain([] if first is None else [first], lines)
        piped = run_piped(cmd, source)
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
    if __name__ != "__main__":
        # Imported as a module: the tasks' functions refer to it by name, so the workers need it.
        spark.sparkContext.addPyFile(os.path.abspath(__file__))
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


def is_gzip(path):
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def file_splits(paths, split_bytes):
    """(path, start, end) byte ranges of the input files, in order; a gzip file is one split
    (path, 0, None)."""
    splits = []
    for p in paths:
        if "://" in p and not p.startswith("file://"):
            raise SystemExit("flagpost-spark: --io direct reads files every executor can open; use --io spark for %s" % p)
        p = p[len("file://"):] if p.startswith("file://") else p
        if is_gzip(p):
            splits.append((p, 0, None))
            continue
        size = os.path.getsize(p)
        for start in range(0, max(size, 1), split_bytes):
            splits.append((p, start, min(start + split_bytes, size)))
    return splits


def split_bytes_for(args, paths, sc):
    """Splits of --split-mb, or small enough that every core gets work."""
    if getattr(args, "split_bytes", None):
        return args.split_bytes
    if args.split_mb:
        return args.split_mb << 20
    total = sum(os.path.getsize(p) for p in paths if not is_gzip(p))
    cores = sc.defaultParallelism
    return max(1 << 20, min(64 << 20, -(-total // (cores * 2)) if total else 64 << 20))


def direct_scan(spark, shipper, args, paths, output):
    """Scans with --io direct: each task reads its split of a file and flagpost writes the
    part file; Spark moves only the summaries."""
    sc = spark.sparkContext
    binary = shipper.ship(args.flagpost)
    packs = [shipper.ship(p) for p in args.pack]
    local = output[len("file://"):] if output.startswith("file://") else output
    if "://" in local:
        raise SystemExit("flagpost-spark: --io direct writes to a directory every executor can write; got %s" % output)
    if os.path.exists(local):
        raise SystemExit("flagpost-spark: %s already exists" % local)
    os.makedirs(local)
    splits = file_splits(paths, split_bytes_for(args, paths, sc))
    rdd = sc.parallelize(splits, len(splits))
    parts = {}
    for record in rdd.mapPartitionsWithIndex(scan_split(binary, packs, args.threads, os.path.abspath(local))).collect():
        parts.update({int(k): v for k, v in json.loads(record).items()})
    for name in os.listdir(local):
        if name.endswith(".tmp"):
            os.remove(os.path.join(local, name))  # left by a failed attempt that was retried
    open(os.path.join(local, "_SUCCESS"), "w").close()
    summary = merge_summaries(parts)
    summary["partitions"] = len(splits)
    return summary


def choose_io(args, sc, paths, output=""):
    """--io auto: direct in local mode over local files, else through Spark."""
    if args.io != "auto":
        return args.io
    local = sc.master.startswith("local") and all(
        "://" not in p or p.startswith("file://") for p in list(paths) + [output])
    return "direct" if local else "spark"


def scan(spark, shipper, args, paths, output):
    if choose_io(args, spark.sparkContext, paths, output) == "direct":
        return direct_scan(spark, shipper, args, paths, output)
    return spark_scan(spark, shipper, args, paths, output)


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
        summary = scan(spark, Shipper(spark.sparkContext), args, paths, jsonl)
        summary["io"] = choose_io(args, spark.sparkContext, paths, jsonl)
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
    if choose_io(args, sc, paths) == "direct":
        splits = file_splits(paths, split_bytes_for(args, paths, sc))
        lines = sc.parallelize(splits, len(splits))
    else:
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
    code = proc.wait()
    # 2 with `error` lines: input lines that are not posts, answered in the output
    if code != 0 and not (code == 2 and b'"error":' in out):
        raise SystemExit("flagpost scan exited with %s" % code)
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


def without_line_number(line):
    """An error line names the input line by its number in what flagpost read: in Spark, the
    number within the partition. Everything else in it must match."""
    if line.startswith(b'{"id":null,"error":"line '):
        head, _, rest = line.partition(b":")
        head2, _, rest2 = rest.partition(b'"line ')
        number, colon, tail = rest2.partition(b":")
        if number.isdigit() and colon:
            return b'%s:%s"line N:%s' % (head, head2, tail)
    return line


def verdicts_identical(name, spark_out, cli_out):
    """Same number of lines, same ids, the same line for every id, in the same order (error
    lines: but for the input line number they name)."""
    spark_out = [without_line_number(line) for line in spark_out]
    cli_out = [without_line_number(line) for line in cli_out]
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
    """Scans the sample and the corpus tweets in Spark, both I/O modes, and with the command
    line, and compares; then `compare` in Spark against the command line's."""
    flagpost = os.path.abspath(args.flagpost)
    packs = [os.path.abspath(p) for p in args.pack]
    datasets = [("sample", expand(args.sample))]
    corpus = sorted(glob.glob(args.corpus)) if args.corpus else []
    if corpus:
        datasets.append(("corpus tweets", [os.path.abspath(p) for p in corpus]))
    else:
        log("corpus tweets not found at %s: checking the sample only" % args.corpus)
    work = tempfile.mkdtemp(prefix="flagpost-spark-")
    # The sample again with lines that are not posts: they get the command line's error lines.
    broken = os.path.join(work, "broken.jsonl")
    with open(datasets[0][1][0], "rb") as f, open(broken, "wb") as g:
        sample = f.read().splitlines(keepends=True)
        g.writelines(sample[:50] + [b"not JSON\n", b'{"id": "no text"}\n'] + sample[50:])
    datasets.insert(1, ("sample with 2 unreadable lines", [broken]))
    ok = True
    started = time.monotonic()
    spark = spark_session(args.master, "flagpost check")
    log("Spark %s up in %.1f s (%s)" % (spark.version, time.monotonic() - started, spark.sparkContext.master))
    try:
        shipper = Shipper(spark.sparkContext)
        cli = {name: cli_scan(flagpost, packs, paths) for name, paths in datasets}
        for io in ("spark", "direct"):
            args.io = io
            for i, (name, paths) in enumerate(datasets):
                out = os.path.join(work, "scan-%s-%d" % (io, i))
                # Small splits of the plain-text sample, so that lines cross split boundaries.
                args.split_bytes = 8191 if name.startswith("sample") else None
                t0 = time.monotonic()
                summary = scan(spark, shipper, args, paths, out)
                spark_seconds = time.monotonic() - t0
                got = spark_lines(out)
                want = cli[name]
                label = "%s, --io %s" % (name, io)
                same = verdicts_identical(label, got, want)
                slow = summary_of(want)
                for k in ("posts", "flagged", "errors", "rules"):
                    if summary[k] != slow[k]:
                        log("%s: Spark's summary says %s = %s, the command line's verdicts %s"
                            % (label, k, summary[k], slow[k]))
                        same = False
                if not want:
                    log("%s: the command line wrote no verdicts" % label)
                    same = False
                if summary["errors"] != (2 if "unreadable" in name else 0):
                    log("%s: %d unreadable lines counted" % (label, summary["errors"]))
                    same = False
                if same:
                    print("%s: verdicts identical: %d posts, %d flagged, %d rules fired %d times, %d unreadable "
                          "lines, %d partitions (%.1f s in Spark)"
                          % (label, summary["posts"], summary["flagged"], len(summary["rules"]),
                             sum(summary["rules"].values()), summary["errors"], summary["partitions"],
                             spark_seconds), flush=True)
                ok &= same
        if args.pack:
            ok &= check_compare(spark, shipper, args, flagpost, packs, cli["sample"],
                                [p for name, ps in datasets if "unreadable" not in name for p in ps], work)
    finally:
        spark.stop()
        shutil.rmtree(work, ignore_errors=True)
    if not ok:
        log("Spark's verdicts are not the command line's")
        return 1
    return 0


def check_compare(spark, shipper, args, flagpost, packs, cli_sample, paths, work):
    """`compare` in Spark, the first pack against itself less the rule that flagged the most
    sample posts alone (else fired on the most), against `flagpost compare` on the same posts."""
    import tomllib

    with open(packs[0], "rb") as f:
        pack = tomllib.load(f)
    threshold = float(pack.get("threshold", 1.0))
    ids = {r.get("id") for r in pack.get("rules", [])}
    fired, alone = {}, {}
    for line in cli_sample:
        v = json.loads(line)
        for r in v.get("rules", []):
            if r.get("pack") != pack.get("id") or r["id"] not in ids:
                continue
            fired[r["id"]] = fired.get(r["id"], 0) + 1
            if v.get("flagged") and v["score"] - r["weight"] + 1e-9 < threshold:
                alone[r["id"]] = alone.get(r["id"], 0) + 1
    if not fired:
        log("compare: no rule of %s fired on the sample, so there is nothing to compare" % packs[0])
        return False
    rule = max(sorted(fired), key=lambda r: (alone.get(r, 0), fired[r]))
    reduced = os.path.join(work, "without-%s.toml" % rule)
    with open(packs[0], encoding="utf-8") as f:
        text = f.read()
    with open(reduced, "w", encoding="utf-8") as f:
        f.write(drop_rule(text, rule))
    args.old, args.new = [packs[0]], [reduced]
    cli = subprocess.run(
        [flagpost, "compare", "--json", "--old", packs[0], "--new", reduced]
        + [a for p in paths for a in ("--posts", p)],
        stdout=subprocess.PIPE, check=True,
    )
    want = json.loads(cli.stdout)
    ok = True
    for io in ("spark", "direct"):
        args.io = io
        total = spark_compare(spark, shipper, args, paths)
        same = True
        for k in ("posts", "flagged_before", "flagged_after", "started", "stopped", "other_rules", "changed",
                  "new_flags"):
            if total[k] != want[k]:
                log("compare --io %s: Spark says %s = %s, the command line %s" % (io, k, total[k], want[k]))
                same = False
        for kind in ("started", "stopped", "other_rules", "other"):
            a = sorted(json.dumps(c["id"]) for c in total["changes"][kind])
            b = sorted(json.dumps(c["id"]) for c in want["changes"][kind])
            if a != b:
                log("compare --io %s: the posts that %s differ between Spark and the command line" % (io, kind))
                same = False

        def hits(report):
            return {(r["pack"], r["rule"]): (r["hits_before"], r["hits_after"]) for r in report["rules"]}

        if hits(total) != hits(want):
            log("compare --io %s: per-rule hits differ between Spark and the command line" % io)
            same = False
        if total["changed"] == 0:
            log("compare: removing %s changed no verdict, so the check would prove nothing" % rule)
            same = False
        if total["stopped"] < alone.get(rule, 0):
            log("compare: %s flagged %d sample posts alone, but only %d stopped being flagged"
                % (rule, alone[rule], total["stopped"]))
            same = False
        if same:
            print("compare without rule %s, --io %s: identical to the command line: %d posts, %d flagged before, "
                  "%d after, %d stopped, %d started" % (rule, io, total["posts"], total["flagged_before"],
                                                         total["flagged_after"], total["stopped"], total["started"]),
                  flush=True)
        ok &= same
    return ok


# --------------------------------------------------------------------------------------------
# bench: Spark local throughput against the command line
# --------------------------------------------------------------------------------------------


def tree_cpu_seconds():
    """CPU seconds used so far by this process and everything under it: the JVM, the Python
    workers, and (once their workers reaped them) the flagpost processes."""
    children, ticks = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read()
        except OSError:
            continue
        rest = fields[fields.rfind(")") + 2 :].split()
        children.setdefault(int(rest[1]), []).append(int(d))
        ticks[int(d)] = sum(int(x) for x in rest[11:15])  # utime stime cutime cstime
    total, todo = 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo += children.get(pid, [])
    return total / os.sysconf("SC_CLK_TCK")


def cmd_bench(args):
    """Times the same work both ways on one input file: read the posts, scan them, write the
    verdicts to disk. The command line runs with one worker thread; Spark runs N tasks at a
    time, each piping its partition through a one-thread `flagpost scan`. Spark's start-up
    (JVM, context, first Python workers) is timed apart and a warm-up job runs first, so the
    timed passes measure steady state. Command-line and Spark passes alternate, so load from
    elsewhere on the machine falls on both alike; CPU seconds are counted too, which load
    from elsewhere does not change much."""
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
                proc = subprocess.Popen([flagpost, "scan", "--threads", str(threads)], stdin=fin, stdout=fout)
                _, status, usage = os.wait4(proc.pid, 0)
                dt = time.monotonic() - t
            os.remove(out)
            if status != 0:
                raise SystemExit("flagpost scan failed")
            return dt, usage.ru_utime + usage.ru_stime

        load_before = os.getloadavg()
        t = time.monotonic()
        spark = spark_session("local[%d]" % args.cores, "flagpost bench")
        start_s = time.monotonic() - t
        runs = {"cli": [], "spark": [], "direct": []}
        try:
            shipper = Shipper(spark.sparkContext)
            args.pack = []
            args.threads = 1
            args.partitions = args.partitions or 2 * args.cores
            t = time.monotonic()
            small = os.path.join(work, "warm.jsonl")
            with open(posts, "rb") as f, open(small, "wb") as g:
                g.writelines(itertools.islice(f, 20000))
            for io in ("spark", "direct"):  # warm-up: ships the binary, starts the workers
                args.io = io
                scan(spark, shipper, args, [small], os.path.join(work, "warm-" + io))
                shutil.rmtree(os.path.join(work, "warm-" + io))
            warm_s = time.monotonic() - t
            partitions = {}
            for i in range(args.runs):
                runs["cli"].append(cli(1))
                for io in ("spark", "direct"):
                    args.io = io
                    out = os.path.join(work, "%s-%d" % (io, i))
                    c, t = tree_cpu_seconds(), time.monotonic()
                    summary = scan(spark, shipper, args, [posts], out)
                    runs[io].append((time.monotonic() - t, tree_cpu_seconds() - c))
                    shutil.rmtree(out)
                    if summary["posts"] != n_posts:
                        raise SystemExit("Spark scanned %d posts of %d" % (summary["posts"], n_posts))
                    partitions[io] = summary["partitions"]
        finally:
            spark.stop()
        all_threads = cli(args.cores)

        def median(xs):
            xs = sorted(xs)
            return xs[len(xs) // 2]

        one_s = median(w for w, _ in runs["cli"])
        one_cpu = median(c for _, c in runs["cli"])
        results = {"posts": n_posts, "bytes": size, "repeat": args.repeat, "cores": args.cores, "runs": args.runs,
                   "load_average": [round(x, 1) for x in load_before + os.getloadavg()],
                   "spark_start_s": round(start_s, 1), "spark_warmup_s": round(warm_s, 1),
                   "cli_1_thread": {"s": round(one_s, 2), "cpu_s": round(one_cpu, 2),
                                    "mb_s": round(size / one_s / 1e6, 1), "posts_s": round(n_posts / one_s)},
                   "cli_all_threads": {"s": round(all_threads[0], 2),
                                       "mb_s": round(size / all_threads[0] / 1e6, 1)},
                   "passes": {k: [[round(w, 2), round(c, 2)] for w, c in v] for k, v in runs.items()}}
        for io in ("spark", "direct"):
            wall = median(w for w, _ in runs[io])
            cpu = median(c for _, c in runs[io])
            results["spark_" + io] = {
                "partitions": partitions[io], "s": round(wall, 2), "cpu_s": round(cpu, 2),
                "mb_s": round(size / wall / 1e6, 1), "posts_s": round(n_posts / wall),
                # measured: Spark with N cores over one command-line thread, in one run
                "ratio": round(one_s / wall, 3),
                # from CPU time: what N dedicated cores would give, N x (CLI CPU / Spark CPU)
                "ratio_from_cpu": round(args.cores * one_cpu / cpu, 3),
            }
        results["target_ratio"] = round(0.7 * args.cores, 2)
        print(json.dumps(results))
        log("command line, 1 thread: %.1f MB/s, %d posts/s (median of %d passes; %.1f CPU s a pass)"
            % (results["cli_1_thread"]["mb_s"], results["cli_1_thread"]["posts_s"], args.runs, one_cpu))
        log("command line, %d threads: %.1f MB/s" % (args.cores, results["cli_all_threads"]["mb_s"]))
        for io in ("spark", "direct"):
            r = results["spark_" + io]
            log("Spark local[%d] --io %s, %d partitions: %.1f MB/s, %.2f x one command-line thread "
                "(target %.2f); %.1f CPU s a pass, so %d dedicated cores would give %.2f x"
                % (args.cores, io, r["partitions"], r["mb_s"], r["ratio"], 0.7 * args.cores, r["cpu_s"],
                   args.cores, r["ratio_from_cpu"]))
        log("Spark start-up %.1f s and warm-up %.1f s are not in these figures" % (start_s, warm_s))
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
        q.add_argument("--io", choices=["auto", "spark", "direct"], default="auto",
                       help="spark: Spark reads the lines and writes the verdicts (any storage Spark reaches); "
                       "direct: each task reads its split of the input files and flagpost writes the part files "
                       "(files every executor can open: local mode, a shared file system); auto (default): "
                       "direct in local mode over local paths, else spark")
        q.add_argument("--split-mb", type=int, help="--io direct: split size (default: input / (2 x cores), "
                       "at most 64)")

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
