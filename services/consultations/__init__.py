"""The consultations service (DESIGN, "Shape")."""
