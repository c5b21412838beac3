"""The registry service (DESIGN, "Shape")."""
