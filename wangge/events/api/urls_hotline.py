from django.urls import path

from . import views_hotline

urlpatterns = [
    path("hotline/imports/", views_hotline.HotlineImport.as_view(), name="api-hotline-import"),
    path("hotline/imports/template/", views_hotline.HotlineTemplate.as_view(), name="api-hotline-template"),
]
