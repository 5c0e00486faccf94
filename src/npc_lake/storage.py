"""Where remote bytes live: S3 settings from the ``AWS_*`` variables, shared by the lake and the sources.

Light on purpose (pyarrow's filesystem module only, imported when a filesystem is made), so that both
``lake/`` and ``sources/`` can use it without importing each other.
"""

from __future__ import annotations

import os
from typing import Any

#: Environment variables passed on as storage options for s3:// URIs.
S3_ENV = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ALLOW_HTTP", "AWS_S3_ALLOW_UNSAFE_RENAME",
    "AWS_CONDITIONAL_PUT", "AWS_PROFILE",
)
S3_SCHEMES = ("s3://", "s3a://")


def storage_options_from_env(uri: str) -> dict[str, str]:
    """Storage options for ``uri`` taken from the usual ``AWS_*`` environment variables."""
    if not uri.startswith(S3_SCHEMES):
        return {}
    options = {name: os.environ[name] for name in S3_ENV if os.environ.get(name)}
    if "AWS_ENDPOINT_URL" in options and options["AWS_ENDPOINT_URL"].startswith("http://"):
        options.setdefault("AWS_ALLOW_HTTP", "true")
    return options


def s3_filesystem(storage_options: dict[str, str]) -> Any:
    """A pyarrow S3 filesystem configured from storage options (credentials, region, endpoint), as delta-rs
    reads them, so that both reach the same place."""
    import pyarrow.fs as pafs

    options = {key.upper(): value for key, value in storage_options.items()}
    endpoint = options.get("AWS_ENDPOINT_URL_S3") or options.get("AWS_ENDPOINT_URL")
    scheme = "https"
    if endpoint and "://" in endpoint:
        scheme, endpoint = endpoint.split("://", 1)
    return pafs.S3FileSystem(
        access_key=options.get("AWS_ACCESS_KEY_ID"), secret_key=options.get("AWS_SECRET_ACCESS_KEY"),
        session_token=options.get("AWS_SESSION_TOKEN"),
        region=options.get("AWS_REGION") or options.get("AWS_DEFAULT_REGION"),
        endpoint_override=endpoint, scheme=scheme)
