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
from typing import Any

import joblib
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from wangge.audit.services import audit_record
from wangge.core.errors import InvalidInput, NotFound
from wangge.core.guards import require_district_admin

from ..models import Category, ClassifierVersion, Event
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


# Model size (issue 18 C3): a character n-gram kept only if it occurs in MIN_DF training texts, and of those
# only the MAX_FEATURES most informative (chi²); weights as float32; the file compressed. A 128 MB model with
# every n-gram of the history became a few MB at the same accuracy (bench/classifier_prod.py).
MIN_DF = 2
MAX_FEATURES = 20_000
DEFAULT_TARGET_PRECISION = 0.97


def _vectorizer(vocabulary: list[str] | None = None) -> Any:
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(1, 3),
        sublinear_tf=True,
        min_df=1 if vocabulary is not None else MIN_DF,
        dtype=np.float32,
        vocabulary=vocabulary,
    )


def model_fit(texts: list[str], labels: list[str], *, max_features: int = MAX_FEATURES) -> Any:
    """A fitted pipeline (tf-idf on the selected n-grams → linear SVM with sigmoid probabilities).

    The n-grams are chosen first and the vectoriser is rebuilt on them alone, so the stored vocabulary is
    only what the model uses and the tf-idf normalisation is the same in training and prediction. The
    probabilities are calibrated on held-out folds of this training set and one SVM is kept (not one per
    fold, which tripled the file)."""
    import numpy as np
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_selection import SelectKBest, chi2
    from sklearn.pipeline import Pipeline
    from sklearn.svm import LinearSVC

    full = _vectorizer()
    try:
        matrix = full.fit_transform(texts)
    except ValueError:  # no n-gram in two texts (tiny sets): every n-gram is kept
        full = _vectorizer(vocabulary=None)
        full.min_df = 1
        matrix = full.fit_transform(texts)
    terms = full.get_feature_names_out()
    if len(terms) > max_features:
        keep = SelectKBest(chi2, k=max_features).fit(matrix, labels).get_support()
        terms = terms[keep]
    min_count = min(Counter(labels).values())
    pipeline = Pipeline(
        [
            ("tfidf", _vectorizer(vocabulary=[str(t) for t in terms])),
            (
                "clf",
                CalibratedClassifierCV(
                    LinearSVC(C=1.0), method="sigmoid", cv=min(3, max(2, min_count)), ensemble=False
                ),
            ),
        ]
    )
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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


CURVE_THRESHOLDS = [round(0.05 * i, 2) for i in range(4, 20)] + [0.96, 0.97, 0.98, 0.99]


def precision_curve(confidences: list[float], correct: list[bool]) -> list[dict[str, float]]:
    """Precision and coverage (share of reports auto-routed) if everything at or above each threshold
    were routed without a person."""
    n = len(confidences)
    rows = []
    for t in CURVE_THRESHOLDS:
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
) -> tuple[list[tuple[str, str]], set[str], Counter[str], dict[str, int]]:
    """Check the caller and the parameters, read the rows; refuse with a Chinese error when too few."""
    require_district_admin(actor, "仅限区级管理员训练分类模型")
    if min_samples_per_class < 2:
        raise InvalidInput("每个分类的最少样本数不能小于2", code="invalid_min_samples")
    if folds < 2:
        raise InvalidInput("交叉验证折数不能小于2", code="invalid_folds")
    if not 0.5 <= target_precision < 1.0:
        raise InvalidInput("目标准确率须在0.5到1之间", code="invalid_target_precision")
    rows = training_rows()
    counts = Counter(code for _, code in rows)
    kept = {code for code, n in counts.items() if n >= min_samples_per_class}
    dropped = {code: n for code, n in counts.items() if code not in kept}
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
    return [(t, c) for t, c in rows if c in kept], kept, counts, dropped


def classifier_train(
    *,
    min_samples_per_class: int = 5,
    folds: int = 5,
    actor: Any = None,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    progress: Progress = _no_progress,
) -> ClassifierVersion:
    """Train on the installation's own closed events, cross-validate, calibrate, store and activate.

    Classes with fewer than `min_samples_per_class` examples are left out (their events fall back to
    keywords and to people). Refuses with a Chinese error when too little history exists. Held-out folds
    give the accuracy, per-class recall, the top-1 confidence calibration (isotonic: a confidence of 0.9
    means 9 in 10 such predictions were right) and the threshold suggested for `target_precision`.
    `progress(step, done, total)` is called as folds finish (the background task records it).
    The returned version carries `.report` (TrainingReport) for the command line and the task.
    """
    import numpy as np
    from sklearn.isotonic import IsotonicRegression
    from sklearn.model_selection import StratifiedKFold

    progress("读取训练数据", 0, 1)
    data, kept, counts, dropped = _training_data(
        actor=actor,
        min_samples_per_class=min_samples_per_class,
        folds=folds,
        target_precision=target_precision,
    )
    texts = [t for t, _ in data]
    labels = np.array([c for _, c in data])
    min_count = min(counts[c] for c in kept)
    n_splits = max(2, min(folds, min_count))
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=0)
    raw = np.zeros(len(texts))
    predicted = np.empty(len(texts), dtype=object)
    for i, (train, test) in enumerate(cv.split(texts, labels)):
        progress("交叉验证", i, n_splits + 1)
        fold = model_fit([texts[j] for j in train], list(labels[train]))
        proba = fold.predict_proba([texts[j] for j in test])
        predicted[test] = fold.classes_[proba.argmax(axis=1)]
        raw[test] = proba.max(axis=1)
    correct = predicted == labels
    accuracy = round(float(correct.mean()), 4)
    calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, correct)
    confidences = [float(c) for c in calibrator.predict(raw)]
    curve = precision_curve(confidences, [bool(c) for c in correct])
    recall = {code: round(float(correct[labels == code].mean()), 4) for code in sorted(kept)}
    progress("训练最终模型", n_splits, n_splits + 1)
    pipeline = model_fit(texts, list(labels))
    buf = io.BytesIO()
    joblib.dump(
        {
            "pipeline": pipeline,
            "calibrator": calibrator,
            "codes": sorted(kept),
            "trained_at": timezone.now(),
        },
        buf,
        compress=3,
    )
    report = TrainingReport(
        samples=len(texts),
        classes=len(kept),
        dropped_classes=dropped,
        cv_accuracy=accuracy,
        folds=n_splits,
        per_class_recall=recall,
        curve=curve,
        target_precision=target_precision,
        suggested_threshold=suggest_threshold(curve, target_precision),
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
                "per_class_recall": recall,
                "target_precision": target_precision,
                "suggested_threshold": report.suggested_threshold,
            },
        )
    progress("完成", n_splits + 1, n_splits + 1)
    classifier_reset()
    version.report = report  # type: ignore[attr-defined]
    return version


def _progress_key(task_id: str) -> str:
    return f"wangge:classifier-train:{task_id}"


def classifier_train_enqueue(
    *,
    actor: Any,
    min_samples_per_class: int = 5,
    folds: int = 5,
    target_precision: float = DEFAULT_TARGET_PRECISION,
) -> str:
    """Check the request now (permission, parameters, enough history: the same refusals as training) and
    hand the training to the background worker; returns the task id for `classifier_train_status`.
    Training takes minutes on a real history and must not run inside an HTTP request (issue 18 C3)."""
    from wangge.core.tasks import task_enqueue

    _training_data(
        actor=actor,
        min_samples_per_class=min_samples_per_class,
        folds=folds,
        target_precision=target_precision,
    )
    result = task_enqueue(
        "wangge.events.tasks.classifier_train_run",
        actor_id=getattr(actor, "pk", None),
        min_samples_per_class=min_samples_per_class,
        folds=folds,
        target_precision=target_precision,
    )
    task_id = str(result.id)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="classifier.train_enqueue",
            object_type="events.classifierversion",
            after={
                "task_id": task_id,
                "min_samples_per_class": min_samples_per_class,
                "folds": folds,
                "target_precision": target_precision,
            },
        )
    return task_id


def classifier_train_progress(task_id: str) -> Progress:
    """The `progress` callback of a background training: the step is kept in the cache for the status API."""
    from django.core.cache import cache

    def record(step: str, done: int, total: int) -> None:
        cache.set(_progress_key(task_id), {"step": step, "done": done, "total": total}, 24 * 3600)

    return record


def classifier_train_status(*, actor: Any, task_id: str) -> dict[str, Any]:
    """State of a background training: status (READY, RUNNING, SUCCESSFUL, FAILED), the last progress step
    and, once finished, the report (version, accuracy, per-class recall, curve, suggested threshold) or the
    Chinese reason of a refusal."""
    from django.core.cache import cache
    from django_tasks import default_task_backend
    from django_tasks.exceptions import TaskResultDoesNotExist

    require_district_admin(actor, "仅限区级管理员查看模型训练")
    try:
        result = default_task_backend.get_result(task_id)
    except (TaskResultDoesNotExist, ValueError, ValidationError, NotImplementedError) as exc:
        raise NotFound("训练任务不存在", code="not_found") from exc
    if getattr(result.task, "module_path", "") != "wangge.events.tasks.classifier_train_run":
        raise NotFound("训练任务不存在", code="not_found")
    body: dict[str, Any] = {
        "task_id": str(result.id),
        "status": str(result.status),
        "progress": cache.get(_progress_key(str(result.id))),
        "result": None,
    }
    if str(result.status) == "SUCCESSFUL":
        body["result"] = result.return_value
    elif str(result.status) == "FAILED":
        body["result"] = {"ok": False, "code": "training_failed", "message": "训练失败，请查看服务器日志"}
    return body


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
