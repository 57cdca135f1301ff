"""Model files. Default format is skops (no pickle: loading a model that came from another
domain cannot execute code); joblib is available but only loaded when explicitly allowed."""

import os

from .errors import InputError, StageError

# Type prefixes a skops model may contain to be loaded without asking.
_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.", "builtins.")


def default_format():
    try:
        import skops.io  # noqa: F401
    except ImportError:
        return "joblib"
    return "skops"


def save(bundle, directory, fmt):
    if fmt == "skops":
        try:
            import skops.io as sio
        except ImportError:
            raise StageError("model format skops requested but skops is not installed") from None
        name = "model.skops"
        sio.dump(bundle, os.path.join(directory, name))
    elif fmt == "joblib":
        import joblib

        name = "model.joblib"
        joblib.dump(bundle, os.path.join(directory, name))
    else:
        raise InputError("unknown model format {!r}; valid: skops, joblib".format(fmt))
    return name


def load(path, allow_pickle=False):
    if not os.path.isfile(path):
        raise InputError("model file not found: {}".format(path))
    with open(path, "rb") as f:
        head = f.read(4)
    if head == b"PK\x03\x04":  # skops files are zip archives
        try:
            import skops.io as sio
        except ImportError:
            raise StageError("model {} is a skops file but skops is not installed".format(path)) from None
        try:
            untrusted = sio.get_untrusted_types(file=path)
            refused = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
            if refused:
                raise StageError("model {} contains untrusted types: {}".format(path, ", ".join(refused)))
            bundle = sio.load(path, trusted=untrusted)
        except StageError:
            raise
        except Exception as e:  # noqa: BLE001 - corrupt zip / bad schema: report it clearly
            raise InputError("corrupt model file {}: {}".format(path, e)) from None
    else:
        if not allow_pickle:
            raise StageError("model {} is not a skops file; loading pickle/joblib runs code from the file and "
                             "needs --allow-pickle (only for models you produced yourself)".format(path))
        import joblib

        try:
            bundle = joblib.load(path)
        except Exception as e:  # noqa: BLE001
            raise InputError("corrupt model file {}: {}".format(path, e)) from None
    if not isinstance(bundle, dict) or not {"estimator", "features", "target"} <= set(bundle):
        raise InputError("model file {} is not an hx-stages model bundle".format(path))
    return bundle
