"""Per-route changes to the Content-Security-Policy (settings.CONTENT_SECURITY_POLICY), and the one security header
Django does not send itself (Permissions-Policy).

    embeddable     the widget's iframe page: any site may frame it (frame-ancestors *, no X-Frame-Options)
    plotly_webgl   pages that draw with plotly's gl2d bundle: its WebGL layer (regl) compiles each draw call with
                   Function(), which CSP counts as eval. Only these pages allow it, and none of them runs inline
                   script, so text that looks like HTML still cannot run (plotly's "strict" bundle avoids eval with
                   precompiled shaders, at 5.2 MB against this 1.6 MB bundle).
"""

from collections.abc import Callable

from csp.constants import HEADER, UNSAFE_EVAL
from csp.decorators import csp_replace, csp_update
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
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


class CachedPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, building each distinct policy once per process.

    django-csp builds the header from the settings and the view's csp_update/csp_replace for every answer, the
    largest single cost of a small uncached API answer in a profile. This site has a handful of policies (the
    default, the widget's, the map's) and no nonces, so each is built once and reused; an answer whose policy
    would need a nonce, a report-only policy, an exempt answer or DEBUG's error pages take django-csp's own path.
    """

    policies: dict[str, str] = {}

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        parts = self.get_policy_parts(request=request, response=response)
        special = (
            parts.nonce is not None
            or HEADER in response
            or getattr(response, "_csp_exempt", False)
            or getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
            or settings.DEBUG
        )
        if special:
            return super().process_response(request, response)
        key = repr((parts.config, parts.update, parts.replace))
        policy = self.policies.get(key)
        if policy is None:
            policy = self.policies.setdefault(key, build_policy(parts.config, parts.update, parts.replace))
        if policy:
            response[HEADER] = policy
        # as django-csp does last: a nonce asked for after the header was written is an error, not a silent gap
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
