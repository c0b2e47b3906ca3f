"""kefu: a customer-service contact platform."""

__version__ = "0.1.0"
