"""Issue 18 C6: the event classifier on a real public corpus of Chinese citizen messages, before and after.

    .venv/bin/python bench/classifier_accuracy.py CORPUS [CORPUS ...] [--seeds 0 1 2] [--target 0.97]

Downloads nothing: the corpus is named on the command line. Formats:
- .xlsx with a header row: the text is the columns named by --text-columns that exist (default 留言主题 and
  留言详情, joined as a live event's title and description are), the label the first of --label-columns
  found (default 一级标签, 一级分类); without such a header, column A is the text and column B the label;
- .txt/.tsv/.csv: one message per line, "text<TAB>label"; a numeric label indexes --label-names.
The corpus measured for issue 18 is the public 2020 泰迪杯 C题 "智慧政务" set (附件2: citizen messages with
7 first-level labels). Its original .xlsx was not retrievable; two public copies were:
- raw 留言详情, numeric labels, as dev/test splits of competitors (union 8,029 texts, 7,557 after the
  de-duplication below): github.com/Asimok/DataMining_study_before C_data/processed/{dev,test}{3,4,_detail}.txt
  (commits 57ad42ab, ea397c0d) and github.com/Asimok/question_2 question1/data/{dev,test}_detail.txt
  (commit 1c7a6b11) — pass them all, the default --label-names fit;
- all 9,210 messages, 留言主题 + 留言详情 segmented with stop words removed, no header:
  github.com/jesHrz/tipdm 过程数据/T1/原始数据集分词结果.xlsx (commit 4223fed0).
Several files are read as one corpus. Texts that repeat (the same first --dedupe-prefix characters: a
file and its cleaned copy) are kept once, so no message is both trained on and tested.

Each seed makes a 70/30 stratified split. Two models are trained on the 70 and measured on the 30:
- before: the pipeline as it was before issue 18 (character 1–3-grams, every n-gram kept, sigmoid
  probabilities from three SVMs, one global threshold of 0.6);
- after: exactly what `classifier_train` runs (events.triage.classifier.model_train: jieba words and
  character n-grams, pruned, cross-validated on the 70, isotonic top-1 calibration, threshold suggested
  for the target precision from those held-out folds — never from the 30).
Printed per model: top-1 accuracy, per-class recall, precision and coverage (share auto-routed) at the
threshold the model would use, the best coverage any threshold reaches at the target precision on the 30
(the figure the issue's baseline quotes), model file size, and RSS added / first-prediction latency when
a fresh process loads the file.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import django
import joblib
import numpy as np

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangge.settings")
django.setup()

from classifier_prod import before, fresh_process  # noqa: E402

from wangge.events.triage.classifier import model_train  # noqa: E402

TEDDY_LABELS = "城乡建设,环境保护,交通运输,教育文体,劳动和社会保障,商贸旅游,卫生计生"


def read_xlsx(path: Path, text_columns: list[str], label_columns: list[str]) -> list[tuple[str, str]]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    rows = book.worksheets[0].iter_rows(values_only=True)
    first = next(rows, None)
    if first is None:
        return []
    header = [str(c or "").strip() for c in first]
    texts = [header.index(c) for c in text_columns if c in header]
    label = next((header.index(c) for c in label_columns if c in header), None)
    if not texts or label is None:  # no header: text, label
        texts, label, rows = [0], 1, iter([first, *rows])
    out = []
    for row in rows:
        if row is None or len(row) <= max(*texts, label):
            continue
        text = " ".join(str(row[i]).strip() for i in texts if row[i] is not None)
        if text.strip() and row[label] not in (None, ""):
            out.append((text.strip(), str(row[label]).strip()))
    book.close()
    return out


def read_lines(path: Path, names: list[str]) -> list[tuple[str, str]]:
    out = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) < 2 or not row[0].strip():
                continue
            text, label = "\t".join(row[:-1]).strip(), row[-1].strip()
            out.append((text, names[int(label)] if label.isdigit() and names else label))
    return out


def load(args: argparse.Namespace) -> list[tuple[str, str]]:
    seen: set[str] = set()
    out = []
    for name in args.corpus:
        path = Path(name)
        if path.suffix.lower() == ".xlsx":
            rows = read_xlsx(path, args.text_columns.split(","), args.label_columns.split(","))
        else:
            rows = read_lines(path, args.label_names.split(",") if args.label_names else [])
        for text, label in rows:
            key = "".join(text.split())[: args.dedupe_prefix]
            if key not in seen:
                seen.add(key)
                out.append((text, label))
    return out


def best_coverage(confidence: np.ndarray, correct: np.ndarray, target: float) -> float:
    """The largest share of messages that can be routed (most confident first) at `target` precision."""
    order = np.argsort(-confidence, kind="stable")
    hits = correct[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    ok = np.nonzero(precision >= target)[0]
    return float((ok.max() + 1) / len(hits)) if len(ok) else 0.0


def routed(confidence: np.ndarray, correct: np.ndarray, threshold: float | None) -> tuple[float, float]:
    """(precision, coverage) of the messages at or above `threshold`."""
    if threshold is None:
        return 1.0, 0.0
    chosen = confidence >= threshold
    return (float(correct[chosen].mean()) if chosen.any() else 1.0), float(chosen.mean())


def file_cost(bundle: dict[str, Any], compress: int) -> tuple[float, float, float]:
    buf = io.BytesIO()
    joblib.dump(bundle, buf, compress=compress)
    with tempfile.NamedTemporaryFile(suffix=".joblib") as fh:
        fh.write(buf.getvalue())
        fh.flush()
        rss, seconds = fresh_process(fh.name)
    return len(buf.getvalue()) / 1e6, rss, seconds


def evaluate(name: str, model: Any, calibrator: Any, threshold: float | None, test, target: float, cost):
    texts, labels = test
    proba = model.predict_proba(texts)
    predicted = model.classes_[proba.argmax(axis=1)]
    raw = proba.max(axis=1)
    confidence = calibrator.predict(raw) if calibrator is not None else raw
    correct = predicted == np.array(labels)
    precision, coverage = routed(confidence, correct, threshold)
    result = {
        "top1": float(correct.mean()),
        "recall": {c: float(correct[np.array(labels) == c].mean()) for c in sorted(set(labels))},
        "threshold": threshold,
        "precision": precision,
        "coverage": coverage,
        "best_coverage": best_coverage(confidence, correct, target),
        "size_mb": cost[0],
        "rss_mb": cost[1],
        "first_s": cost[2],
    }
    print(
        f"  {name:6s} top-1 {result['top1']:.4f}  at threshold {threshold if threshold is not None else '—'}: "
        f"precision {precision:.3f} coverage {coverage:.3f}  best coverage at ≥{target} precision "
        f"{result['best_coverage']:.3f}  file {cost[0]:.2f} MB  RSS +{cost[1]:.0f} MB  "
        f"first prediction {cost[2]:.2f} s",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="+")
    parser.add_argument("--text-columns", default="留言主题,留言详情")
    parser.add_argument("--label-columns", default="一级标签,一级分类")
    parser.add_argument("--label-names", default=TEDDY_LABELS, help="names of numeric labels, in order")
    parser.add_argument("--dedupe-prefix", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--test-size", type=float, default=0.3)
    parser.add_argument("--target", type=float, default=0.97)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--skip-before", action="store_true")
    args = parser.parse_args()
    from sklearn.model_selection import train_test_split

    data = load(args)
    texts, labels = [t for t, _ in data], [lab for _, lab in data]
    counts = Counter(labels)
    print(
        f"{len(texts)} messages, {len(counts)} classes: "
        + ", ".join(f"{c} {n}" for c, n in counts.most_common())
        + f"; median length {statistics.median(len(t) for t in texts):.0f} characters"
    )
    results: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for seed in args.seeds:
        train_x, test_x, train_y, test_y = train_test_split(
            texts, labels, test_size=args.test_size, stratify=labels, random_state=seed
        )
        print(f"seed {seed}: {len(train_x)} training, {len(test_x)} held out")
        if not args.skip_before:
            t = time.perf_counter()
            old = before(train_x, train_y)
            print(f"  before trained in {time.perf_counter() - t:.0f} s")
            cost = file_cost({"pipeline": old}, 0)
            results["before"].append(evaluate("before", old, None, 0.6, (test_x, test_y), args.target, cost))
        t = time.perf_counter()
        trained = model_train(train_x, train_y, folds=args.folds, target_precision=args.target)
        print(
            f"  after trained in {time.perf_counter() - t:.0f} s "
            f"({trained.folds} folds; cross-validated accuracy {trained.accuracy}, "
            f"suggested threshold {trained.suggested_threshold})"
        )
        bundle = {"pipeline": trained.pipeline, "calibrator": trained.calibrator}
        results["after"].append(
            evaluate(
                "after",
                trained.pipeline,
                trained.calibrator,
                trained.suggested_threshold,
                (test_x, test_y),
                args.target,
                file_cost(bundle, 3),
            )
        )
    print(f"\nmean over seeds {args.seeds}:")
    for name, rows in results.items():
        if not rows:
            continue
        mean = {
            k: statistics.mean(r[k] for r in rows) for k in ("top1", "precision", "coverage", "best_coverage")
        }
        recall = {c: statistics.mean(r["recall"][c] for r in rows) for c in rows[0]["recall"]}
        print(
            f"  {name:6s} top-1 {mean['top1']:.4f}  routed precision {mean['precision']:.3f} coverage "
            f"{mean['coverage']:.3f}  best coverage at ≥{args.target} {mean['best_coverage']:.3f}  "
            f"file {statistics.mean(r['size_mb'] for r in rows):.2f} MB  "
            f"RSS +{statistics.mean(r['rss_mb'] for r in rows):.0f} MB  "
            f"first prediction {statistics.mean(r['first_s'] for r in rows):.2f} s"
        )
        print("         recall " + ", ".join(f"{c} {v:.3f}" for c, v in recall.items()))


if __name__ == "__main__":
    main()
