from django.contrib.auth import views as auth_views
from django.urls import path

from . import views, views_display

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/otp/", views.login_otp, name="login-otp"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("me/", views.me, name="me"),
    path("me/otp/", views.otp_setup, name="otp-setup"),
    path("text-size/", views_display.text_size, name="text-size"),
]
