"""The buyers' search over verified factories, with the reasons each one fits."""
