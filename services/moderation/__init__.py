"""The moderation service (DESIGN, "Shape")."""
