"""The bdlopt Python SDK under its historical name: ``from service.sdk import Client``.

The SDK is its own distribution, ``bdlopt-client`` (package ``bdlopt_client``, source in
``clients/python``), so a machine that only evaluates trials installs it without the server. The
server distribution depends on it; this package re-exports it, and each of its modules is the same
module object under both names (``service.sdk.transport is bdlopt_client.transport``).
"""

import importlib
import sys

import bdlopt_client
from bdlopt_client import *  # noqa: F401,F403 - the public names of the SDK
from bdlopt_client import ConnectionError  # noqa: A004,F401 - kept out of __all__ like in bdlopt_client

__all__ = list(bdlopt_client.__all__)

for _name in bdlopt_client.SUBMODULES:
    globals()[_name] = sys.modules[f"{__name__}.{_name}"] = importlib.import_module(f"bdlopt_client.{_name}")
del _name
