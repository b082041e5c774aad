"""Registering a factory (onboarding), the factory page, and changing its details."""
