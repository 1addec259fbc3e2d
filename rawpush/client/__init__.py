"""rawpush.client (see ../shared/DESIGN.md)."""
