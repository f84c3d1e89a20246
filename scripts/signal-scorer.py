#!/usr/bin/env python3
"""A scorer over the pack's own signals and rules, measured on a held-out file.

The question it answers: would a logistic regression over *which of the pack's signals and
rules fire on a post* (instead of over n-grams) catch more of the recruitment posts on a file
the pack was never written from, without flagging more ordinary posts?

How: the pack is rewritten into a feature pack in which every signal is also a rule (its
threshold set out of reach, so nothing is flagged), `flagpost scan` reports which of them fire
on every labelled row and every corpus tweet, and scikit-learn learns the weights from every
clear row outside the held-out files plus a random share of the tweets. Precision and recall
are read on the held-out files, flagged tweets on the tweets it did not learn from.

    python3 scripts/signal-scorer.py --held-out found17-mixed [--pack P] [--tweets 60000]

Needs numpy and scikit-learn (not used by the product), target/release/flagpost, and the
corpus (../shared/corpus or FLAGPOST_CORPUS). Results are in docs/pack-tuning.md.
"""

import argparse
import glob
import gzip
import json
import os
import random
import re
import subprocess
import tempfile

import numpy as np
from sklearn.linear_model import LogisticRegression

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGPOST = os.path.join(ROOT, "target/release/flagpost")
CORPUS = os.environ.get("FLAGPOST_CORPUS", os.path.join(ROOT, "../shared/corpus"))


def feature_pack(pack_path, out_path):
    """The pack with one extra rule per signal, threshold out of reach."""
    text = open(pack_path, encoding="utf-8").read()
    head, rules = text[: text.index("[[rules]]")], text[text.index("[[rules]]"):]
    signals = re.findall(r"^([a-z_0-9]+) = ", head[head.index("[signals]"):], re.M)
    head = re.sub(r"^threshold = .*$", "threshold = 1000.0", head, count=1, flags=re.M)
    extra = "".join(
        f'[[rules]]\nid = "s-{n}"\ncategory = "signal"\nseverity = "low"\nweight = 1.0\n'
        f'description = "signal {n}"\ncondition = {{ signal = "{n}" }}\n\n'
        for n in signals
    )
    open(out_path, "w", encoding="utf-8").write(head + extra + rules)


def fired(pack, lines):
    """Per post, the set of rule ids (signals as `s-…`) that fire."""
    out = subprocess.run(
        [FLAGPOST, "scan", "--pack", pack], input="".join(lines), capture_output=True,
        text=True, check=True,
    ).stdout
    return [{r["id"] for r in json.loads(l)["rules"]} for l in out.splitlines() if l.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pack", default=os.path.join(ROOT, "extension/packs/recruitment.toml"))
    ap.add_argument("--held-out", required=True, help="comma-separated corpus file stems")
    ap.add_argument("--tweets", type=int, default=60000, help="tweets to learn from")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    held = set(a.held_out.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        pack = os.path.join(tmp, "features.toml")
        feature_pack(a.pack, pack)
        rows = []
        for f in sorted(glob.glob(os.path.join(ROOT, "crate/testdata/corpus/*.jsonl"))):
            stem = os.path.basename(f)[:-6]
            lines = [l for l in open(f, encoding="utf-8") if l.strip()]
            for line, fs in zip(lines, fired(pack, lines)):
                r = json.loads(line)
                if not r.get("needs_context"):
                    rows.append((stem, int(r["label"] in (1, True)), fs))
        tweets = []
        for f in sorted(glob.glob(os.path.join(CORPUS, "ira-tweets-*.jsonl.gz"))):
            lines = [l for l in gzip.open(f, "rt", encoding="utf-8") if l.strip()]
            tweets += [("tweet", 0, fs) for fs in fired(pack, lines)]
    rule_ids = {n for _, _, fs in rows for n in fs if not n.startswith("s-")}
    names = sorted({n for _, _, fs in rows + tweets for n in fs})
    index = {n: i for i, n in enumerate(names)}

    def matrix(items):
        m = np.zeros((len(items), len(names)))
        for k, (_, _, fs) in enumerate(items):
            for n in fs:
                m[k, index[n]] = 1
        return m

    random.Random(a.seed).shuffle(tweets)
    learn = [r for r in rows if r[0] not in held] + tweets[: a.tweets]
    judge, other_tweets = [r for r in rows if r[0] in held], tweets[a.tweets:]
    model = LogisticRegression(C=0.3, max_iter=3000, class_weight={0: 1, 1: 3})
    model.fit(matrix(learn), np.array([r[1] for r in learn]))
    p_judge = model.predict_proba(matrix(judge))[:, 1]
    p_tweets = model.predict_proba(matrix(other_tweets))[:, 1]
    y = np.array([r[1] for r in judge])
    rules_judge = np.array([bool(fs & rule_ids) for _, _, fs in judge])
    rules_tweets = np.array([bool(fs & rule_ids) for _, _, fs in other_tweets])

    def line(name, flag, tw):
        tp, fp = int((flag & (y == 1)).sum()), int((flag & (y == 0)).sum())
        pos = int((y == 1).sum())
        prec = tp / (tp + fp) if tp + fp else 0.0
        print(f"{name:28s} P {prec:.3f}  R {tp / pos:.3f} ({tp} of {pos}, FP {fp})  "
              f"tweets {int(tw.sum())} of {len(other_tweets)}")

    print(f"held out: {sorted(held)}; learned from {len(learn)} posts")
    line("rules alone", rules_judge, rules_tweets)
    for t in (0.6, 0.7, 0.8, 0.9, 0.95):
        line(f"scorer >= {t}", p_judge >= t, p_tweets >= t)
        line(f"rules or scorer >= {t}", rules_judge | (p_judge >= t), rules_tweets | (p_tweets >= t))
    # The scorer as a veto on the rules' flags.
    for t in (0.1, 0.2):
        line(f"rules and scorer >= {t}", rules_judge & (p_judge >= t), rules_tweets & (p_tweets >= t))


if __name__ == "__main__":
    main()
