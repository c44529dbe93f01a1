"""Opening a listening port, with one Vietnamese sentence when it cannot be opened."""

from __future__ import annotations

import errno
import socket

from nq57sync.errors import UsageError


def listen(host: str, port: int, what: str) -> socket.socket:
    """A listening socket now, so a port in use is a clear error at start-up."""
    if not 0 < port < 65536:
        raise UsageError(f"Cổng {port} không hợp lệ cho {what}: cổng phải từ 1 đến 65535.")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
        listening.listen(128)
    except OSError as exc:
        listening.close()
        raise port_error(port, what, exc) from None
    return listening


def port_error(port: int, what: str, exc: OSError) -> UsageError:
    """One Vietnamese sentence for a port that cannot be opened."""
    why = {errno.EADDRINUSE: "cổng đang được chương trình khác dùng",
           errno.EACCES: "không đủ quyền (cổng dưới 1024 cần quyền quản trị)",
           errno.EADDRNOTAVAIL: "địa chỉ không thuộc máy này"}.get(
        exc.errno or 0, f"lỗi hệ thống số {exc.errno}")
    return UsageError(f"Không mở được cổng {port} cho {what}: {why}.")
