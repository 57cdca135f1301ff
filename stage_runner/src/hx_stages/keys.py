"""Key loading. Keys come from a file (e.g. a mounted Kubernetes Secret or the inventory's
credentials directory) or from an environment variable; never from argv, never logged."""

import base64
import binascii
import hashlib
import hmac
import os
import re

from .errors import KeyError_

DEFAULT_KEY_ENV = "HX_STAGE_KEY"
_HEX = re.compile(rb"^[0-9a-fA-F]+$")


def _decode(raw, source, exact_len=None):
    text = raw.strip()
    if not text:
        raise KeyError_("key from {} is empty".format(source))
    if _HEX.match(text) and len(text) % 2 == 0 and len(text) >= 32:
        return binascii.unhexlify(text)
    if text.startswith(b"base64:"):
        try:
            return base64.b64decode(text[7:], validate=True)
        except binascii.Error:
            raise KeyError_("key from {} is not valid base64".format(source)) from None
    if exact_len is not None and len(raw) == exact_len:
        return raw  # a file holding the raw random bytes
    if len(text) % 4 == 0:
        try:
            decoded = base64.b64decode(text, validate=True)
        except binascii.Error:
            decoded = b""
        if len(decoded) >= 16:
            return decoded
    return text  # a passphrase; only accepted where min_len allows it


def load_key(key_file=None, key_env=None, min_len=16, exact_len=None):
    """Return key bytes. Accepted encodings: 64 hex chars (or any even-length hex >= 32 chars),
    ``base64:...`` or plain base64, or raw bytes in a file."""
    if key_file:
        try:
            with open(key_file, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise KeyError_("cannot read key file {}: {}".format(key_file, e.strerror)) from None
        source = "key file {}".format(key_file)
        key = _decode(raw, source, exact_len)
    else:
        name = key_env or DEFAULT_KEY_ENV
        value = os.environ.get(name)
        if value is None:
            raise KeyError_("no key: pass --key-file or set the environment variable {}".format(name))
        source = "environment variable {}".format(name)
        key = _decode(value.encode(), source, exact_len)
    if exact_len is not None and len(key) != exact_len:
        raise KeyError_("key from {} must be {} bytes (got {}); give 64 hex characters or base64 of {} bytes".format(
            source, exact_len, len(key), exact_len))
    if len(key) < min_len:
        raise KeyError_("key from {} is too short: at least {} bytes required".format(source, min_len))
    return key


def key_id(key, purpose):
    """A non-reversible identifier of a key for run keys and reports (HMAC of a label)."""
    return hmac.new(key, b"hx-stages/key-id/" + purpose.encode(), hashlib.sha256).hexdigest()[:16]
