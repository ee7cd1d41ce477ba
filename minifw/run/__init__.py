"""A run declared once: its settings, how their defaults resolve, and the blog's preset."""
