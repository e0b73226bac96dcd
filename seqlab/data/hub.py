"""Fail fast without a network: probe the Hugging Face hub before `datasets` tries it.

Offline, `datasets.load_dataset("roneneldan/TinyStories")` retries for ~25 s before it gives
up. A TCP connect to the hub answers in milliseconds either way; when it fails, the hub
libraries are switched to offline mode, so a cached copy still loads and anything else fails
at once with the usual message (point task.source at a local copy).
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

PROBE_TIMEOUT_S = 1.5
OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the hub (HF_ENDPOINT, default huggingface.co) opens."""
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname or "huggingface.co", port), timeout=timeout).close()
    except OSError:
        return False
    return True


def offline_unless_reachable() -> bool:
    """Switch the hub libraries to offline mode when the hub cannot be reached; returns True
    when offline (already set by the user, or set here). Call before importing `datasets`."""
    if any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in OFFLINE_VARS):
        return True
    if hub_reachable():
        return False
    for var in OFFLINE_VARS:
        os.environ[var] = "1"
    return True
