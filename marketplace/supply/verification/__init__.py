"""The cluster operators' review: verify factories, suspend them with a reason."""
