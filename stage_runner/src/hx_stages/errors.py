"""Errors with the exit codes the CLI and the Ansible modules rely on."""

EXIT_OK = 0
EXIT_GATE_FAILED = 1  # the stage ran, its check (validate / test gate) failed
EXIT_ERROR = 2  # bad input, bad key, corrupt file, unreachable service ...


class StageError(Exception):
    """A clear, user-facing error. Never carries key material."""

    exit_code = EXIT_ERROR

    def __init__(self, message, kind="error"):
        super().__init__(message)
        self.kind = kind


class InputError(StageError):
    def __init__(self, message):
        super().__init__(message, kind="input")


class KeyError_(StageError):  # noqa: N801 - avoid shadowing builtins.KeyError
    def __init__(self, message):
        super().__init__(message, kind="key")


class IntegrityError(StageError):
    def __init__(self, message):
        super().__init__(message, kind="integrity")


class SharingError(StageError):
    def __init__(self, message):
        super().__init__(message, kind="sharing")
