"""The notifications service (DESIGN, "Shape")."""
