"""OpenID Connect against the one-stop system's Keycloak realm.

Tokens live only in this object's memory: never in the store, a log or an
error message. A 401 on an API call asks for `refresh()`: the refresh token
first, a fresh login if that is refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nq57sync import wire
from nq57sync.errors import AuthError, DataError
from nq57sync.http import SourceClient, UnexpectedAnswer, decode_json

if TYPE_CHECKING:
    import httpx

_REJECTIONS = (400, 401, 403)


def _token_answer(response: httpx.Response) -> Any:
    answer = decode_json(response)
    if response.status_code in _REJECTIONS:
        if isinstance(answer, dict) and isinstance(answer.get("error"), str):
            return None
        raise UnexpectedAnswer(f"HTTP {response.status_code}", "không kèm mã lỗi OAuth")
    return answer


class KeycloakLogin:
    """Password or client-credentials grant, with refresh; thread-safe."""

    def __init__(self, client: SourceClient, token_url: str, form: Mapping[str, str]) -> None:
        self._client = client
        self._token_url = token_url
        self._form = dict(form)          # holds the secret; never printed
        self._access: str | None = None
        self._refresh: str | None = None
        self._expires = 0.0
        self.lifetime: int | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"KeycloakLogin({self._token_url!r}, grant={self._form.get('grant_type')!r})"

    def headers(self) -> Mapping[str, str]:
        with self._lock:
            if self._access is None or time.monotonic() >= self._expires:
                self._obtain(prefer_refresh=self._access is not None)
            return {"Authorization": f"bearer {self._access}"}

    def refresh(self, rejected: Mapping[str, str]) -> None:
        with self._lock:
            if rejected.get("Authorization") != f"bearer {self._access}":
                return  # another request already renewed the token
            self._obtain(prefer_refresh=True)

    def _obtain(self, *, prefer_refresh: bool) -> None:
        if prefer_refresh and self._refresh:
            answer = self._post({"grant_type": "refresh_token", "client_id": self._form["client_id"],
                                 "refresh_token": self._refresh})
            if answer is not None:
                self._store(answer)
                return
        answer = self._post(self._form)
        if answer is None:
            raise AuthError(
                f"Nguồn “{self._client.source}”: máy chủ đăng nhập từ chối thông tin xác thực "
                "(kiểm tra tên đăng nhập, mật khẩu hoặc client_secret trong biến môi trường).",
                source=self._client.source)
        self._store(answer)

    def _post(self, form: Mapping[str, str]) -> Mapping[str, Any] | None:
        """The token answer, or None when the server rejected the credentials.

        Only a 400/401/403 that carries an OAuth error body (RFC 6749 §5.2,
        `{"error": "invalid_grant"}`) is a rejection; a maintenance page, a
        503 or a dropped connection goes through the client's retries like
        any other request.
        """
        return self._client.request("POST", self._token_url, service="openid-connect/token",
                                    data=form, parse=_token_answer, client_errors=_REJECTIONS)

    def _store(self, answer: Any) -> None:
        record = wire.mapping(answer, "Câu trả lời đăng nhập")
        access = record.get("access_token")
        if not isinstance(access, str) or not access:
            raise DataError("Câu trả lời đăng nhập không có access_token.",
                            source=self._client.source)
        lifetime = wire.count(record.get("expires_in", 300), "expires_in")
        refresh = record.get("refresh_token")
        self._access = access
        self.lifetime = lifetime  # seconds, as the server said (300 observed)
        self._refresh = refresh if isinstance(refresh, str) and refresh else None
        # Renew a little early so a token does not expire between check and use.
        self._expires = time.monotonic() + max(1, lifetime - 10)
