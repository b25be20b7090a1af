"""Signed session cookies, CSRF tokens and login throttling."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeTimedSerializer

from collector.accounts.sessions import (
    LoginThrottle,
    SessionCodec,
    client_address,
    trusted_networks,
)

SECRET = "a-deployment-secret-of-some-length"


def test_a_session_round_trips_and_cannot_be_forged():
    codec = SessionCodec(SECRET)
    session, cookie = codec.new("thu.huong", 1_800_000_000_000)
    assert codec.decode(cookie) == session
    assert codec.decode(cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB")) is None
    assert SessionCodec(SECRET + "x").decode(cookie) is None
    forged = URLSafeTimedSerializer("guess", salt="hailong-session").dumps(
        ["admin", "x", 1_800_000_000_000])
    assert codec.decode(forged) is None
    assert codec.decode(None) is None and codec.decode("") is None and codec.decode("a.b.c") is None


def test_a_session_expires(monkeypatch):
    codec = SessionCodec(SECRET, max_age_s=60)
    _, cookie = codec.new("a.b", 1)
    later = __import__("time").time() + 61
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    assert codec.decode(cookie) is None


def test_a_new_password_or_a_disabled_account_ends_the_session():
    session, _ = SessionCodec(SECRET).new("a.b", 100)
    assert session.still_valid(100)
    assert not session.still_valid(101)
    assert not session.still_valid(None)


def test_csrf_token_is_checked_exactly():
    session, _ = SessionCodec(SECRET).new("a.b", 1)
    assert session.csrf_ok(session.csrf)
    assert not session.csrf_ok(session.csrf + "x")
    assert not session.csrf_ok("") and not session.csrf_ok(None)
    other, _ = SessionCodec(SECRET).new("a.b", 1)
    assert other.csrf != session.csrf


def test_short_secrets_are_refused():
    with pytest.raises(ValueError, match="16"):
        SessionCodec("short")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_five_failures_lock_the_login_for_the_lockout():
    clock = Clock()
    throttle = LoginThrottle(max_failures=5, window_s=900, lockout_s=900, clock=clock)
    for _ in range(4):
        throttle.failed("Huong", "10.0.0.1")
        assert throttle.retry_after("huong", "10.0.0.1") == 0
    throttle.failed("huong", "10.0.0.2")
    assert throttle.retry_after("HUONG", "10.0.0.9") == 900
    clock.now += 899.5
    assert throttle.retry_after("huong", "10.0.0.9") == 1
    clock.now += 0.5
    assert throttle.retry_after("huong", "10.0.0.9") == 0


def test_failures_outside_the_window_are_forgotten():
    clock = Clock()
    throttle = LoginThrottle(max_failures=3, window_s=60, clock=clock)
    throttle.failed("a.b", "ip")
    throttle.failed("a.b", "ip")
    clock.now += 61
    throttle.failed("a.b", "ip")
    assert throttle.retry_after("a.b", "ip") == 0


def test_one_client_spraying_many_logins_is_locked_out():
    clock = Clock()
    throttle = LoginThrottle(max_failures=5, max_failures_per_client=20, clock=clock)
    for n in range(20):
        throttle.failed(f"user{n}", "10.0.0.66")
    assert throttle.retry_after("someone.else", "10.0.0.66") > 0
    assert throttle.retry_after("someone.else", "10.0.0.67") == 0


def test_success_clears_the_login_but_not_the_client():
    clock = Clock()
    throttle = LoginThrottle(max_failures=3, max_failures_per_client=4, clock=clock)
    throttle.failed("a.b", "ip")
    throttle.failed("a.b", "ip")
    throttle.succeeded("a.b", "ip")
    throttle.failed("a.b", "ip")
    throttle.failed("a.b", "ip")
    assert throttle.retry_after("a.b", "ip2") == 0  # the login's count restarted
    assert throttle.retry_after("x.y", "ip") > 0  # the client reached 4


def test_memory_stays_bounded_under_a_spray_of_logins():
    clock = Clock()
    throttle = LoginThrottle(max_failures=5, window_s=10, clock=clock)
    for n in range(30_000):
        clock.now += 0.01
        throttle.failed(f"u{n}", f"ip{n}")
    assert len(throttle._records) < 12_000


def test_a_cookie_names_its_server_record_and_old_cookies_mean_nobody():
    codec = SessionCodec(SECRET)
    one, cookie = codec.new("a.b", 1)
    two, _ = codec.new("a.b", 1)
    assert len(one.sid) >= 40 and one.sid != two.sid
    assert codec.decode(cookie).sid == one.sid
    # A cookie signed before sessions were recorded (three fields) is refused, not trusted.
    old = URLSafeTimedSerializer(SECRET, salt="hailong-session").dumps(["a.b", "x", 1])
    assert codec.decode(old) is None


@pytest.mark.parametrize("peer, header, trusted, expected", [
    ("10.0.0.9", "198.51.100.1", (), "10.0.0.9"),  # default: nobody's header is trusted
    ("10.0.0.2", "198.51.100.1", ("10.0.0.2",), "198.51.100.1"),
    ("10.0.0.2", "198.51.100.1", ("10.0.0.0/24",), "198.51.100.1"),
    ("10.0.0.9", "198.51.100.1", ("10.0.0.2",), "10.0.0.9"),  # not from the proxy
    ("10.0.0.2", "192.0.2.66, 198.51.100.1", ("10.0.0.2",), "198.51.100.1"),  # forged left
    ("10.0.0.2", "198.51.100.1, 10.0.0.3", ("10.0.0.0/24",), "198.51.100.1"),  # two proxies
    ("10.0.0.2", None, ("10.0.0.2",), "10.0.0.2"),
    ("10.0.0.2", "not-an-address", ("10.0.0.2",), "10.0.0.2"),
    # Junk a client put on the left must not make everyone behind the proxy one address.
    ("10.0.0.2", "x, 203.0.113.9", ("10.0.0.2",), "203.0.113.9"),
    ("10.0.0.2", "203.0.113.9, 10.0.0.3", ("10.0.0.0/24",), "203.0.113.9"),
    # The first untrusted hop from the right must be an address, or the proxy is counted.
    ("10.0.0.2", "198.51.100.1, junk", ("10.0.0.2",), "10.0.0.2"),
    ("10.0.0.2", "10.0.0.3", ("10.0.0.0/24",), "10.0.0.3"),  # only proxies: the first hop
    ("testclient", "198.51.100.1", ("10.0.0.2",), "testclient"),
])
def test_the_client_address_trusts_forwarded_for_only_from_proxies(peer, header, trusted,
                                                                   expected):
    assert client_address(peer, header, trusted_networks(trusted)) == expected


def test_a_trusted_proxy_must_be_an_address_or_network():
    assert trusted_networks(["127.0.0.1", "::1", "10.0.0.0/8"])
    with pytest.raises(ValueError, match="proxy"):
        trusted_networks(["proxy.example"])
