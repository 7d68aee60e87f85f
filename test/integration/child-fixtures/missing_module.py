"""A child whose import fails: ModuleNotFoundError on stderr, exit code 1."""
import lifeline_no_such_module  # noqa: F401
