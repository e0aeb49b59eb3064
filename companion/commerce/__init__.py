"""Commerce: WooCommerce webhooks and reconciliation, and the products that sell the band's releases.

WooCommerce tells the companion who paid for what (signed webhooks, applied on RQ); a reconciliation
job reads the same orders and subscriptions through WooCommerce's REST API so that a missed webhook is
repaired. Both end in the access room's entitlements (companion/access/service.py).
"""
