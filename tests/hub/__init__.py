"""A local stand-in for the Hugging Face Hub's download protocol (tests point HF_ENDPOINT at it)."""

from tests.hub.server import HubFile, HubServer

__all__ = ["HubFile", "HubServer"]
