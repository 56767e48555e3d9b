from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.core.errors import Forbidden, InvalidInput, ServiceError

from .. import selectors, signin
from ..lockout import LOCKED_CODE, lockout_message
from ..middleware import ENROL_CODE, ENROL_MESSAGE


class LockedOut(ServiceError):
    status = 429
    default_code = LOCKED_CODE


class TokenRequest(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, style={"input_type": "password"})
    otp = serializers.CharField(
        max_length=16,
        required=False,
        allow_blank=True,
        help_text="动态口令（验证器上的 6 位数字）；账号已绑定验证器时必填",
    )


class TokenView(APIView):
    """Exchange username + password (+ `otp` for accounts with an authenticator) for an API token, then
    send `Authorization: Token <token>`. Failures count towards the lockout of the username and of the
    client address (429 `login_locked`)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        request=TokenRequest,
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()})},
    )
    def post(self, request: Request) -> Response:
        data = TokenRequest(data=request.data)
        data.is_valid(raise_exception=True)
        http = request._request  # the Django request: axes reads and flags this one
        user = signin.password_check(
            http,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
            channel=signin.API,
        )
        if user is None:
            if signin.locked_out(http):
                raise LockedOut(lockout_message())
            raise InvalidInput("用户名或密码错误", code="invalid_credentials")
        factor = selectors.second_factor(user)
        if factor.enrolled:
            otp = data.validated_data.get("otp", "").strip()
            if not otp:
                raise InvalidInput(
                    "该账号已启用动态口令，请在 otp 字段提交验证器上的 6 位数字", code="otp_required"
                )
            if signin.otp_check(http, user=user, token=otp, channel=signin.API) is None:
                if signin.locked_out(http):
                    raise LockedOut(lockout_message())
                raise InvalidInput("动态口令不正确或已过期", code="otp_invalid")
        elif factor.required:
            raise Forbidden(ENROL_MESSAGE, code=ENROL_CODE)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
