"""Access: listeners, entitlements and signed delivery (who may hear or download what)."""
