"""Evidence: what a sighting's source said, read, kept and checked again."""
