"""Deployment helpers: the Dockerfile and the local SMTP catcher."""
