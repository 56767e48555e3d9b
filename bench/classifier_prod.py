"""Issue 18 C3: the event classifier in production, before/after — model file size, RSS added by loading it,
first-prediction latency in a fresh process, accuracy on the same held-out split. Downloads nothing: the
corpus is synthetic (class phrases inside filler drawn from 2,500 common characters, so the character n-gram
vocabulary grows like a real history's).

    .venv/bin/python bench/classifier_prod.py [--texts 12000] [--classes 60]
"""

import argparse
import io
import os
import random
import subprocess
import sys
import tempfile
import time

import django
import joblib

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangge.settings")
django.setup()

from wangge.events.triage.classifier import model_fit  # noqa: E402

# A web process has Django set up before it loads the model (and the model's word features import from
# wangge), so the probe starts counting after django.setup().
PROBE = r"""
import os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangge.settings")
django.setup()
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
t0 = time.perf_counter(); base = rss()
import joblib
bundle = joblib.load(sys.argv[1])
model = bundle["pipeline"] if isinstance(bundle, dict) else bundle
model.predict_proba(["楼下烧烤摊油烟太大了"])
print(f"{rss() - base:.1f} {time.perf_counter() - t0:.2f}")
"""


def corpus(n: int, classes: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    chars = [chr(c) for c in range(0x4E00, 0x4E00 + 2500)]
    weights = [1 / (i + 1) for i in range(len(chars))]  # Zipf-like, as in real text
    phrases = {
        f"c{k:02d}": ["".join(rng.choices(chars, k=rng.randint(2, 4))) for _ in range(10)]
        for k in range(classes)
    }
    codes = list(phrases)
    texts, labels = [], []
    for _ in range(n):
        code = rng.choice(codes)
        parts = [*rng.choices(phrases[code], k=rng.randint(1, 3))]
        if rng.random() < 0.25:  # a word of another class: the task is not trivially separable
            parts.append(rng.choice(phrases[rng.choice(codes)]))
        filler = ["".join(rng.choices(chars, weights, k=rng.randint(5, 25))) for _ in range(len(parts))]
        texts.append("，".join(p + f for p, f in zip(parts, filler, strict=True)))
        labels.append(code)
    return texts, labels


def before(texts: list[str], labels: list[str]):
    """The pipeline as it was before issue 18 (every n-gram, three SVMs, float64, uncompressed)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline
    from sklearn.svm import LinearSVC

    pipe = Pipeline(
        [
            ("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=1)),
            ("clf", CalibratedClassifierCV(LinearSVC(C=1.0), method="sigmoid", cv=3)),
        ]
    )
    return pipe.fit(texts, labels)


def fresh_process(path: str) -> tuple[float, float]:
    """(MB of RSS added, seconds) for loading the model file and one prediction in a new interpreter, as
    a web process pays it before its first request (bench/classifier_accuracy.py uses it too)."""
    out = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", PROBE, path], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1])


def measure(name: str, model, compress: int, test: tuple[list[str], list[str]]) -> None:
    buf = io.BytesIO()
    joblib.dump({"pipeline": model}, buf, compress=compress)
    with tempfile.NamedTemporaryFile(suffix=".joblib") as fh:
        fh.write(buf.getvalue())
        fh.flush()
        rss, seconds = fresh_process(fh.name)
    accuracy = sum(p == y for p, y in zip(model.predict(test[0]), test[1], strict=True)) / len(test[1])
    print(
        f"{name:7s} file {len(buf.getvalue()) / 1e6:7.2f} MB  RSS +{rss:6.1f} MB  "
        f"first prediction (load+predict, fresh process) {seconds:5.2f} s  accuracy {accuracy:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=12000)
    parser.add_argument("--classes", type=int, default=60)
    args = parser.parse_args()
    texts, labels = corpus(args.texts, args.classes)
    cut = int(len(texts) * 0.8)
    train, test = (texts[:cut], labels[:cut]), (texts[cut:], labels[cut:])
    print(f"{len(train[0])} training texts, {len(test[0])} held out, {args.classes} classes")
    t = time.perf_counter()
    old = before(*train)
    print(f"before: trained in {time.perf_counter() - t:.1f} s")
    measure("before", old, 0, test)
    t = time.perf_counter()
    new = model_fit(*train)
    print(f"after:  trained in {time.perf_counter() - t:.1f} s")
    measure("after", new, 3, test)


if __name__ == "__main__":
    main()
