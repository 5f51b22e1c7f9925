from __future__ import annotations

import os
import sys

import openai
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from otlp_receiver import OTLPReceiver  # noqa: E402

from otel_agentmon.provider_server import ProviderServer  # noqa: E402


@pytest.fixture(scope="session")
def provider_server():
    with ProviderServer() as server:
        yield server


@pytest.fixture(scope="session")
def _otlp_receiver_session():
    receiver = OTLPReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def otlp_receiver(_otlp_receiver_session):
    _otlp_receiver_session.clear()
    return _otlp_receiver_session


@pytest.fixture
def client(provider_server):
    """An openai client of the local provider server (tests for another SDK define their own)."""
    provider_server.clear()
    return openai.OpenAI(base_url=provider_server.openai_base_url, api_key="sk-test", max_retries=0, timeout=5)


@pytest.fixture
def aclient(provider_server):
    return openai.AsyncOpenAI(base_url=provider_server.openai_base_url, api_key="sk-test", max_retries=0, timeout=5)
