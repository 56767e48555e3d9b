import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangge.settings")
application = get_wsgi_application()

# Each web worker imports this module once, before its first request: load the event classifier here so that
# no live request waits seconds for the file and scikit-learn (issue 18 C3). Tests and management commands
# never import this module. WANGGE_WARM_CLASSIFIER=0 turns it off.
if os.environ.get("WANGGE_WARM_CLASSIFIER", "1") != "0":
    from wangge.events.triage import classifier_warm

    classifier_warm()
