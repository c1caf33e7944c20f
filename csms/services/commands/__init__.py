"""Commands to charge points: the command service, the cross-node bus and its codec."""
