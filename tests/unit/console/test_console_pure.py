"""The console's pure parts: money and time formatting, the lockout rule, TOTP, the chart,
and every phrase the templates translate having its Chinese."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyotp

from csms.api.access import Role
from csms.console import auth
from csms.console.chart import Point, load_chart
from csms.console.i18n import ZH, pick, translate
from csms.console.render import kw, kwh, local, yuan

T0 = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)  # midnight on 28 November in Shanghai
TEMPLATES = Path(auth.__file__).parent / "templates"


def test_money_time_and_power() -> None:
    assert ["3.46", "0.00", "12.00", "–"] == [yuan(Decimal("3.455")), yuan(0), yuan("12"),
                                              yuan(None)]
    assert "2026-11-28 00:00:00" == local(T0)
    assert "2026-11-27 16:00:00" == local(T0, "UTC")
    assert ("7.0 kW", "1.23 kWh", "–") == (kw(7000), kwh(1234), kw(None))


def test_lockout_after_five_failures() -> None:
    count, lock = 0, None
    for _ in range(auth.MAX_FAILURES - 1):
        count, lock = auth.after_failure(count, T0)
        assert lock is None
    count, lock = auth.after_failure(count, T0)
    assert (5, T0 + auth.LOCK_FOR) == (count, lock)
    assert auth.is_locked(lock, T0 + auth.LOCK_FOR - timedelta(seconds=1))
    assert not auth.is_locked(lock, T0 + auth.LOCK_FOR)


def test_totp_codes_of_rfc_6238_steps() -> None:
    secret = auth.new_totp_secret()
    code = pyotp.TOTP(secret).at(T0)
    assert auth.totp_ok(secret, code, T0)
    assert auth.totp_ok(secret, code, T0 + timedelta(seconds=30))  # one step of drift
    assert not auth.totp_ok(secret, code, T0 + timedelta(minutes=5))
    assert auth.totp_uri(secret, "duty").startswith("otpauth://totp/")


def test_sessions_expire_and_close() -> None:
    sessions = auth.Sessions()
    principal = auth.UserPrincipal("duty", Role.OPERATOR)
    opened = sessions.open(principal, "duty", T0)
    assert "user:duty" == opened.principal.actor
    assert sessions.get(opened.sid, T0 + auth.SESSION_TTL - timedelta(seconds=1)) is opened
    assert sessions.get(opened.sid, T0 + auth.SESSION_TTL) is None
    again = sessions.open(principal, "duty", T0)
    sessions.close(again.sid)
    assert sessions.get(again.sid, T0) is None
    assert sessions.get(None, T0) is None


def test_chart_draws_three_series_one_vertex_per_column() -> None:
    points = [Point(T0 + timedelta(seconds=10 * k), 60_000, 20_000, 18_000 + k)
              for k in range(8640)]  # 24 h of 10-second passes
    svg = load_chart(points, T0, T0 + timedelta(hours=24), {"Headroom": "可用<容量>"})
    polylines = re.findall(r'data-series="(\w+)"[^>]*points="([^"]*)"', svg)
    assert ["limit_w", "allocated_w", "measured_w", "base_load_w"] == [
        name for name, _ in polylines]
    assert all(len(p.split()) <= 720 for _, p in polylines)
    assert "可用&lt;容量&gt;" in svg  # legend text is escaped
    assert "data-series" not in load_chart([], T0, T0 + timedelta(hours=1), {})


def test_every_template_phrase_has_its_chinese() -> None:
    phrases = {m for path in TEMPLATES.glob("*.html")
               for m in re.findall(r'\bt\("([^"]+)"\)', path.read_text())}
    phrases |= {m for path in TEMPLATES.glob("*.html")
                for m in re.findall(r"\bt\('([^']+)'\)", path.read_text())}
    assert phrases, "the pattern finds the templates' phrases"
    assert set() == phrases - set(ZH)
    assert "告警" == translate("zh", "Alarms")
    assert "Alarms" == translate("en", "Alarms")
    assert ("zh", "en", "zh") == (pick(None), pick("en"), pick("<script>"))
