"""Twilio request signatures (X-Twilio-Signature) and the public URLs they are computed over.

Twilio signs the URL it requested plus the POSTed form parameters. Behind a proxy or tunnel the URL the
app sees (request.url) differs from the one Twilio used, so signatures are always checked against the
configured public URL built here, never against the incoming request's URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit, urlunsplit

from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"

_WEBSOCKET_SCHEMES = {"https": "wss", "http": "ws"}


class SignatureChecker:
    """Checks and produces Twilio request signatures for one auth token."""

    def __init__(self, auth_token: str) -> None:
        if not isinstance(auth_token, str) or not auth_token:
            raise ValueError("a Twilio auth token is required to check request signatures")
        self._validator = RequestValidator(auth_token)

    def is_valid(self, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        """True if `signature` is Twilio's signature of `url` and `params` (a Flask form works too)."""
        if not isinstance(signature, str) or not signature:
            return False
        return bool(self._validator.validate(url, params, signature))

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        """The signature Twilio would send for a request to `url` with `params` (used by the simulator)."""
        return self._validator.compute_signature(url, params)


def public_url(base: str, path: str, query: Mapping[str, str] | None = None) -> str:
    """Joins the configured public base URL (which may carry a path prefix) and an app path.

    >>> public_url("https://hotline.example.com/voice/", "/twilio/voice", {"lang": "de"})
    'https://hotline.example.com/voice/twilio/voice?lang=de'
    """
    scheme, netloc, prefix = _split_base(base)
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"path must start with '/', got {path!r}")
    if "?" in path or "#" in path:
        raise ValueError(f"path must not contain a query or fragment, got {path!r}; pass query= instead")
    return urlunsplit((scheme, netloc, prefix + path, urlencode(dict(query or {})), ""))


def websocket_url(base: str, path: str) -> str:
    """The ws:// or wss:// URL for `path` under the public base URL (https becomes wss)."""
    http_url = public_url(base, path)
    scheme, rest = http_url.split("://", 1)
    return f"{_WEBSOCKET_SCHEMES[scheme]}://{rest}"


def _split_base(base: str) -> tuple[str, str, str]:
    if not isinstance(base, str):
        raise ValueError(f"public base URL must be a string, got {type(base).__name__}")
    parts = urlsplit(base.strip())
    if parts.scheme not in _WEBSOCKET_SCHEMES or not parts.netloc:
        raise ValueError(f"public base URL must be an absolute http(s) URL, got {base!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"public base URL must not have a query or fragment, got {base!r}")
    return parts.scheme, parts.netloc, parts.path.rstrip("/")
