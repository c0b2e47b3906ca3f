"""Workers: consumers of the event bus (verification codes, webhooks)."""
