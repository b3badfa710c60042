"""Detection tasks."""
