from django.apps import AppConfig


class PartyConfig(AppConfig):
    name = "wangge.party"
    label = "party"
    verbose_name = "党组织"
