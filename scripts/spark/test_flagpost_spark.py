"""Unit tests of the Spark job's pieces that need no Spark: how files are split, how verdict
lines are counted, how outputs are compared and compare reports merged.

    python3 -m unittest discover -s scripts/spark
"""

import gzip
import io
import json
import os
import random
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import flagpost_spark as fs  # noqa: E402


class Sink(io.BytesIO):
    """Stands in for a process's standard input: keeps what was written when closed."""

    def close(self):
        self.kept = self.getvalue()


class Proc:
    def __init__(self):
        self.stdin = Sink()


def feed(split):
    proc, failure = Proc(), []
    fs.feed_split(proc, split, failure)
    if failure:
        raise failure[0]
    return proc.stdin.kept


class Splits(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_every_line_goes_to_exactly_one_split_whatever_the_split_size(self):
        rng = random.Random(7)
        lines = [("%d:" % i + "x" * rng.choice([0, 1, 5, 40, 300])).encode() for i in range(400)]
        for ending in (b"\n", b""):
            data = b"\n".join(lines) + ending
            path = self.write("posts.jsonl", data)
            for size in (1, 2, 3, 7, 64, 301, 302, 1000, 4096, len(data) - 1, len(data), len(data) + 5):
                splits = fs.file_splits([path], size)
                parts = [feed(s) for s in splits]
                self.assertEqual(b"".join(parts), data, "split size %d" % size)
                for part in parts:  # whole lines only (the file's last may lack its newline)
                    self.assertTrue(part == b"" or part.endswith(b"\n") or data.endswith(part), size)

    def test_an_empty_file_and_a_gzip_file(self):
        self.assertEqual([feed(s) for s in fs.file_splits([self.write("empty.jsonl", b"")], 10)], [b""])
        data = b"".join(b'{"id": %d, "text": "t"}\n' % i for i in range(1000))
        path = os.path.join(self.dir, "posts.jsonl.gz")
        with gzip.open(path, "wb") as f:
            f.write(data)
        splits = fs.file_splits([path], 100)
        self.assertEqual(splits, [(path, 0, None)])
        self.assertEqual(feed(splits[0]), data)


VERDICTS = [
    {"id": "a", "flagged": False, "score": 0.0, "categories": [], "hits": [], "rules": []},
    {"id": 'tricky "flagged":true "rules":[{', "flagged": False, "score": 0.0, "categories": [],
     "hits": [], "rules": []},
    {"id": "b", "flagged": True, "score": 1.5, "categories": ["c"],
     "hits": [{"rule": "r1", "category": "c", "start": 0, "end": 3, "text": '"rules":[{'}],
     "rules": [{"id": "r1", "pack": "p", "category": "c", "severity": "high", "weight": 1.0},
               {"id": "r2", "pack": "p", "category": "c", "severity": "low", "weight": 0.5}]},
    {"id": "c", "flagged": False, "score": 0.5, "categories": ["c"], "hits": [],
     "rules": [{"id": "r2", "pack": "p", "category": "c", "severity": "low", "weight": 0.5}]},
    {"id": None, "error": "line 5: not JSON"},
]


def lines():
    # compact, as serde_json writes them
    return [json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode() for v in VERDICTS]


class Counting(unittest.TestCase):
    def test_counting_chunks_agrees_with_parsing_every_line(self):
        summary = {"posts": 0, "flagged": 0, "errors": 0, "rules": {}}
        fs.count_chunk(b"\n".join(lines()), summary)
        self.assertEqual(summary, fs.summary_of(lines()))
        self.assertEqual(summary["posts"], 5)
        self.assertEqual(summary["flagged"], 1)
        self.assertEqual(summary["errors"], 1)
        self.assertEqual(summary["rules"], {"p/r1": 1, "p/r2": 2})


class Identical(unittest.TestCase):
    def setUp(self):
        self.log, fs.log = fs.log, lambda message: None  # the differences are expected here

    def tearDown(self):
        fs.log = self.log

    def test_same_lines_pass_and_every_difference_fails(self):
        a = lines()
        self.assertTrue(fs.verdicts_identical("t", a, list(a)))
        changed = list(a)
        changed[2] = changed[2].replace(b'"score":1.5', b'"score":1.0')
        self.assertFalse(fs.verdicts_identical("t", changed, a))
        self.assertFalse(fs.verdicts_identical("t", a[:-1], a))
        self.assertFalse(fs.verdicts_identical("t", list(reversed(a)), a))

    def test_error_lines_may_differ_only_in_the_line_number(self):
        a = b'{"id":null,"error":"line 51: not JSON: expected value at line 1 column 1"}'
        b = b'{"id":null,"error":"line 3: not JSON: expected value at line 1 column 1"}'
        c = b'{"id":null,"error":"line 3: `text` is not a string"}'
        self.assertTrue(fs.verdicts_identical("t", [a], [b]))
        self.assertFalse(fs.verdicts_identical("t", [a], [c]))

    def test_a_repeated_id_is_matched_by_occurrence(self):
        one = b'{"id":"x","flagged":false}'
        two = b'{"id":"x","flagged":true}'
        self.assertTrue(fs.verdicts_identical("t", [one, two], [one, two]))
        self.assertFalse(fs.verdicts_identical("t", [one, one], [one, two]))


class Packs(unittest.TestCase):
    def test_drop_rule_removes_that_rule_only(self):
        pack = ('id = "p"\nthreshold = 1.0\n\n[signals]\ns = { phrases = ["a"] }\n\n'
                '[[rules]]\nid = "one"\nweight = 1.0\n\n# comment\n[[rules]]\nid = "two"\nweight = 1.0\n\n'
                '[examples]\nflag = ["a"]\n')
        out = fs.drop_rule(pack, "one")
        self.assertNotIn('id = "one"', out)
        self.assertIn('id = "two"', out)
        self.assertIn("[examples]", out)
        self.assertIn("[signals]", out)
        with self.assertRaises(SystemExit):
            fs.drop_rule(pack, "three")


class Merge(unittest.TestCase):
    def test_partition_reports_add_up(self):
        def report(partition, posts, stopped_ids):
            return {
                "partition": partition, "old": [], "new": [], "posts": posts, "flagged_before": len(stopped_ids),
                "flagged_after": 0, "started": 0, "stopped": len(stopped_ids), "other_rules": 0,
                "changed": len(stopped_ids), "new_flags": 0, "not_labelled_positive": posts,
                "unlabelled": {"posts": posts, "flagged_before": len(stopped_ids), "flagged_after": 0},
                "rules": [{"pack": "p", "rule": "r", "hits_before": len(stopped_ids), "hits_after": 0}],
                "changes": {"started": [], "stopped": [{"id": i, "line": 1} for i in stopped_ids],
                            "other_rules": [], "other": []},
            }

        total = fs.merge_compare([report(1, 10, ["b"]), report(0, 5, ["a", "c"])])
        self.assertEqual(total["posts"], 15)
        self.assertEqual(total["stopped"], 3)
        self.assertEqual([c["id"] for c in total["changes"]["stopped"]], ["a", "c", "b"])
        self.assertEqual(total["rules"][0]["hits_before"], 3)
        self.assertEqual(total["rules"][0]["change"], -3)


if __name__ == "__main__":
    unittest.main()
