"""Loopback simulators of DVCQG and the one-stop system."""
