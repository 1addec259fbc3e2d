"""rawpush.hub (see ../shared/DESIGN.md)."""
