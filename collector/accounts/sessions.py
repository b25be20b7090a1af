"""Login sessions: signed cookies, CSRF tokens and login throttling. No I/O but the clock.

- The session cookie is a random session id, the login, a CSRF token and the account's
  password-change time, signed and timestamped with itsdangerous (HMAC-SHA1 keyed by a
  per-deployment secret, kept in a file beside the database); it cannot be forged or extended.
  A signature alone would keep a copied cookie working until it expires, so every session is
  also recorded on the server (collector/accounts/users.py, table `login_sessions`) and checked on
  each request: logging out revokes it, and changing the password or disabling the account
  revokes all of the account's sessions (`Session.still_valid` checks the password time too).
- CSRF: a random token per session (the synchronizer-token pattern). Every form carries it
  in a hidden field; a script writing with a session cookie sends it as `X-CSRF-Token`.
  Requests authenticated by an API token carry no cookie and need none.
- Throttling: after `max_failures` failed logins within `window_s` for one login, or
  `max_failures_per_client` for one client address, further attempts are refused for
  `lockout_s` without checking the password (so guessing is slow, and a locked-out
  attacker learns nothing). In memory: one collector process serves the dashboard.
- The client address the throttle counts is the TCP peer's. `X-Forwarded-For` is read only
  when the peer is one of the deployment's trusted reverse proxies (`Settings.trusted_proxies`,
  default none): then the right-most address in it that is not a trusted proxy counts, since
  a client can write anything to the left of what its proxy appends.
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE_NAME = "hailong_session"
SESSION_MAX_AGE_S = 12 * 3600  # one working day; then log in again
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Session:
    login: str
    csrf: str
    password_changed_at: int
    sid: str = ""  # names the server's record of this session (only its SHA-256 is stored)

    def still_valid(self, password_changed_at: int | None) -> bool:
        """False once the account is gone, disabled or has a new password."""
        return password_changed_at is not None and password_changed_at == self.password_changed_at

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf)


class SessionCodec:
    """Signs and reads session cookies with one deployment secret."""

    def __init__(self, secret: str, *, max_age_s: int = SESSION_MAX_AGE_S):
        if len(secret) < 16:
            raise ValueError("the session secret must be at least 16 characters")
        self._serializer = URLSafeTimedSerializer(secret, salt="hailong-session")
        self.max_age_s = max_age_s

    def new(self, login: str, password_changed_at: int) -> tuple[Session, str]:
        session = Session(login=login, csrf=secrets.token_urlsafe(24),
                          password_changed_at=password_changed_at,
                          sid=secrets.token_urlsafe(32))
        return session, self.encode(session)

    def encode(self, session: Session) -> str:
        return self._serializer.dumps([session.login, session.csrf, session.password_changed_at,
                                       session.sid])

    def decode(self, cookie: str | None) -> Session | None:
        """The session in a cookie, or None if absent, forged, malformed or expired."""
        if not cookie:
            return None
        try:
            # A cookie from before sessions were recorded has three fields: it unpacks badly
            # and means nobody, so such a browser simply logs in again.
            login, csrf, changed, sid = self._serializer.loads(cookie, max_age=self.max_age_s)
        except (BadSignature, ValueError, TypeError):
            return None
        if not (isinstance(login, str) and isinstance(csrf, str) and isinstance(changed, int)
                and isinstance(sid, str) and sid):
            return None
        return Session(login, csrf, changed, sid)


@dataclass
class _Record:
    failures: deque = field(default_factory=deque)
    locked_until: float = 0.0


class LoginThrottle:
    """Counts failed logins per login name and per client address."""

    def __init__(self, *, max_failures: int = 5, max_failures_per_client: int = 20,
                 window_s: float = 900, lockout_s: float = 900,
                 clock: Callable[[], float] = time.monotonic):
        self.limits = {"login": max_failures, "client": max_failures_per_client}
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.clock = clock
        self._records: dict[tuple[str, str], _Record] = {}

    def _keys(self, login: str, client: str) -> list[tuple[str, str]]:
        return [("login", login.strip().lower()), ("client", client)]

    def retry_after(self, login: str, client: str) -> int:
        """Seconds until another attempt is allowed; 0 when allowed now."""
        now = self.clock()
        waits = [record.locked_until - now for key in self._keys(login, client)
                 if (record := self._records.get(key)) is not None]
        return max([0, *[math.ceil(wait) for wait in waits if wait > 0]])

    def failed(self, login: str, client: str) -> None:
        now = self.clock()
        for key in self._keys(login, client):
            record = self._records.setdefault(key, _Record())
            record.failures.append(now)
            while record.failures and record.failures[0] <= now - self.window_s:
                record.failures.popleft()
            if len(record.failures) >= self.limits[key[0]]:
                record.locked_until = now + self.lockout_s
                record.failures.clear()
        self._forget_old(now)

    def succeeded(self, login: str, client: str) -> None:
        """A good password clears the login's count (not the client's: one address trying
        many logins stays suspect)."""
        self._records.pop(("login", login.strip().lower()), None)

    def _forget_old(self, now: float) -> None:
        # Bounded memory under a spray of made-up logins: drop records with nothing to say.
        if len(self._records) < 10_000:
            return
        for key in [k for k, r in self._records.items()
                    if r.locked_until <= now and (not r.failures
                                                  or r.failures[-1] <= now - self.window_s)]:
            del self._records[key]


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(proxies: Iterable[str]) -> tuple[Network, ...]:
    """The proxies' addresses or networks ("10.0.0.2", "10.0.0.0/24", "::1"); ValueError
    names one that is neither."""
    networks = []
    for proxy in proxies:
        try:
            networks.append(ipaddress.ip_network(str(proxy).strip(), strict=False))
        except ValueError:
            raise ValueError(f"a trusted proxy is an IP address or network, not {proxy!r}") \
                from None
    return tuple(networks)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def came_over_tls(scheme: str, peer: str, forwarded_proto: str | None,
                  networks: tuple[Network, ...]) -> bool:
    """True when the browser's connection was TLS: our own scheme, or the X-Forwarded-Proto
    of a trusted proxy that ended TLS (uvicorn's proxy headers are off: see cli.serve)."""
    if scheme == "https":
        return True
    if not forwarded_proto or not _trusted(peer, networks):
        return False
    # The proxy nearest us wrote the right-most value.
    return forwarded_proto.split(",")[-1].strip().lower() == "https"


def client_address(peer: str, forwarded_for: str | None,
                   networks: tuple[Network, ...]) -> str:
    """Whom to count a login attempt against: the peer, or, when the peer is a trusted
    proxy, the right-most address of `X-Forwarded-For` that is not a trusted proxy."""
    if not networks or not forwarded_for or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    # From the right: each trusted proxy wrote the hop before it. Whatever stands left of the
    # first untrusted hop came from the client and is never read, so junk there cannot make
    # everyone behind the proxy one address.
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a hop the proxy did not write sensibly: count the proxy
    return hops[0]
