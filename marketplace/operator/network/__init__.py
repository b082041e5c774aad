"""The supply network: who supplies whom, concentration and the resilience properties."""
