"""A child that crashes during start-up (exit code 1 with a traceback on stderr)."""
import sys

print("crash_on_start: starting", file=sys.stderr)
raise RuntimeError("boom: simulated start-up crash")
