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
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

import joblib
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from wangge.audit.services import audit_record
from wangge.core.errors import Conflict, InvalidInput, NotFound, ServiceError
from wangge.core.guards import require_district_admin
from wangge.core.scope import scope_q

from ..models import (
    Category,
    Channel,
    ClassifierSchedule,
    ClassifierTraining,
    ClassifierVersion,
    Event,
    TimelineEntry,
)
from .urgency import suggest_urgency  # noqa: F401 - its historical home; read in context since issue 18

log = logging.getLogger(__name__)

# How often (seconds) a process re-checks the database for a newer active model / edited keywords.
# One tiny indexed query per interval, not per event.
RECHECK_SECONDS = 30.0
# Upper bound of training rows (the most recent closed events): keeps `train-classifier` bounded.
MAX_TRAINING_SAMPLES = 50_000
MIN_CLASSES = 2

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
    calibrator: Any = None  # top-1 confidence calibration (issue 18 C4); None in models trained before


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
        _model = _Loaded(
            checked_at=now,
            version_id=active[0],
            model=bundle["pipeline"],
            categories=cats,
            calibrator=bundle.get("calibrator"),
        )
        return _model


def active_model_version() -> int | None:
    """Id of the ClassifierVersion this process predicts with (None = keywords)."""
    loaded = _current_model()
    return loaded.version_id if loaded else None


def _predict(loaded: _Loaded, texts: list[str]) -> list[tuple[str, float]]:
    """(code, confidence) per text: the most probable class, its probability mapped through the top-1
    calibrator (the share of held-out predictions at that score that were right)."""
    proba = loaded.model.predict_proba(texts)
    classes = loaded.model.classes_
    best = proba.argmax(axis=1)
    raw = proba[range(len(texts)), best]
    confidence = loaded.calibrator.predict(raw) if loaded.calibrator is not None else raw
    return [(str(classes[b]), float(c)) for b, c in zip(best, confidence, strict=True)]


def classify_text(text: str) -> tuple[Category | None, float]:
    """(category, confidence in [0, 1]) for a report's text; (None, 0.0) when nothing fits."""
    text = (text or "").strip()
    if not text:
        return None, 0.0
    loaded = _current_model()
    if loaded is not None and loaded.categories is not None:
        code, confidence = _predict(loaded, [text])[0]
        category = loaded.categories.get(code)
        if category is not None:
            return category, round(confidence, 3)
        # The predicted category was deactivated since training: keywords decide until retraining.
    return keyword_classify(text)


def classify_texts(texts: list[str]) -> list[tuple[Category | None, float]]:
    """`classify_text` for a batch (bulk intake): one vectorised model call instead of one per text.
    Applies no urgency: the history import classifies with this and must never raise urgency."""
    loaded = _current_model()
    if loaded is None or loaded.categories is None:
        return [classify_text(t) for t in texts]
    cleaned = [(t or "").strip() for t in texts]
    idx = [i for i, t in enumerate(cleaned) if t]
    results: list[tuple[Category | None, float]] = [(None, 0.0)] * len(texts)
    if not idx:
        return results
    for (code, confidence), i in zip(_predict(loaded, [cleaned[i] for i in idx]), idx, strict=True):
        category = loaded.categories.get(code)
        results[i] = (category, round(confidence, 3)) if category else keyword_classify(cleaned[i])
    return results


def classifier_warm() -> int | None:
    """Load the active model and run one prediction now, so that no live request pays for loading the
    file and importing scikit-learn (3.5–7.8 s measured). Called by `wangge.wsgi` when a web process
    starts; never by tests or management commands. Returns the loaded version (None: keywords).
    A database or storage that is not ready leaves the lazy load in place and is only logged."""
    try:
        loaded = _current_model()
        if loaded is not None:
            _predict(loaded, ["预热"])
            return loaded.version_id
    except Exception:  # noqa: BLE001 - a server must start even if the model cannot be warmed
        log.exception("分类模型预加载失败，首次分类时再加载")
    return None


# --- training ---------------------------------------------------------------------------------------


def event_text(title: str, description: str) -> str:
    """Training/prediction text of an event: the description, with the title when it adds something."""
    title, description = (title or "").strip(), (description or "").strip()
    if not title or title in description:
        return description
    return f"{title} {description}"


# Issue 18 C5: a category a person corrected (the suggestion was wrong) counts this many times in training:
# the model learns most from its own mistakes.
CORRECTION_WEIGHT = 2.0


def confirmed_q() -> Q:
    """Events whose category a person set or confirmed: accepted by a person (受理 is where staff confirm
    or correct the category, and the only way out of the initial status) or imported history (the old
    system's decision). A category the classifier set that nobody has looked at yet is not a label: the
    model would learn its own guesses."""
    accepted = TimelineEntry.objects.filter(event=OuterRef("pk"), action="accept")
    return Q(channel=Channel.HISTORY) | Q(Exists(accepted))


def _labelled() -> Any:
    return Event.objects.filter(
        confirmed_q(),
        category__isnull=False,
        category__active=True,
        master__isnull=True,
        reject_reason="",
    ).exclude(status__code="rejected")


def label_count() -> int:
    """How many events carry a person-confirmed category now (the schedule compares it with the last
    training's)."""
    return int(_labelled().count())


def labelled_rows(*, limit: int = MAX_TRAINING_SAMPLES) -> list[tuple[str, str, float]]:
    """(text, category code, weight) of the most recent events with a person-confirmed category (open or
    closed, not rejected, not merged, active category); a corrected category (`corrected_from` on the
    accept step) weighs CORRECTION_WEIGHT."""
    corrected = TimelineEntry.objects.filter(
        event=OuterRef("pk"), action="accept", data__has_key="corrected_from"
    )
    qs = (
        _labelled()
        .annotate(corrected=Exists(corrected))
        .order_by("-created_at", "-pk")
        .values_list("title", "description", "category__code", "corrected")[:limit]
    )
    return [(event_text(t, d), code, CORRECTION_WEIGHT if fixed else 1.0) for t, d, code, fixed in qs]


def training_rows(*, limit: int = MAX_TRAINING_SAMPLES) -> list[tuple[str, str]]:
    """(text, category code) of `labelled_rows`."""
    return [(text, code) for text, code, _ in labelled_rows(limit=limit)]


# Model size (issue 18 C3): a feature kept only if it occurs in MIN_DF training texts, and of those only the
# most informative (chi²) within each view's budget; weights as float32; the file compressed. A 128 MB model
# with every n-gram of the history became a few MB at the same accuracy (bench/classifier_prod.py).
# Features (issue 18 C6): jieba words (search mode) and character 1–3-grams side by side, one linear SVM on
# both. On 7,557 real citizen messages (bench/classifier_accuracy.py, three 70/30 splits) top-1 accuracy went
# from 0.899 to 0.915 and the share auto-routed at ≥0.97 precision from 0.715 (best threshold) to 0.789
# (the threshold training suggests). Wider budgets or no pruning measured the same within the splits' noise.
MIN_DF = 2
WORD_FEATURES = 20_000
CHAR_FEATURES = 40_000
MAX_FEATURES = WORD_FEATURES + CHAR_FEATURES
SVM_C = 2.0
DEFAULT_TARGET_PRECISION = 0.97


def _view(kind: str, vocabulary: list[str] | None = None, min_df: int = MIN_DF) -> Any:
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from .textfeatures import words

    common: dict[str, Any] = {
        "sublinear_tf": True,
        "dtype": np.float32,
        "vocabulary": vocabulary,
        "min_df": 1 if vocabulary is not None else min_df,
    }
    if kind == "words":
        return TfidfVectorizer(tokenizer=words, token_pattern=None, lowercase=False, **common)
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), **common)


def _selected_terms(kind: str, texts: list[str], labels: list[str], budget: int) -> list[str]:
    """The view's terms in MIN_DF texts (every term when the set is too small for that), the `budget`
    most informative by chi² when there are more."""
    from sklearn.feature_selection import SelectKBest, chi2

    full = _view(kind)
    try:
        matrix = full.fit_transform(texts)
    except ValueError:  # no term in two texts (tiny sets): every term is kept
        full = _view(kind, min_df=1)
        matrix = full.fit_transform(texts)
    terms = full.get_feature_names_out()
    if len(terms) > budget:
        terms = terms[SelectKBest(chi2, k=budget).fit(matrix, labels).get_support()]
    return [str(t) for t in terms]


def model_fit(
    texts: list[str],
    labels: list[str],
    *,
    word_features: int = WORD_FEATURES,
    char_features: int = CHAR_FEATURES,
    sample_weight: list[float] | None = None,
) -> Any:
    """A fitted pipeline (tf-idf of the selected words and character n-grams → linear SVM with sigmoid
    probabilities).

    The terms are chosen first and each vectoriser is rebuilt on them alone, so the stored vocabulary is
    only what the model uses and the tf-idf normalisation is the same in training and prediction. The
    probabilities are calibrated on held-out folds of this training set and one SVM is kept (not one per
    fold, which tripled the file)."""
    import numpy as np
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    views = [
        (kind, _view(kind, vocabulary=_selected_terms(kind, texts, labels, budget)))
        for kind, budget in (("words", word_features), ("chars", char_features))
    ]
    min_count = min(Counter(labels).values())
    pipeline = Pipeline(
        [
            ("features", FeatureUnion(views)),
            (
                "clf",
                CalibratedClassifierCV(
                    LinearSVC(C=SVM_C), method="sigmoid", cv=min(3, max(2, min_count)), ensemble=False
                ),
            ),
        ]
    )
    if sample_weight is not None and len(set(sample_weight)) > 1:
        pipeline.fit(texts, labels, clf__sample_weight=np.asarray(sample_weight, dtype=np.float64))
    else:
        pipeline.fit(texts, labels)
    for calibrated in pipeline.named_steps["clf"].calibrated_classifiers_:
        svm = calibrated.estimator
        svm.coef_ = np.asarray(svm.coef_, dtype=np.float32)
    return pipeline


@dataclass
class TrainingReport:
    samples: int
    classes: int
    dropped_classes: dict[str, int]
    cv_accuracy: float
    folds: int
    # Issue 18 C4: per-class recall on held-out folds, precision and coverage at each threshold, and the
    # lowest threshold whose auto-routed share reaches the administrator's precision target.
    per_class_recall: dict[str, float] = field(default_factory=dict)
    curve: list[dict[str, float]] = field(default_factory=list)
    target_precision: float = DEFAULT_TARGET_PRECISION
    suggested_threshold: float | None = None
    # Issue 18 C5: person-confirmed categories read (before small classes were dropped), and how many of
    # the training rows were corrections of the classifier's suggestion (weighted CORRECTION_WEIGHT).
    labels: int = 0
    corrections: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


CURVE_THRESHOLDS = [round(0.05 * i, 2) for i in range(4, 20)] + [0.96, 0.97, 0.98, 0.99]
# The suggestion looks at every hundredth: with the 0.05 steps of the curve shown to administrators a
# target met at 0.86 was only found at 0.90, routing several points fewer reports (bench/classifier_accuracy.py).
SUGGEST_THRESHOLDS = [round(0.01 * i, 2) for i in range(20, 100)]


def precision_curve(
    confidences: list[float], correct: list[bool], thresholds: list[float] = CURVE_THRESHOLDS
) -> list[dict[str, float]]:
    """Precision and coverage (share of reports auto-routed) if everything at or above each threshold
    were routed without a person."""
    n = len(confidences)
    rows = []
    for t in thresholds:
        chosen = [ok for c, ok in zip(confidences, correct, strict=True) if c >= t]
        rows.append(
            {
                "threshold": t,
                "precision": round(sum(chosen) / len(chosen), 4) if chosen else 1.0,
                "coverage": round(len(chosen) / n, 4) if n else 0.0,
            }
        )
    return rows


def suggest_threshold(curve: list[dict[str, float]], target: float) -> float | None:
    """The lowest threshold whose routed reports reach `target` precision (with something routed)."""
    for row in curve:
        if row["coverage"] > 0 and row["precision"] >= target:
            return row["threshold"]
    return None


Progress = Callable[[str, int, int], None]


def _no_progress(step: str, done: int, total: int) -> None:
    return None


def _training_data(
    *, actor: Any, min_samples_per_class: int, folds: int, target_precision: float
) -> tuple[list[tuple[str, str, float]], set[str], Counter[str], dict[str, int], int]:
    """Check the caller and the parameters, read the rows; refuse with a Chinese error when too few."""
    require_district_admin(actor, "仅限区级管理员训练分类模型")
    if min_samples_per_class < 2:
        raise InvalidInput("每个分类的最少样本数不能小于2", code="invalid_min_samples")
    if folds < 2:
        raise InvalidInput("交叉验证折数不能小于2", code="invalid_folds")
    if not 0.5 <= target_precision < 1.0:
        raise InvalidInput("目标准确率须在0.5到1之间", code="invalid_target_precision")
    rows = labelled_rows()
    counts = Counter(code for _, code, _ in rows)
    kept = {code for code, n in counts.items() if n >= min_samples_per_class}
    dropped = {code: n for code, n in counts.items() if code not in kept}
    if len(kept) < MIN_CLASSES:
        raise InvalidInput(
            f"已确认分类的事件太少，无法训练分类模型：至少需要{MIN_CLASSES}个分类、"
            f"每个分类至少{min_samples_per_class}条经人工受理确认分类的事件（现有{len(rows)}条，"
            f"满足条件的分类{len(kept)}个）",
            code="insufficient_training_data",
            details={
                "samples": len(rows),
                "classes": len(kept),
                "min_samples_per_class": min_samples_per_class,
            },
        )
    return [row for row in rows if row[1] in kept], kept, counts, dropped, len(rows)


@dataclass
class TrainedModel:
    """A model fitted on all the rows, with what its held-out folds said of it."""

    pipeline: Any
    calibrator: Any
    accuracy: float
    folds: int
    per_class_recall: dict[str, float]
    curve: list[dict[str, float]]
    suggested_threshold: float | None


def model_train(
    texts: list[str],
    labels: list[str],
    *,
    weights: list[float] | None = None,
    folds: int = 5,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    progress: Progress = _no_progress,
) -> TrainedModel:
    """Cross-validate `model_fit` on stratified folds, fit the top-1 confidence calibration (isotonic: a
    confidence of 0.9 means 9 in 10 such held-out predictions were right) and the threshold for
    `target_precision`, then fit the model on every row. No database: `classifier_train` stores the
    result and bench/classifier_accuracy.py measures this same path on a public corpus."""
    import numpy as np
    from sklearn.isotonic import IsotonicRegression
    from sklearn.model_selection import StratifiedKFold

    y = np.array(labels)
    w = np.array(weights if weights is not None else [1.0] * len(texts))
    n_splits = max(2, min(folds, min(Counter(labels).values())))
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=0)
    raw = np.zeros(len(texts))
    predicted = np.empty(len(texts), dtype=object)
    for i, (train, test) in enumerate(cv.split(texts, y)):
        progress("交叉验证", i, n_splits + 1)
        fold = model_fit([texts[j] for j in train], list(y[train]), sample_weight=list(w[train]))
        proba = fold.predict_proba([texts[j] for j in test])
        predicted[test] = fold.classes_[proba.argmax(axis=1)]
        raw[test] = proba.max(axis=1)
    correct = predicted == y
    calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, correct)
    confidences, hits = [float(c) for c in calibrator.predict(raw)], [bool(c) for c in correct]
    curve = precision_curve(confidences, hits)
    progress("训练最终模型", n_splits, n_splits + 1)
    return TrainedModel(
        pipeline=model_fit(list(texts), list(labels), sample_weight=list(w)),
        calibrator=calibrator,
        accuracy=round(float(correct.mean()), 4),
        folds=n_splits,
        per_class_recall={code: round(float(correct[y == code].mean()), 4) for code in sorted(set(labels))},
        curve=curve,
        suggested_threshold=suggest_threshold(
            precision_curve(confidences, hits, SUGGEST_THRESHOLDS), target_precision
        ),
    )


def classifier_train(
    *,
    min_samples_per_class: int = 5,
    folds: int = 5,
    actor: Any = None,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    progress: Progress = _no_progress,
) -> ClassifierVersion:
    """Train on the installation's own person-confirmed categories (`labelled_rows`: corrections weigh
    more), cross-validate, calibrate, store and activate.

    Classes with fewer than `min_samples_per_class` examples are left out (their events fall back to
    keywords and to people). Refuses with a Chinese error when too little history exists. Held-out folds
    give the accuracy, per-class recall, the top-1 confidence calibration (isotonic: a confidence of 0.9
    means 9 in 10 such predictions were right) and the threshold suggested for `target_precision`.
    `progress(step, done, total)` is called as folds finish (the background task records it).
    The returned version carries `.report` (TrainingReport) for the command line and the task.
    """
    progress("读取训练数据", 0, 1)
    data, kept, _, dropped, labelled = _training_data(
        actor=actor,
        min_samples_per_class=min_samples_per_class,
        folds=folds,
        target_precision=target_precision,
    )
    weights = [w for _, _, w in data]
    trained = model_train(
        [t for t, _, _ in data],
        [c for _, c, _ in data],
        weights=weights,
        folds=folds,
        target_precision=target_precision,
        progress=progress,
    )
    accuracy, n_splits, recall = trained.accuracy, trained.folds, trained.per_class_recall
    buf = io.BytesIO()
    joblib.dump(
        {
            "pipeline": trained.pipeline,
            "calibrator": trained.calibrator,
            "codes": sorted(kept),
            "trained_at": timezone.now(),
        },
        buf,
        compress=3,
    )
    report = TrainingReport(
        samples=len(data),
        classes=len(kept),
        dropped_classes=dropped,
        cv_accuracy=accuracy,
        folds=n_splits,
        per_class_recall=recall,
        curve=trained.curve,
        target_precision=target_precision,
        suggested_threshold=trained.suggested_threshold,
        labels=labelled,
        corrections=sum(1 for w in weights if w > 1.0),
    )
    with transaction.atomic():
        ClassifierVersion.objects.filter(active=True).update(active=False)
        version = ClassifierVersion(
            samples=len(data), categories=len(kept), cv_accuracy=accuracy, active=True
        )
        stamp = timezone.now().strftime("%Y%m%d%H%M%S")
        version.file.save(f"model-{stamp}.joblib", ContentFile(buf.getvalue()), save=False)
        version.save()
        audit_record(
            actor=actor,
            action="classifier.train",
            obj=version,
            after={
                "samples": len(data),
                "categories": len(kept),
                "cv_accuracy": accuracy,
                "folds": n_splits,
                "dropped": dropped,
                "per_class_recall": recall,
                "target_precision": target_precision,
                "suggested_threshold": report.suggested_threshold,
                "corrections": report.corrections,
            },
        )
    progress("完成", n_splits + 1, n_splits + 1)
    classifier_reset()
    version.report = report  # type: ignore[attr-defined]
    return version


# --- background training, its durable record and the schedule (issue 18 C5) --------------------------

# A queued or running training with no progress for this long is recorded as interrupted by the sweep
# (its worker died or never ran); each cross-validation fold reports progress.
TRAINING_STALE_HOURS = 6
TRAINING_STATUS_LABELS = dict(ClassifierTraining.State.choices)


def classifier_train_enqueue(
    *,
    actor: Any,
    min_samples_per_class: int = 5,
    folds: int = 5,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    scheduled: bool = False,
) -> ClassifierTraining:
    """Check the request now (permission, parameters, enough confirmed categories: the same refusals as
    training), record a queued ClassifierTraining and hand the training to the background worker.
    Training takes minutes on a real history and must not run inside an HTTP request (issue 18 C3)."""
    from wangge.core.tasks import task_enqueue

    _training_data(
        actor=actor,
        min_samples_per_class=min_samples_per_class,
        folds=folds,
        target_precision=target_precision,
    )
    params = {
        "min_samples_per_class": min_samples_per_class,
        "folds": folds,
        "target_precision": target_precision,
    }
    with transaction.atomic():
        training = ClassifierTraining.objects.create(
            params=params,
            scheduled=scheduled,
            step="排队等待",
            created_by=actor if getattr(actor, "pk", None) else None,
            updated_at=timezone.now(),
        )
        audit_record(
            actor=actor,
            action="classifier.train_enqueue",
            obj=training,
            after={**params, "scheduled": scheduled},
        )
    # Enqueued after the row is committed: a worker (or the immediate backend) always finds it.
    try:
        result = task_enqueue("wangge.events.tasks.classifier_train_run", training_id=training.pk)
    except Exception as exc:  # the queue (Redis, the database) refused: the record says so
        log.exception("分类模型训练任务无法提交 (training %s)", training.pk)
        _training_finish(
            training_id=training.pk,
            status=ClassifierTraining.State.FAILED,
            error_code="queue_unavailable",
            error="后台任务队列不可用，请稍后再试",
        )
        raise Conflict("后台任务队列不可用，请稍后再试", code="queue_unavailable") from exc
    ClassifierTraining.objects.filter(pk=training.pk).update(task_id=str(result.id)[:64])
    training.refresh_from_db()
    return training


def _progress_recorder(training_id: int) -> Progress:
    def record(step: str, done: int, total: int) -> None:
        # One UPDATE, committed at once (the task runs outside any transaction): the status page of the
        # web process reads it from the database while training goes on.
        ClassifierTraining.objects.filter(pk=training_id).update(
            step=step[:100], done=done, total=total, updated_at=timezone.now()
        )

    return record


def _training_finish(
    *,
    training_id: int,
    status: str,
    report: dict[str, Any] | None = None,
    version: ClassifierVersion | None = None,
    error_code: str = "",
    error: str = "",
) -> None:
    now = timezone.now()
    with transaction.atomic():
        training = ClassifierTraining.objects.select_for_update().filter(pk=training_id).first()
        if training is None:
            return
        training.status = status
        training.report = report or {}
        training.version = version
        training.error_code = error_code[:64]
        training.error = error[:500]
        training.finished_at = training.updated_at = now
        if status == ClassifierTraining.State.DONE:
            training.step, training.done = "完成", max(training.done, training.total)
        training.save()
        if status == ClassifierTraining.State.FAILED:
            audit_record(
                actor=None,
                action="classifier.train_failed",
                obj=training,
                after={"code": error_code, "message": error[:500]},
            )


def classifier_training_run(*, training_id: int) -> dict[str, Any]:
    """Run one queued training (the background task): status running, a progress step per fold, then
    done with the report and the new version, or failed with the reason. A refusal (the history changed
    since the request was checked, the starter is no longer a district admin) is recorded with its
    Chinese message; an unexpected error only with its type (the server log has the rest: exception
    texts can quote event texts). A task delivered twice trains once."""
    now = timezone.now()
    training = ClassifierTraining.objects.select_related("created_by").filter(pk=training_id).first()
    if training is None:
        return {"ok": False, "code": "not_found", "message": "训练记录不存在"}
    won = ClassifierTraining.objects.filter(pk=training_id, status=ClassifierTraining.State.QUEUED).update(
        status=ClassifierTraining.State.RUNNING, started_at=now, updated_at=now, step="读取训练数据"
    )
    if not won:
        return {"ok": False, "code": "already_started", "message": "该训练已开始或已结束"}
    params = training.params or {}
    try:
        version = classifier_train(
            actor=training.created_by,
            min_samples_per_class=int(params.get("min_samples_per_class", 5)),
            folds=int(params.get("folds", 5)),
            target_precision=float(params.get("target_precision", DEFAULT_TARGET_PRECISION)),
            progress=_progress_recorder(training_id),
        )
    except ServiceError as exc:
        _training_finish(
            training_id=training_id,
            status=ClassifierTraining.State.FAILED,
            error_code=exc.code,
            error=exc.message,
        )
        return {"ok": False, "code": exc.code, "message": exc.message}
    except Exception as exc:
        log.exception("分类模型训练失败 (training %s)", training_id)
        _training_finish(
            training_id=training_id,
            status=ClassifierTraining.State.FAILED,
            error_code="training_failed",
            error=f"训练失败（{type(exc).__name__}），详情见服务器日志",
        )
        raise
    report = version.report.as_dict()  # type: ignore[attr-defined]
    _training_finish(
        training_id=training_id, status=ClassifierTraining.State.DONE, report=report, version=version
    )
    return {"ok": True, "version": version.pk, **report}


def classifier_training_get(*, actor: Any, task_id: str) -> ClassifierTraining:
    """One training by its task id (district admins; the permission is checked before the lookup, so
    anyone else learns nothing about which ids exist)."""
    require_district_admin(actor, "仅限区级管理员查看模型训练")
    training = (
        ClassifierTraining.objects.select_related("created_by", "version")
        .filter(task_id=str(task_id)[:64])
        .first()
    )
    if training is None:
        raise NotFound("训练任务不存在", code="not_found")
    return training


def classifier_trainings(*, actor: Any, limit: int = 10) -> list[ClassifierTraining]:
    """The most recent trainings, newest first (district admins)."""
    require_district_admin(actor, "仅限区级管理员查看模型训练")
    return list(ClassifierTraining.objects.select_related("created_by", "version")[: max(1, limit)])


def classifier_trainings_expire(*, now: Any = None) -> int:
    """Record as failed the trainings that stopped reporting progress (their worker died or never ran),
    so the page does not show them running forever and the schedule may start a new one."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=TRAINING_STALE_HOURS)
    stale = ClassifierTraining.objects.filter(
        Q(updated_at__lt=cutoff) | Q(updated_at__isnull=True, created_at__lt=cutoff),
        status__in=[ClassifierTraining.State.QUEUED, ClassifierTraining.State.RUNNING],
    ).values_list("pk", flat=True)
    n = 0
    for pk in list(stale):
        _training_finish(
            training_id=pk,
            status=ClassifierTraining.State.FAILED,
            error_code="training_interrupted",
            error=f"超过{TRAINING_STALE_HOURS}小时没有进展，训练视为中断（后台任务进程可能未运行）",
        )
        n += 1
    return n


def classifier_schedule() -> ClassifierSchedule:
    """The schedule row (seeded by migration 0013; created with its defaults if someone deleted it)."""
    row = ClassifierSchedule.objects.order_by("pk").first()
    return row if row is not None else ClassifierSchedule.objects.create()


def classifier_retrain_due(*, now: Any = None) -> bool:
    """Whether the schedule asks for a training now: enabled, no training queued or running, none started
    in the last `every_days` days, and at least `min_new_labels` more confirmed categories than the last
    successful training read."""
    now = now or timezone.now()
    schedule = classifier_schedule()
    if not schedule.enabled:
        return False
    trainings = ClassifierTraining.objects.all()
    if trainings.filter(
        status__in=[ClassifierTraining.State.QUEUED, ClassifierTraining.State.RUNNING]
    ).exists():
        return False
    since = now - timedelta(days=schedule.every_days)
    if schedule.last_enqueued_at and schedule.last_enqueued_at > since:
        return False
    if trainings.filter(created_at__gt=since).exists():
        return False
    last_done = trainings.filter(status=ClassifierTraining.State.DONE).first()
    base = int((last_done.report or {}).get("labels", 0) or 0) if last_done else 0
    return label_count() - base >= schedule.min_new_labels


def classifier_retrain_sweep(*, now: Any = None, **_: Any) -> dict[str, Any]:
    """The classifier's part of the periodic sweep (registered from the events' AppConfig): expire
    stalled trainings, then enqueue one scheduled training when due. Two sweeps at the same moment
    enqueue one (the schedule row is claimed by a conditional update)."""
    now = now or timezone.now()
    out: dict[str, Any] = {"classifier_trainings_enqueued": 0, "classifier_trainings_expired": 0}
    try:
        out["classifier_trainings_expired"] = classifier_trainings_expire(now=now)
        if not classifier_retrain_due(now=now):
            return out
        s = classifier_schedule()
        # Claimed by one conditional update: of two sweeps at the same moment one enqueues. A refused
        # attempt (too few labels) also waits `every_days` before the next one.
        last = (
            Q(last_enqueued_at__isnull=True)
            if s.last_enqueued_at is None
            else Q(last_enqueued_at=s.last_enqueued_at)
        )
        if not ClassifierSchedule.objects.filter(last, pk=s.pk).update(last_enqueued_at=now):
            return out
        training = classifier_train_enqueue(
            actor=None,
            min_samples_per_class=s.min_samples_per_class,
            folds=s.folds,
            target_precision=s.target_precision,
            scheduled=True,
        )
        out["classifier_trainings_enqueued"] = 1
        out["notes"] = [f"已提交定期分类模型训练（任务 {training.task_id}）"]
    except ServiceError as exc:  # e.g. too few confirmed categories yet
        out["notes"] = [f"定期分类模型训练未开始：{exc.message}"]
    except Exception as exc:  # the sweep of deadlines must go on
        log.exception("定期分类模型训练失败")
        out["errors"] = [f"classifier: {type(exc).__name__}"]
    return out


def _month_start(now: Any, months: int) -> Any:
    local = timezone.localtime(now)
    year, month = local.year, local.month - (months - 1)
    while month <= 0:
        year, month = year - 1, month + 12
    return local.replace(year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0)


def classifier_live_accuracy(*, user: Any, months: int = 12, now: Any = None) -> list[dict[str, Any]]:
    """Live accuracy per month (issue 18 C5): among the caller's territory's events that a person
    accepted with a suggested category, the share whose final category is the suggestion; per month of
    report and per top-level category of the final category. History imports are left out (their
    category was never suggested live). District admins."""
    require_district_admin(user, "仅限区级管理员查看分类准确率")
    months = max(1, min(int(months), 36))
    since = _month_start(now or timezone.now(), months)
    rows = (
        Event.objects.filter(
            scope_q(user),
            confirmed_q(),
            suggested_category__isnull=False,
            category__isnull=False,
            master__isnull=True,
            created_at__gte=since,
        )
        .exclude(channel=Channel.HISTORY)
        .annotate(month=TruncMonth("created_at"))
        .values("month", "category_id")
        .annotate(total=Count("pk"), agreed=Count("pk", filter=Q(category_id=F("suggested_category_id"))))
    )
    cats = {c.pk: c for c in Category.objects.all()}

    def top(pk: int) -> Category:
        cat = cats[pk]
        seen = {pk}
        while cat.parent_id and cat.parent_id in cats and cat.parent_id not in seen:
            seen.add(cat.parent_id)
            cat = cats[cat.parent_id]
        return cat

    by_month: dict[str, dict[str, Any]] = {}
    for row in rows:
        when = row["month"]
        key = (timezone.localtime(when) if timezone.is_aware(when) else when).strftime("%Y-%m")
        month = by_month.setdefault(key, {"month": key, "total": 0, "agreed": 0, "categories": {}})
        cat = top(row["category_id"])
        slot = month["categories"].setdefault(
            cat.code, {"code": cat.code, "name": cat.name, "total": 0, "agreed": 0}
        )
        for target in (month, slot):
            target["total"] += row["total"]
            target["agreed"] += row["agreed"]
    out = []
    for key in sorted(by_month):
        month = by_month[key]
        categories = sorted(month["categories"].values(), key=lambda c: c["code"])
        for item in [month, *categories]:
            item["accuracy"] = round(item["agreed"] / item["total"], 4) if item["total"] else None
        out.append({**month, "categories": categories})
    return out


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
