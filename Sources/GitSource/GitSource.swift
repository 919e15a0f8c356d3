// GitSource: see ../shared/DESIGN.md for what this module owns. Filled in by its issue.
enum GitSourceModule {}
