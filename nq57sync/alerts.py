"""Alerts: the log always; a webhook and e-mail when configured; more through the hook.

An alert carries names, counts and paths, never a secret: it is built from
the same values the reports show.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import smtplib
from email.message import EmailMessage
from typing import Any

import httpx

from nq57sync.config import AlertsConfig, Config
from nq57sync.hooktypes import Alert, AlertChannel
from nq57sync.model import VN_TZ

log = logging.getLogger("nq57sync.alerts")


def make_alert(kind: str, title: str, message: str, **data: Any) -> Alert:
    attachment = data.pop("attachment", None)
    return Alert(kind, title, message, dt.datetime.now(VN_TZ).replace(microsecond=0), attachment,
                 data)


def alert_json(alert: Alert) -> dict[str, Any]:
    return {"kind": alert.kind, "title": alert.title, "message": alert.message,
            "created_at": alert.created_at.isoformat(),
            "attachment": str(alert.attachment) if alert.attachment else None,
            "data": dict(alert.data)}


def _log_channel(alert: Alert) -> None:
    log.warning("%s — %s", alert.title, alert.message)


def _webhook(url: str) -> AlertChannel:
    def send(alert: Alert) -> None:
        response = httpx.post(url, json=alert_json(alert), timeout=10.0)
        response.raise_for_status()

    return AlertChannel("webhook", send)


def _email(settings: AlertsConfig) -> AlertChannel:
    def send(alert: Alert) -> None:
        message = EmailMessage()
        message["Subject"] = f"[nq57sync] {alert.title}"
        message["From"] = settings.smtp_from
        message["To"] = ", ".join(settings.smtp_to)
        message.set_content(alert.message)
        if alert.attachment is not None and alert.attachment.is_file():
            message.add_attachment(alert.attachment.read_bytes(), maintype="application",
                                   subtype="octet-stream", filename=alert.attachment.name)
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username_env:
                smtp.login(os.environ.get(settings.smtp_username_env, ""),
                           os.environ.get(settings.smtp_password_env, ""))
            smtp.send_message(message)

    return AlertChannel("email", send)


def channels(config: Config, pm: Any = None) -> list[AlertChannel]:
    found = [AlertChannel("log", _log_channel)]
    if config.alerts.webhook_url:
        found.append(_webhook(config.alerts.webhook_url))
    if config.alerts.smtp_host and config.alerts.smtp_to:
        found.append(_email(config.alerts))
    if pm is not None:
        for extra in pm.hook.nq57sync_alert_channels(config=config):
            found.extend(extra or [])
    return found


def send(alert: Alert, targets: list[AlertChannel]) -> list[str]:
    """Deliver to every channel; a failing channel is logged, never fatal."""
    failed = []
    for channel in targets:
        try:
            channel.send(alert)
        except Exception as exc:
            failed.append(channel.name)
            log.error("Không gửi được cảnh báo qua kênh %s: %s", channel.name,
                      exc.__class__.__name__)
    return failed


__all__ = ["alert_json", "channels", "make_alert", "send"]
