"""RQ1: how well each model's answers align with each country's people, and with whom."""
