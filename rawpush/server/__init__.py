"""rawpush.server (see ../shared/DESIGN.md)."""
