"""The webhook client posts JSON and fails with a code that never quotes the URL."""

from __future__ import annotations

import socket

import pytest

from torghut_assets.adapters.webhook import WebhookClient, WebhookError
from torghut_assets_tests.adapters.webhook_stub import TOKEN_PATH, WebhookStub

MESSAGE = {"text": "[CRITICAL] Emergency stop on macd_rsi", "blocks": []}


def test_a_post_delivers_the_json_message() -> None:
    with WebhookStub() as stub:
        WebhookClient(url=stub.url, timeout_seconds=2).post(MESSAGE)
    assert stub.messages == [MESSAGE]


def test_a_server_error_raises_its_status_code_without_the_url() -> None:
    with WebhookStub(status=500) as stub, pytest.raises(WebhookError) as raised:
        WebhookClient(url=stub.url, timeout_seconds=2).post(MESSAGE)
    assert raised.value.code == "http_500"
    assert TOKEN_PATH not in str(raised.value) and raised.value.__cause__ is None


def test_an_unreachable_webhook_is_a_network_error_without_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(WebhookError) as raised:
        WebhookClient(url=f"http://127.0.0.1:{port}{TOKEN_PATH}", timeout_seconds=1).post(MESSAGE)
    assert raised.value.code == "network_error"
    assert TOKEN_PATH not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_the_client_repr_hides_the_url() -> None:
    assert TOKEN_PATH not in repr(WebhookClient(url=f"https://hooks.example.test{TOKEN_PATH}"))


def test_a_non_http_url_is_refused() -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookClient(url="ftp://hooks.example.test/x")
