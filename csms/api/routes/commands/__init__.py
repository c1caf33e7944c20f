"""Commands to charge points: what every command route shares, and the command families."""
