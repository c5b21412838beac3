"""The reports service (DESIGN, "Shape")."""
