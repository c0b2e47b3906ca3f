"""Routing: issue classification, priority, skill-group queues and assignment."""
