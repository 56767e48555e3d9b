"""`wangge train-classifier`: train the event classifier on this installation's closed events, print
the number of samples, classes and the cross-validated accuracy, and make the new model active."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from wangge.core.errors import ServiceError
from wangge.events.triage.classifier import TrainingReport, classifier_train


class Command(BaseCommand):
    help = "用已结案事件训练事件分类模型，输出样本数、分类数和交叉验证准确率，并启用新模型"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--min-samples", type=int, default=5, help="每个分类至少的样本数（默认5）")
        parser.add_argument("--folds", type=int, default=5, help="交叉验证折数（默认5）")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            version = classifier_train(min_samples_per_class=options["min_samples"], folds=options["folds"])
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
        self.stdout.write(self.style.SUCCESS(f"已启用分类模型版本 #{version.pk}"))
