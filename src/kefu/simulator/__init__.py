"""Simulator: a fake SMS provider, simulated customers and agents, replays."""
