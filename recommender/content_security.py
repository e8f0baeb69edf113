"""Per-route changes to the Content-Security-Policy (settings.CONTENT_SECURITY_POLICY), and the one security header
Django does not send itself (Permissions-Policy).

    embeddable     the widget's iframe page: any site may frame it (frame-ancestors *, no X-Frame-Options)
    plotly_webgl   pages that draw with plotly's gl2d bundle: its WebGL layer (regl) compiles each draw call with
                   Function(), which CSP counts as eval. Only these pages allow it, and none of them runs inline
                   script, so text that looks like HTML still cannot run (plotly's "strict" bundle avoids eval with
                   precompiled shaders, at 5.2 MB against this 1.6 MB bundle).
"""

from collections.abc import Callable

from csp.constants import UNSAFE_EVAL
from csp.decorators import csp_replace, csp_update
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.clickjacking import xframe_options_exempt

View = Callable[..., HttpResponse]


def embeddable(view: View) -> View:
    """Other sites may show this page in an iframe."""
    return xframe_options_exempt(csp_replace({"frame-ancestors": ["*"]})(view))


plotly_webgl: Callable[[View], View] = csp_update({"script-src": [UNSAFE_EVAL]})


class SecurityHeadersMiddleware:
    """Permissions-Policy on every answer: no page uses the camera, microphone, location or payments."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response
