"""Evidence of what a source published: fetching it, archiving it, keeping it."""
