from django.apps import AppConfig


class TerritoryConfig(AppConfig):
    name = "wangge.territory"
    label = "territory"
    verbose_name = "区划与网格"
