"""HTTP hardening for every request and response (README "Security and reliability"; DESIGN "HTTP hardening").

A pure ASGI middleware, so NiceGUI's websocket and streamed responses (CSV export, file downloads) pass through
untouched apart from their response headers:

- a state-changing request (POST, PUT, PATCH, DELETE) that carries the session cookie and an ``Origin`` (or,
  without one, a ``Referer``) of another site is refused with 403: a page elsewhere cannot act as the user (CSRF);
  requests authenticated by ``Authorization: Bearer`` carry no ambient credentials and are exempt;
- the websocket (socket.io, also its HTTP long-polling) refuses other origins;
- every response says ``nosniff``, ``Referrer-Policy: same-origin`` and may not be framed by other sites; answers
  under ``/api/`` and ``/files/`` are ``Cache-Control: no-store`` (job data does not stay in the browser cache).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SESSION_COOKIE = 'session'  # Starlette's SessionMiddleware, which NiceGUI installs
SOCKET_PATH = '/_nicegui_ws/'
STATE_CHANGING = frozenset({'POST', 'PUT', 'PATCH', 'DELETE'})
NO_STORE_PREFIXES = ('/api/', '/files/')
CONTENT_SECURITY_POLICY = "frame-ancestors 'self'; base-uri 'self'; form-action 'self'; object-src 'none'"
SECURITY_HEADERS = {
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-frame-options': 'SAMEORIGIN',
}
CROSS_SITE = 'Cross-site request refused'
DEFAULT_PORTS = {'http': '80', 'https': '443', 'ws': '80', 'wss': '443'}


class Hardening:
    """Refuses cross-site state changes and websocket connections; adds the security headers to every answer."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Sequence[Network] = ()) -> None:
        self.app = app
        self.trusted_proxies = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] == 'websocket':
            if self._foreign(scope):
                await receive()  # websocket.connect; closing before accepting answers the handshake with 403
                await send({'type': 'websocket.close', 'code': 1008})
                return
            await self.app(scope, receive, send)
            return
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        path: str = scope['path']
        no_store = path.startswith(NO_STORE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message['type'] == 'http.response.start':
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if no_store:
                    headers['cache-control'] = 'no-store'
            await send(message)

        if self._refused(scope):
            response = JSONResponse({'error': CROSS_SITE, 'detail': CROSS_SITE}, status_code=403)
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _refused(self, scope: Scope) -> bool:
        if scope['path'].startswith(SOCKET_PATH):
            return self._foreign(scope)
        if scope['method'] not in STATE_CHANGING:
            return False
        headers = Headers(scope=scope)
        if headers.get('authorization', '').lower().startswith('bearer '):
            return False  # a token is sent on purpose, never by a browser on its own
        if SESSION_COOKIE not in cookie_parser(headers.get('cookie', '')):
            return False  # nothing ambient to abuse
        return self._foreign(scope)

    def _foreign(self, scope: Scope) -> bool:
        """Whether the request comes from a page of another site (by ``Origin``, else ``Referer``)."""
        headers = Headers(scope=scope)
        source = headers.get('origin') or headers.get('referer')
        if not source:
            return False  # not sent by a browser page (curl, scripts), or a same-origin GET
        if source == 'null':
            return True  # sandboxed frames, data: URLs, privacy-redirected requests
        return _netloc(source) not in self._own_hosts(scope, headers)

    def _own_hosts(self, scope: Scope, headers: Headers) -> set[str]:
        hosts = {_normalize(headers.get('host', ''), scope.get('scheme', 'http'))}
        if self.trusted_proxies and peer_is_trusted(scope, self.trusted_proxies):
            forwarded = headers.get('x-forwarded-host', '').split(',')[0].strip()
            proto = headers.get('x-forwarded-proto', '').split(',')[0].strip() or scope.get('scheme', 'http')
            if forwarded:
                hosts.add(_normalize(forwarded, proto))
        hosts.discard('')
        return hosts


def _netloc(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return '?'
    return _normalize(parts.netloc, parts.scheme) if parts.netloc else '?'


def _normalize(host: str, scheme: str) -> str:
    host = host.strip().lower()
    if host.rsplit(':', 1)[-1] == DEFAULT_PORTS.get(scheme) and not host.endswith(']'):
        host = host.rsplit(':', 1)[0]
    return host


def peer_is_trusted(scope: Scope, trusted: Sequence[Network]) -> bool:
    client = scope.get('client') or ('', 0)
    return _in(str(client[0]), trusted)


def client_address(scope: Scope, trusted: Sequence[Network]) -> str:
    """The client's address: the peer, or, when the peer is a trusted proxy, the last ``X-Forwarded-For`` entry
    that is not itself a trusted proxy (entries further left could be made up by the client)."""
    client = scope.get('client') or ('unknown', 0)
    address = str(client[0])
    if not trusted or not _in(address, trusted):
        return address
    forwarded = [part.strip() for part in Headers(scope=scope).get('x-forwarded-for', '').split(',') if part.strip()]
    for hop in reversed(forwarded):
        address = hop
        if not _in(hop, trusted):
            break
    return address


def _in(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
