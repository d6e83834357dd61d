"""A local HTTP double of the OpenAI and Anthropic APIs for tests (stdlib only).

Start it with ``ProtocolServer().start()`` (or ``python -m tests.server --port 8765``) and
point the real SDKs at ``server.openai_base_url`` / ``server.anthropic_base_url``.
"""

from __future__ import annotations

from tests.server.base import RecordedRequest
from tests.server.core import ProtocolServer

__all__ = ["ProtocolServer", "RecordedRequest"]
