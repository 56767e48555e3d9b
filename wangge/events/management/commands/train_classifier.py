"""`wangge train-classifier`: train the event classifier on this installation's closed events, print
the number of samples, classes, the cross-validated accuracy, per-class recall, the precision/coverage curve
and the threshold suggested for the precision target, and make the new model active.

Runs in this process (the command line has no request timeout); the web page and API enqueue a background
task instead (`classifier_train_enqueue`)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from wangge.core.errors import ServiceError
from wangge.events.triage.classifier import DEFAULT_TARGET_PRECISION, TrainingReport, classifier_train


class Command(BaseCommand):
    help = "用已结案事件训练事件分类模型，输出样本数、分类数、交叉验证准确率、各分类召回率和建议阈值，并启用新模型"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--min-samples", type=int, default=5, help="每个分类至少的样本数（默认5）")
        parser.add_argument("--folds", type=int, default=5, help="交叉验证折数（默认5）")
        parser.add_argument(
            "--target-precision",
            type=float,
            default=DEFAULT_TARGET_PRECISION,
            help=f"自动分派的目标准确率，用于建议阈值（默认{DEFAULT_TARGET_PRECISION}）",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            version = classifier_train(
                min_samples_per_class=options["min_samples"],
                folds=options["folds"],
                target_precision=options["target_precision"],
                progress=lambda step, done, total: self.stderr.write(f"{step} {done}/{total}"),
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        report = getattr(version, "report", None)  # attached by classifier_train
        assert isinstance(report, TrainingReport)
        self.stdout.write(f"样本数: {report.samples}")
        self.stdout.write(f"分类数: {report.classes}")
        if report.dropped_classes:
            dropped = ", ".join(f"{code}({n}条)" for code, n in sorted(report.dropped_classes.items()))
            self.stdout.write(f"样本不足未参与训练的分类: {dropped}")
        self.stdout.write(f"交叉验证准确率({report.folds}折): {report.cv_accuracy:.1%}")
        recall = ", ".join(f"{code} {r:.0%}" for code, r in sorted(report.per_class_recall.items()))
        self.stdout.write(f"各分类召回率: {recall}")
        self.stdout.write("阈值  准确率  覆盖率")
        for row in report.curve:
            self.stdout.write(f"{row['threshold']:.2f}  {row['precision']:.1%}  {row['coverage']:.1%}")
        if report.suggested_threshold is None:
            self.stdout.write(f"没有阈值能达到目标准确率 {report.target_precision:.0%}")
        else:
            self.stdout.write(
                f"建议阈值(目标准确率{report.target_precision:.0%}): {report.suggested_threshold:.2f}"
                "（在设置 WANGGE_CLASSIFY_THRESHOLD 中采用）"
            )
        self.stdout.write(self.style.SUCCESS(f"已启用分类模型版本 #{version.pk}"))
