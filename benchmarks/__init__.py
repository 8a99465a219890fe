"""`make bench`: the emulator measured against a bare Starlette baseline (see run.py)."""
