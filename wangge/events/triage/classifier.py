"""Classify Chinese free text into the category tree, with a confidence (E2).

Two sources, in this order:
1. the active ClassifierVersion: a scikit-learn pipeline trained by `classifier_train` on this
   installation's own closed events (character n-grams: Chinese needs no word list), stored through
   Django's default storage, loaded once per process and reloaded when a newer version becomes active;
2. before an installation has history: the keywords configured on each leaf category (admin-editable).

Below settings.WANGGE_CLASSIFY_THRESHOLD the caller sends the event to a person (triage queue); the
person's decision is the category of the closed event and so becomes training data automatically.

Only files this module wrote are ever unpickled (the storage is the installation's own media storage).
"""

import io
import logging
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import joblib
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from wangge.audit.services import audit_record
from wangge.core.errors import InvalidInput
from wangge.core.guards import require_district_admin

from ..common.rules import urgency_words
from ..models import Category, ClassifierVersion, Event, Urgency

log = logging.getLogger(__name__)

# How often (seconds) a process re-checks the database for a newer active model / edited keywords.
# One tiny indexed query per interval, not per event.
RECHECK_SECONDS = 30.0
# Upper bound of training rows (the most recent closed events): keeps `train-classifier` bounded.
MAX_TRAINING_SAMPLES = 50_000
MIN_CLASSES = 2

# --- urgency ----------------------------------------------------------------------------------------


def suggest_urgency(text: str, category: Category | None = None) -> str:
    """特急 for life-safety words (火, 救命, 晕倒, 燃气泄漏, 困人 …), 紧急 for 漏水/断电 …, else 一般.

    The words are rows (`UrgencyWord`, edited in the admin); "ignore" words are taken out of the text
    first (火锅 is not a fire). `category` is accepted so installations can extend the rule; the default
    looks at the text only.
    """
    words = urgency_words()
    t = (text or "").lower()
    for w in words.get("ignore", ()):
        t = t.replace(w, " ")
    for level in (Urgency.CRITICAL, Urgency.URGENT):
        if any(k in t for k in words.get(str(level), ())):
            return str(level)
    return str(Urgency.NORMAL)


# --- keyword fallback -------------------------------------------------------------------------------


@dataclass
class _KeywordTable:
    loaded_at: float
    rows: list[tuple[Category, list[str]]]


_lock = threading.Lock()
_keywords: _KeywordTable | None = None


def _keyword_table() -> _KeywordTable:
    global _keywords
    table = _keywords
    if table is not None and time.monotonic() - table.loaded_at < RECHECK_SECONDS:
        return table
    cats = list(Category.objects.filter(active=True))
    parents = {c.parent_id for c in cats if c.parent_id}
    rows = [
        (c, [k.lower() for k in c.keyword_list()]) for c in cats if c.pk not in parents and c.keyword_list()
    ]
    table = _KeywordTable(loaded_at=time.monotonic(), rows=rows)
    _keywords = table
    return table


def keyword_scores(text: str) -> list[tuple[Category, float]]:
    """Matched keyword weight per leaf category, best first.

    Each distinct keyword counts once, weighted by its length; a keyword found only inside a longer
    matched keyword (垃圾 inside 烧垃圾) does not count, so the more specific category wins.
    """
    t = (text or "").lower()
    if not t:
        return []
    spans: list[tuple[int, int, int, str]] = []  # (start, end, row index, keyword)
    table = _keyword_table()
    for i, (_cat, kws) in enumerate(table.rows):
        for kw in kws:
            start = t.find(kw)
            while start != -1:
                spans.append((start, start + len(kw), i, kw))
                start = t.find(kw, start + 1)
    # Longest first; a span wholly inside an accepted longer span is dropped.
    spans.sort(key=lambda s: (-(s[1] - s[0]), s[0]))
    accepted: list[tuple[int, int]] = []
    matched: dict[int, set[str]] = {}
    for start, end, i, kw in spans:
        if any(a <= start and end <= b and (b - a) > (end - start) for a, b in accepted):
            continue
        accepted.append((start, end))
        matched.setdefault(i, set()).add(kw)
    scores = [(table.rows[i][0], float(sum(len(k) for k in kws))) for i, kws in matched.items()]
    scores.sort(key=lambda s: (-s[1], s[0].sort, s[0].code))
    return scores


def keyword_classify(text: str) -> tuple[Category | None, float]:
    """Best keyword category and a calibrated-ish confidence in [0, 1].

    confidence = share of all matched weight that the best category holds (competition between
    categories) × strength (a single two-character keyword is weak evidence, four characters or two
    keywords are full evidence), capped at 0.95: keywords are a starting point, never certainty.
    """
    scores = keyword_scores(text)
    if not scores:
        return None, 0.0
    best, best_w = scores[0]
    total = sum(w for _, w in scores)
    share = best_w / total
    strength = min(1.0, best_w / 4.0)
    return best, round(min(0.95, share * (0.5 + 0.5 * strength)), 3)


# --- trained model ----------------------------------------------------------------------------------


@dataclass
class _Loaded:
    checked_at: float
    version_id: int | None
    model: Any = None
    categories: dict[str, Category] | None = None


_model: _Loaded | None = None


def classifier_reset() -> None:
    """Forget cached keywords and model (tests; `classifier_train` calls it for its own process)."""
    global _model, _keywords
    with _lock:
        _model = None
        _keywords = None


def _active_version() -> tuple[int, str] | None:
    row = (
        ClassifierVersion.objects.filter(active=True)
        .order_by("-created_at", "-pk")
        .values_list("pk", "file")
        .first()
    )
    return (row[0], row[1]) if row else None


def _load(name: str) -> Any:
    from django.core.files.storage import default_storage

    with default_storage.open(name, "rb") as fh:
        return joblib.load(io.BytesIO(fh.read()))


def _current_model() -> _Loaded | None:
    """The active model, loaded at most once per version per process."""
    global _model
    loaded = _model
    now = time.monotonic()
    if loaded is not None and now - loaded.checked_at < RECHECK_SECONDS:
        return loaded if loaded.model is not None else None
    with _lock:
        active = _active_version()
        if active is None:
            _model = _Loaded(checked_at=now, version_id=None)
            return None
        if loaded is not None and loaded.version_id == active[0] and loaded.model is not None:
            loaded.checked_at = now
            return loaded
        try:
            bundle = _load(active[1])
        except Exception:  # a missing/corrupt file must not stop intake: keywords take over
            log.exception("分类模型文件无法加载 (version %s)，改用关键词", active[0])
            _model = _Loaded(checked_at=now, version_id=active[0])
            return None
        cats = {c.code: c for c in Category.objects.filter(code__in=bundle["codes"], active=True)}
        _model = _Loaded(checked_at=now, version_id=active[0], model=bundle["pipeline"], categories=cats)
        return _model


def active_model_version() -> int | None:
    """Id of the ClassifierVersion this process predicts with (None = keywords)."""
    loaded = _current_model()
    return loaded.version_id if loaded else None


def classify_text(text: str) -> tuple[Category | None, float]:
    """(category, confidence in [0, 1]) for a report's text; (None, 0.0) when nothing fits."""
    text = (text or "").strip()
    if not text:
        return None, 0.0
    loaded = _current_model()
    if loaded is not None and loaded.categories is not None:
        proba = loaded.model.predict_proba([text])[0]
        classes = list(loaded.model.classes_)
        best = max(range(len(proba)), key=lambda i: proba[i])
        category = loaded.categories.get(str(classes[best]))
        if category is not None:
            return category, round(float(proba[best]), 3)
        # The predicted category was deactivated since training: keywords decide until retraining.
    return keyword_classify(text)


def classify_texts(texts: list[str]) -> list[tuple[Category | None, float]]:
    """`classify_text` for a batch (bulk intake): one vectorised model call instead of one per text."""
    loaded = _current_model()
    if loaded is None or loaded.categories is None:
        return [classify_text(t) for t in texts]
    cleaned = [(t or "").strip() for t in texts]
    idx = [i for i, t in enumerate(cleaned) if t]
    results: list[tuple[Category | None, float]] = [(None, 0.0)] * len(texts)
    if not idx:
        return results
    proba = loaded.model.predict_proba([cleaned[i] for i in idx])
    classes = list(loaded.model.classes_)
    for row, i in zip(proba, idx, strict=True):
        best = int(row.argmax())
        category = loaded.categories.get(str(classes[best]))
        results[i] = (category, round(float(row[best]), 3)) if category else keyword_classify(cleaned[i])
    return results


# --- training ---------------------------------------------------------------------------------------


def event_text(title: str, description: str) -> str:
    """Training/prediction text of an event: the description, with the title when it adds something."""
    title, description = (title or "").strip(), (description or "").strip()
    if not title or title in description:
        return description
    return f"{title} {description}"


def training_rows(*, limit: int = MAX_TRAINING_SAMPLES) -> list[tuple[str, str]]:
    """(text, category code) of closed, not rejected, not merged events with an active category."""
    qs = (
        Event.objects.filter(
            status__is_closed=True,
            category__isnull=False,
            category__active=True,
            master__isnull=True,
            reject_reason="",
        )
        .exclude(status__code="rejected")
        .order_by("-created_at")
        .values_list("title", "description", "category__code")[:limit]
    )
    return [(event_text(t, d), code) for t, d, code in qs]


def _pipeline(min_count: int) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline
    from sklearn.svm import LinearSVC

    inner_cv = 3 if min_count >= 8 else 2
    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=1),
            ),
            (
                "clf",
                CalibratedClassifierCV(LinearSVC(C=1.0), method="sigmoid", cv=inner_cv),
            ),
        ]
    )


@dataclass
class TrainingReport:
    samples: int
    classes: int
    dropped_classes: dict[str, int]
    cv_accuracy: float
    folds: int


def classifier_train(
    *, min_samples_per_class: int = 5, folds: int = 5, actor: Any = None
) -> ClassifierVersion:
    """Train on the installation's own closed events, cross-validate, store and activate the model.

    Classes with fewer than `min_samples_per_class` examples are left out (their events fall back to
    keywords and to people). Refuses with a Chinese error when too little history exists.
    The returned version carries `.report` (TrainingReport) for the command line.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    require_district_admin(actor, "仅限区级管理员训练分类模型")
    if min_samples_per_class < 2:
        raise InvalidInput("每个分类的最少样本数不能小于2", code="invalid_min_samples")
    if folds < 2:
        raise InvalidInput("交叉验证折数不能小于2", code="invalid_folds")
    rows = training_rows()
    counts = Counter(code for _, code in rows)
    kept = {code for code, n in counts.items() if n >= min_samples_per_class}
    dropped = {code: n for code, n in counts.items() if code not in kept}
    data = [(t, c) for t, c in rows if c in kept]
    if len(kept) < MIN_CLASSES:
        raise InvalidInput(
            f"已结案事件太少，无法训练分类模型：至少需要{MIN_CLASSES}个分类、"
            f"每个分类至少{min_samples_per_class}条已结案事件（现有{len(rows)}条，"
            f"满足条件的分类{len(kept)}个）",
            code="insufficient_training_data",
            details={
                "samples": len(rows),
                "classes": len(kept),
                "min_samples_per_class": min_samples_per_class,
            },
        )
    texts = [t for t, _ in data]
    labels = [c for _, c in data]
    min_count = min(counts[c] for c in kept)
    n_splits = max(2, min(folds, min_count))
    pipeline = _pipeline(min_count - math.ceil(min_count / n_splits))
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=0)
    scores = cross_val_score(pipeline, texts, labels, cv=cv, scoring="accuracy", n_jobs=1)
    accuracy = round(float(scores.mean()), 4)
    pipeline = _pipeline(min_count)
    pipeline.fit(texts, labels)
    buf = io.BytesIO()
    joblib.dump({"pipeline": pipeline, "codes": sorted(kept), "trained_at": timezone.now()}, buf)
    report = TrainingReport(
        samples=len(texts), classes=len(kept), dropped_classes=dropped, cv_accuracy=accuracy, folds=n_splits
    )
    with transaction.atomic():
        ClassifierVersion.objects.filter(active=True).update(active=False)
        version = ClassifierVersion(
            samples=len(texts), categories=len(kept), cv_accuracy=accuracy, active=True
        )
        stamp = timezone.now().strftime("%Y%m%d%H%M%S")
        version.file.save(f"model-{stamp}.joblib", ContentFile(buf.getvalue()), save=False)
        version.save()
        audit_record(
            actor=actor,
            action="classifier.train",
            obj=version,
            after={
                "samples": len(texts),
                "categories": len(kept),
                "cv_accuracy": accuracy,
                "folds": n_splits,
                "dropped": dropped,
            },
        )
    classifier_reset()
    version.report = report  # type: ignore[attr-defined]
    return version


def classifier_versions() -> list[ClassifierVersion]:
    """All trained versions, newest first (for admins; the model carries no personal data)."""
    return list(ClassifierVersion.objects.order_by("-created_at", "-pk"))


def classifier_status() -> dict[str, Any]:
    """What the classifier runs on now, for the admin API."""
    versions = classifier_versions()
    active = next((v for v in versions if v.active), None)
    leaf_with_keywords = (
        Category.objects.filter(active=True)
        .exclude(keywords="")
        .exclude(Q(children__active=True))
        .distinct()
        .count()
    )
    return {
        "source": "model" if active else "keywords",
        "threshold": float(settings.WANGGE_CLASSIFY_THRESHOLD),
        "keyword_categories": leaf_with_keywords,
        "active": active,
        "versions": versions,
    }
