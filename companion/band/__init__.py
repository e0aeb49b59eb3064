"""Members, roles, tokens and the rule "who may change what"."""
