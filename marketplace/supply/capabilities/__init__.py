"""What a factory can make: process, materials, part envelope, tolerance, batch, rate."""
